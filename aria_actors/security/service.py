"""aria_security: secrets on a real OpenBao, unseal key held in SoftHSM, JWTs, RBAC, PKI, audit.

Every other service gets its secrets, keys and permissions from here. With no ``ARIA_OPENBAO_URL``
it starts an embedded OpenBao (:mod:`aria_actors.security.openbao`) and unseals it with a key that
only the SoftHSM token can unwrap; with the URL set it uses that server with a token or AppRole.

Guarantees and caveats
----------------------
- The RPC surface is the ``@rpc`` methods (``aria_actors.security.client.SecurityClient``); each
  takes the caller's :class:`~aria_actors.runtime.principal.Principal` first and is authorised
  against RBAC before it runs. Secret paths are ``services/<service>/...``.
- A service acting for itself (``Principal.internal("aria_x")``) has its KV, transit and
  database-credential calls run with its own short-lived OpenBao token, so OpenBao's policy (not
  Aria's code) refuses other services' paths with 403; it cannot name another ``service=``.
  Administrators run with aria_security's admin token (``service=`` may only narrow that).
- ``issue_token`` never mints a token stronger than its caller: only the local operator and a
  service acting for itself (aria_auth) choose the subject and roles, and nobody mints
  ``internal`` (see :func:`~aria_actors.security.tokens.mintable_claims`).
- Sealed, stopped or unreachable OpenBao: ``health()`` says ``degraded`` with the reason, and each
  call fails with ``OpenBaoUnavailable`` (503) within ``ARIA_SECURITY_REQUEST_TIMEOUT_S``.
- Every KV, transit, token, PKI and authorisation operation leaves an audit record (who: the
  caller's subject, never a name from the request; what, target, outcome; for ``authorize`` the
  subject asked about, apart; never a value). Token *verification* is audited only
  when it fails, so the hot path stays a local signature check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests

from aria_actors.runtime.errors import AriaError, BadRequest, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.security import metrics, policies
from aria_actors.security.audit import AuditLog, Lockout, check_events, outcome_of
from aria_actors.security.errors import InvalidToken, KeyNotFound, OpenBaoUnavailable, SecretAccessDenied, SecurityError
from aria_actors.security.hsm import SoftHsm
from aria_actors.security.openbao import EmbeddedOpenBao
from aria_actors.security.operations import ADMIN_ACTOR, OperationsMixin
from aria_actors.security.policies import service_scope
from aria_actors.security.rbac import DEFAULT_ROLES, Authorizer, check_action, check_principal, check_resource
from aria_actors.security.secrets import Secrets, make_client, openbao_errors
from aria_actors.security.spec import SPEC
from aria_actors.security.tokens import JwtSigner, JwtVerifier, mintable_claims

T = TypeVar("T")
log = logging.getLogger("aria.security")
RENEW_EVERY_S = 3600.0
JWKS_REFRESH_S = 30.0
MAX_AUDIT = 1000


class SecurityService(OperationsMixin, Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: Any = None) -> None:
        super().__init__(settings)
        self.config = config or settings.security  # the tree's [security] section
        self._bao: Any = None          # EmbeddedOpenBao when embedded
        self._client: Any = None       # hvac.Client with the admin token
        self._secrets: Any = None      # Secrets (admin)
        self._signer: Any = None
        self._verifier: Any = None
        self._jwks_at = 0.0
        self._renewed_at = 0.0
        self._audit: Any = None
        self._authz: Any = None
        self._lockout: Any = None
        self._scoped: dict[str, tuple[Any, float]] = {}
        self._started = False
        self._rotation_task: asyncio.Task | None = None
        self._repair: asyncio.Future | None = None  # a restart of the embedded OpenBao under way
        self._bao_lost_at: float | None = None
        self._repairs = 0
        self._repair_error = ""
        self._repair_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        await asyncio.to_thread(self._start_sync)
        self._started = True
        if self.config.rotation_check_s > 0:
            self._rotation_task = asyncio.create_task(self._rotation_loop(), name="aria-key-rotation")

    def _start_sync(self) -> None:
        cfg, home = self.config, self.settings.home
        url = self.settings.openbao_url
        if url:
            token = self._external_login(url)
        else:
            hsm = SoftHsm(home / "security" / "hsm", cfg.hsm_module, cfg.hsm_pin.get_secret_value())
            self._bao = EmbeddedOpenBao(home, hsm, port=cfg.openbao_port, timeout_s=cfg.start_timeout_s,
                                        request_timeout_s=cfg.request_timeout_s)
            try:
                token = self._bao.start()
            except BaseException:
                self._bao.stop()
                raise
            url = self._bao.url
        try:
            self._audit = AuditLog(home / "security" / "audit.log")
            self._authz = Authorizer({**DEFAULT_ROLES, **cfg.roles})  # a bad permission fails the start
            self._lockout = Lockout(cfg.lockout_threshold, cfg.lockout_window_s, cfg.lockout_s)
            self._connect(url, token)
        except BaseException:
            self._stop_sync()  # a failed start leaves no OpenBao running behind it
            raise
        self._audit.record(ADMIN_ACTOR, "start", url, "ok")

    def _connect(self, url: str, token: str) -> None:
        """The admin client and what stands on it (secrets, JWT signer, verifier keys)."""
        cfg = self.config
        client = make_client(url, token, cfg.request_timeout_s)
        secrets = Secrets(client)
        signer = JwtSigner(secrets, cfg.jwt_key, cfg.jwt_issuer, cfg.jwt_default_ttl_s,
                           cfg.jwt_max_ttl_s, cfg.jwt_leeway_s)
        signer.ensure_key()
        # Built first, swapped together: calls running meanwhile see the old set or the new one.
        old, self._client, self._secrets, self._signer = self._client, client, secrets, signer
        self._renewed_at = time.monotonic()
        self._scoped.clear()  # per-service clients point at the old URL
        self._refresh_jwks()
        if old is not None:
            old.adapter.close()

    def _external_login(self, url: str) -> str:
        cfg = self.config
        if cfg.openbao_token.get_secret_value():
            return cfg.openbao_token.get_secret_value()
        if cfg.approle_role_id:
            client = hvac.Client(url, timeout=cfg.request_timeout_s)
            with openbao_errors("AppRole login"):
                resp = client.auth.approle.login(cfg.approle_role_id,
                                                 cfg.approle_secret_id.get_secret_value())
            return resp["auth"]["client_token"]
        raise OpenBaoUnavailable("ARIA_OPENBAO_URL is set but neither ARIA_SECURITY_OPENBAO_TOKEN "
                                 "nor ARIA_SECURITY_APPROLE_ROLE_ID is", url=url)

    async def health(self) -> Health:
        if not self._started or self._client is None:
            return Health(Status.STARTING, "not started")
        health = await asyncio.to_thread(self._probe)
        if not self._started:  # stopped while probing: a dead process now is the stop's doing
            return Health(Status.STOPPED, "stopped")
        repairing = self._repair is not None and not self._repair.done()
        if self._bao is not None and (repairing or health.details.get("process_running") is False):
            return self._repairing(health)
        self._bao_lost_at = None
        if self._bao is not None:
            # The probe ran in a thread while a repair may have been finishing: the repair's count
            # is read now that it is known to be done, so a ready answer never shows a stale one.
            health.details["repairs"] = self._repairs
        return health

    def _repairing(self, health: Health) -> Health:
        """The embedded OpenBao died: restart it in the background, on the same storage and port,
        unsealed with the HSM-wrapped key (no secret is re-created). Degraded while that runs; past
        ``openbao_repair_grace_s`` without success, failed, so the supervisor restarts the service."""
        now = time.monotonic()
        if self._bao_lost_at is None:
            self._bao_lost_at = now
        if self._repair is None or self._repair.done():
            self._repair = asyncio.ensure_future(asyncio.to_thread(self._respawn_openbao))
        details = {**health.details, "repairs": self._repairs, "repair_error": self._repair_error}
        waited = now - self._bao_lost_at
        if waited > self.config.openbao_repair_grace_s:
            return Health(Status.FAILED, f"embedded OpenBao could not be restarted in {waited:.0f}s: "
                          f"{self._repair_error or 'still starting'}", details)
        return Health(Status.DEGRADED, "embedded OpenBao process is not running; restarting it", details)

    def _respawn_openbao(self) -> None:
        with self._repair_lock:
            proc = self._bao.process
            if not self._started or (proc is not None and proc.poll() is None):
                return  # stopped meanwhile, or a stale probe: another repair already brought it back
            try:
                self._bao.stop()  # reaps the dead process and its pid file
                token = self._bao.start()
                self._connect(self._bao.url, token)
            except Exception as exc:  # reported by health; the grace period turns it into a restart
                # Health is public (/v1/services): the type there, the text (paths, log tail) in the log.
                self._repair_error = type(exc).__name__
                log.error("restarting the embedded OpenBao failed: %s", exc)
                self._audit.record(ADMIN_ACTOR, "repair", self._bao.url, "error")
                return
        self._repairs += 1
        self._repair_error = ""
        metrics.OPENBAO_REPAIRS.inc()
        self._audit.record(ADMIN_ACTOR, "repair", self._bao.url, "ok")

    def _probe(self) -> Health:
        health = self._probe_openbao()
        metrics.OPENBAO_UP.set(1 if health.status is Status.READY else 0)
        return health

    def _probe_openbao(self) -> Health:
        details: dict[str, Any] = {
            "url": self._client.url, "embedded": self._bao is not None,
            "audit_records": self._audit.records, "jwt_kids": list(self._verifier.kids),
            "lockouts": self._lockout.locked_count, "lockout_alerts": self._lockout.alerts,
        }
        if self._bao is not None:
            proc = self._bao.process
            details["pid"] = proc.pid if proc else None
            details["repairs"] = self._repairs
            details["process_running"] = proc is not None and proc.poll() is None
            if not details["process_running"]:
                return Health(Status.DEGRADED, "embedded OpenBao process is not running", details)
        try:
            # shorter than the boot actor's probe timeout, so a hung OpenBao reads as degraded
            r = requests.get(f"{self._client.url}/v1/sys/health",
                             timeout=min(self.config.request_timeout_s, 2.0),
                             params={"sealedcode": "200", "uninitcode": "200", "standbyok": "true"})
            state = r.json()
        except (requests.RequestException, ValueError) as exc:
            return Health(Status.DEGRADED, f"OpenBao unreachable: {type(exc).__name__}", details)
        details.update(version=state.get("version"), sealed=state.get("sealed"))
        if not state.get("initialized"):
            return Health(Status.DEGRADED, "OpenBao is not initialised", details)
        if state.get("sealed"):
            return Health(Status.DEGRADED, "OpenBao is sealed", details)
        if time.monotonic() - self._renewed_at > RENEW_EVERY_S:
            # The admin token is periodic: renewing it hourly keeps a long-running Aria alive.
            try:
                self._client.auth.token.renew_self()
                self._renewed_at = time.monotonic()
            except Exception as exc:
                return Health(Status.DEGRADED, f"cannot renew the admin token: {type(exc).__name__}",
                              details)
        return Health(Status.READY, "OpenBao unsealed and answering", details)

    async def stop(self) -> None:
        self._started = False
        repair, self._repair = self._repair, None
        if repair is not None:
            with contextlib.suppress(Exception):
                await repair  # a thread cannot be cancelled: let it finish, then stop what it started
        task, self._rotation_task = self._rotation_task, None
        if task is not None:
            task.cancel()
            if task.get_loop() is asyncio.get_running_loop():  # a test may stop from another loop
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        self._secrets = None  # later calls fail fast with "not started"
        if self._audit is not None:
            self._audit.record(ADMIN_ACTOR, "stop", "", "ok")
            self._audit.close()
        if self._client is not None:
            self._client.adapter.close()
        if self._bao is not None:
            self._bao.stop()

    # -- plumbing -----------------------------------------------------------------------------
    def _ready(self) -> None:
        if self._secrets is None:
            raise OpenBaoUnavailable("aria_security is not started")

    async def _run(self, op: str, target: str, actor: str | None, fn: Callable[[], T]) -> T:
        """Run ``fn`` off the event loop and audit its outcome.

        Whatever OpenBao or its client raises becomes a typed Aria error here, for every operation
        (a sealed server: 503; a refusal: 403 or 400), not only for those that wrap their own calls.
        """
        self._ready()
        started = time.perf_counter()
        try:
            with openbao_errors(f"{op} {target}"):
                result = await asyncio.to_thread(fn)
        except Exception as exc:
            outcome = outcome_of(exc)
            self._audit.record(actor or ADMIN_ACTOR, op, target, outcome)
            metrics.OPERATIONS.labels(op, outcome).inc()
            raise
        metrics.LATENCY.labels(op).observe(time.perf_counter() - started)
        metrics.OPERATIONS.labels(op, "ok").inc()
        self._audit.record(actor or ADMIN_ACTOR, op, target, "ok")
        return result

    def _secrets_for(self, service: str | None) -> Any:
        """Admin Secrets, or a Secrets holding ``service``'s own short-lived OpenBao token."""
        if service is None:
            return self._secrets
        cached = self._scoped.get(service)
        if cached and cached[1] > time.monotonic():
            return cached[0]

        token = self._create_service_token(service)
        scoped = Secrets(make_client(self._client.url, token["token"], self.config.request_timeout_s))
        # refreshed at two thirds of its life so a cached token never expires mid-call
        self._scoped[service] = (scoped, time.monotonic() + token["ttl_s"] * 2 / 3)
        return scoped

    def _create_service_token(self, service: str) -> dict[str, Any]:
        if service not in policies.service_names():
            raise SecretAccessDenied(f"{service!r} is not a registered service", service=service)
        ttl = self.config.service_token_ttl_s
        with openbao_errors(f"create token for {service}", service=service):
            resp = self._client.auth.token.create(
                role_name=policies.SERVICE_ROLE, policies=[policies.service_policy_name(service)],
                ttl=f"{ttl}s", display_name=service, meta={"service": service},
                no_default_policy=True)
        return {"token": resp["auth"]["client_token"], "ttl_s": ttl,
                "policies": resp["auth"]["policies"], "accessor": resp["auth"]["accessor"]}

    # -- KV v2 --------------------------------------------------------------------------------
    async def _kv(self, op: str, target: str, caller: Principal, service: str | None,
                  fn: Callable[[Any], T]) -> T:
        """``fn(secrets)`` under the policy :func:`~aria_actors.security.policies.service_scope`
        picks for ``caller``, audited as the caller."""
        return await self._run(op, target, caller.subject,
                               lambda: fn(self._secrets_for(service_scope(caller, service))))

    @rpc("security:secret:read", scope="any", feature="openbao")
    async def kv_get(self, caller: Principal, path: str, version: int | None = None, *,
                     service: str | None = None) -> dict[str, Any]:
        return await self._kv("kv_get", path, caller, service, lambda s: s.kv_get(path, version))

    @rpc("security:secret:write", scope="any", feature="openbao")
    async def kv_put(self, caller: Principal, path: str, data: dict[str, Any], *, cas: int | None = None,
                     service: str | None = None) -> int:
        return await self._kv("kv_put", path, caller, service, lambda s: s.kv_put(path, data, cas))

    @rpc("security:secret:list", scope="any", feature="openbao")
    async def kv_list(self, caller: Principal, prefix: str = "", *, service: str | None = None) -> list[str]:
        return await self._kv("kv_list", prefix, caller, service, lambda s: s.kv_list(prefix))

    @rpc("security:secret:delete", scope="any", feature="openbao")
    async def kv_delete(self, caller: Principal, path: str, versions: list[int] | None = None, *,
                        service: str | None = None) -> None:
        await self._kv("kv_delete", path, caller, service, lambda s: s.kv_delete(path, versions))

    @rpc("security:secret:write", scope="any", feature="openbao")
    async def kv_undelete(self, caller: Principal, path: str, versions: list[int], *,
                          service: str | None = None) -> None:
        await self._kv("kv_undelete", path, caller, service, lambda s: s.kv_undelete(path, versions))

    @rpc("security:secret:destroy", scope="any", feature="openbao")
    async def kv_destroy(self, caller: Principal, path: str, *, service: str | None = None) -> None:
        await self._kv("kv_destroy", path, caller, service, lambda s: s.kv_destroy(path))

    @rpc("security:secret:read", scope="any", feature="openbao")
    async def kv_versions(self, caller: Principal, path: str, *, service: str | None = None) -> dict[str, Any]:
        return await self._kv("kv_versions", path, caller, service, lambda s: s.kv_versions(path))

    # -- transit ------------------------------------------------------------------------------
    def _with_key(self, key: str, service: str | None, fn: Callable[[Any], T]) -> T:
        """Run ``fn(secrets)``, creating a missing transit key once (admin) if the name is allowed."""
        secrets = self._secrets_for(service)
        try:
            return fn(secrets)
        except (KeyNotFound, SecretAccessDenied):
            if service is not None and not (key == service or key.startswith(service + "-")):
                raise
            try:
                self._secrets.read_key(key)
                exists = True
            except KeyNotFound:
                exists = False
            if exists:
                raise  # the key exists: the refusal stands
        self._secrets.ensure_key(key)
        return fn(secrets)

    async def _transit(self, op: str, key_name: str, caller: Principal, service: str | None,
                       fn: Callable[[Any], T], create: bool = False) -> T:
        """``fn(secrets)`` on a transit key under the caller's policy (see :meth:`_kv`); with
        ``create`` a missing key the policy allows is made first (see :meth:`_with_key`)."""
        def _call() -> T:
            scope = service_scope(caller, service)
            return self._with_key(key_name, scope, fn) if create else fn(self._secrets_for(scope))

        return await self._run(op, key_name, caller.subject, _call)

    @rpc("security:transit:encrypt", scope="any", feature="openbao")
    async def encrypt(self, caller: Principal, key_name: str, plaintext: bytes, *,
                      context: bytes | None = None, service: str | None = None) -> str:
        return await self._transit("encrypt", key_name, caller, service,
                                   lambda s: s.encrypt(key_name, plaintext, context), create=True)

    @rpc("security:transit:decrypt", scope="any", feature="openbao")
    async def decrypt(self, caller: Principal, key_name: str, ciphertext: str, *,
                      context: bytes | None = None, service: str | None = None) -> bytes:
        return await self._transit("decrypt", key_name, caller, service,
                                   lambda s: s.decrypt(key_name, ciphertext, context))

    @rpc("security:transit:rewrap", scope="any", feature="openbao")
    async def rewrap(self, caller: Principal, key_name: str, ciphertext: str, *,
                     service: str | None = None) -> str:
        return await self._transit("rewrap", key_name, caller, service,
                                   lambda s: s.rewrap(key_name, ciphertext))

    @rpc("security:transit:datakey", scope="any", feature="openbao")
    async def datakey(self, caller: Principal, key_name: str, bits: int = 256, *,
                      service: str | None = None) -> dict[str, Any]:
        return await self._transit("datakey", key_name, caller, service,
                                   lambda s: s.datakey(key_name, bits), create=True)

    @rpc("security:key:rotate", scope="any", feature="secret-rotation")
    async def rotate_key(self, caller: Principal, key_name: str) -> int:
        version = await self._run("rotate_key", key_name, caller.subject,
                                  lambda: self._secrets.rotate_key(key_name))
        metrics.ROTATIONS.labels("manual").inc()
        return version

    @rpc("security:secret:token", scope="any", feature="zero-trust-policies")
    async def service_token(self, caller: Principal, service: str) -> dict[str, Any]:
        """A short-lived OpenBao token limited to ``service``'s policy, plus the URL to use it."""
        _own_service_only(caller, service)
        result = await self._run("service_token", service, caller.subject,
                                 lambda: self._create_service_token(service))
        return {**result, "url": self._client.url}

    # -- JWT ----------------------------------------------------------------------------------
    def _refresh_jwks(self) -> None:
        self._verifier = JwtVerifier(self._signer.jwks(), self.config.jwt_issuer,
                                     self.config.jwt_leeway_s)
        self._jwks_at = time.monotonic()

    async def _issue(self, actor: str, subject: str, claims: dict[str, Any] | None,
                     ttl_s: int | None) -> str:
        def _sign() -> str:
            if time.monotonic() - self._jwks_at > JWKS_REFRESH_S:
                self._refresh_jwks()  # another process may have rotated the key
            return self._signer.issue(subject, claims, ttl_s)

        return await self._run("issue_token", subject, actor, _sign)

    @rpc("security:token:issue", scope="own", feature="jwt")
    async def issue_token(self, caller: Principal, subject: str, claims: dict[str, Any] | None = None,
                          ttl_s: int | None = None) -> str:
        """A signed JWT for ``subject``; never stronger than the caller (see ``mintable_claims``)."""
        self._ready()
        try:
            allowed = mintable_claims(caller, subject, claims)
        except AriaError as exc:
            self._audit.record(caller.subject, "issue_token", str(subject)[:256], outcome_of(exc))
            raise
        return await self._issue(caller.subject, subject, allowed, ttl_s)

    @rpc(feature="jwt")
    async def verify_token(self, caller: Principal, token: str) -> dict[str, Any]:
        self._ready()
        try:
            return self._verifier.verify(token)
        except InvalidToken as exc:
            kid = exc.fields.get("kid")
            if kid and time.monotonic() - self._jwks_at > 1.0:  # a rotation we have not seen yet
                await asyncio.to_thread(self._refresh_jwks)
                try:
                    return self._verifier.verify(token)
                except InvalidToken as again:
                    exc = again

            metrics.TOKEN_FAILURES.inc()
            self._audit.record(caller.subject, "verify_token", "", outcome_of(exc))
            raise exc from None

    @rpc(public=True, features=("jwt", "auth-middleware"))
    async def jwks(self, caller: Principal) -> dict[str, Any]:
        self._ready()
        if time.monotonic() - self._jwks_at > JWKS_REFRESH_S:
            await asyncio.to_thread(self._refresh_jwks)
        return self._verifier.jwks

    def _rotate_jwt(self) -> int:
        version = self._signer.rotate()
        self._refresh_jwks()
        return version

    @rpc("security:key:rotate", scope="any", features=("secret-rotation", "jwt"))
    async def rotate_jwt_key(self, caller: Principal) -> int:
        version = await self._run("rotate_jwt_key", self.config.jwt_key, caller.subject, self._rotate_jwt)
        metrics.ROTATIONS.labels("manual").inc()
        return version

    @rpc("security:token:issue", scope="any", features=("jwt", "zero-trust-policies"))
    async def issue_service_token(self, caller: Principal, service: str, ttl_s: int = 300) -> str:
        """A short-lived JWT a service attaches to its calls to other services (role ``service``)."""
        _own_service_only(caller, service)
        if service not in policies.service_names():
            raise SecretAccessDenied(f"{service!r} is not a registered service", service=service)
        return await self._issue(caller.subject, f"svc:{service}",
                                 {"roles": ["service"], "svc": service}, ttl_s)

    # -- RBAC ---------------------------------------------------------------------------------
    @rpc("security:policy:read", features=("rbac", "intrusion-detection"))
    async def authorize(self, caller: Principal, principal: dict[str, Any], action: str,
                        resource: dict[str, Any] | None = None) -> bool:
        """Would RBAC let ``principal`` (token claims) do ``action`` on ``resource``?

        BadRequest (400) for a malformed principal, action or resource. The audit record's
        ``actor`` is the caller; the principal asked about is its ``subject``, so nobody can write
        an audit record in another's name.
        """
        self._ready()
        try:
            sub = check_principal(principal)[0]
            kind = check_resource(resource).get("type") or ""
            target = f"{check_action(action)} {kind}".strip()
        except AriaError as exc:
            self._audit.record(caller.subject, "authorize", "", outcome_of(exc))
            raise
        if sub and self._lockout.locked(sub):
            metrics.AUTHZ.labels("locked_out").inc()
            self._audit.record(caller.subject, "authorize", target, "locked_out", subject=sub)
            return False
        decision = self._authz.decide(principal, action, resource)
        # Only a service deciding for its callers, or a caller asking about itself, counts toward
        # a lockout: otherwise anyone allowed to ask could lock any other subject out.
        counts = caller.is_internal or sub == caller.subject
        if not decision.allowed and sub and counts and self._lockout.denied(sub):
            metrics.LOCKOUTS.inc()
            self._audit.record(caller.subject, "lockout", target, "alert", subject=sub)
        outcome = "ok" if decision.allowed else "denied"
        metrics.AUTHZ.labels(outcome).inc()
        self._audit.record(caller.subject, "authorize", target, outcome, subject=sub)
        return decision.allowed

    @rpc("security:policy:read", feature="rbac")
    async def roles(self, caller: Principal) -> dict[str, list[str]]:
        """The role table RBAC decides with (role -> permissions), e.g. to validate role names."""
        self._ready()
        return {role: list(perms) for role, perms in self._authz.roles.items()}

    # -- audit --------------------------------------------------------------------------------
    @rpc("security:audit:read", scope="any", features=("audit-log", "intrusion-detection"))
    async def audit(self, caller: Principal, limit: int = 100, *, op: str | None = None,
                    actor: str | None = None, outcome: str | None = None) -> list[dict[str, Any]]:
        """The newest audit records first (at most ``limit``, 1-1000), those matching ``op``
        (``lockout``: intrusion alerts), ``actor`` and ``outcome`` when given. Reading is audited."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_AUDIT}", limit=repr(limit)[:40])
        for name, value in (("op", op), ("actor", actor), ("outcome", outcome)):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 120
                                      or not value.isprintable()):
                raise BadRequest(f"{name} must be 1-120 printable characters", field=name)
        return await self._run("audit_read", op or "", caller.subject,
                               lambda: self._audit.tail(limit, op=op, actor=actor, outcome=outcome))

    @rpc("security:audit:write", scope="any", feature="audit-log")
    async def record_events(self, caller: Principal, events: list[dict[str, Any]]) -> int:
        """Write another service's refusals into the audit log, as that service: each event is
        ``{"op", "target", "outcome", "subject"}`` (the actor is always the caller). Services hold
        this for themselves (their internal identity); a service *token* does not. All or none:
        a malformed event writes nothing. Returns how many were written."""
        checked = check_events(events)
        self._ready()
        for op, target, outcome, subject in checked:
            self._audit.record(caller.subject, op, target, outcome, subject=subject)
        return len(checked)

    # -- operations ---------------------------------------------------------------------------
    @rpc("security:vault:seal", scope="any", feature="openbao")
    async def seal(self, caller: Principal) -> None:
        """Emergency: seal OpenBao now. Every secret call fails until Aria restarts (or unseal())."""
        await self._run("seal", "sys/seal", caller.subject, lambda: self._client.sys.seal())

    @rpc("security:vault:unseal", scope="any", features=("softhsm-unseal", "openbao"))
    async def unseal(self, caller: Principal) -> None:
        """Unseal the embedded OpenBao again with the HSM-wrapped key."""
        if self._bao is None:
            raise SecurityError("unseal() needs the embedded OpenBao; unseal an external one yourself")
        await self._run("unseal", "sys/unseal", caller.subject, self._bao.unseal)


def _own_service_only(caller: Principal, service: str) -> None:
    """A service acting for itself gets credentials for itself only, never another service's."""
    if caller.is_internal and caller.subject not in (f"svc:{service}", f"svc:{SPEC.name}"):
        raise Forbidden(f"{caller.subject} may not get credentials of {service!r}", service=service)
