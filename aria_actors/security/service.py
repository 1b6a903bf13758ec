"""aria_security: secrets on a real OpenBao, unseal key held in SoftHSM, JWTs, RBAC, PKI, audit.

Every other service gets its secrets, keys and permissions from here. With no ``ARIA_OPENBAO_URL``
it starts an embedded OpenBao (:mod:`aria_actors.security.openbao`) and unseals it with a key that
only the SoftHSM token can unwrap; with the URL set it uses that server with a token or AppRole.

Guarantees and caveats
----------------------
- Methods other services call (``deps["aria_security"].call(...)``): ``kv_get``, ``kv_put``,
  ``kv_list``, ``kv_delete``, ``kv_undelete``, ``kv_destroy``, ``kv_versions``, ``encrypt``,
  ``decrypt``, ``rewrap``, ``datakey``, ``issue_token``, ``verify_token``, ``jwks``,
  ``authorize``, ``service_token``. Secret paths are ``services/<service>/...``.
- Pass ``service="<your name>"`` to a KV/transit method and the call runs with that service's own
  OpenBao token, so OpenBao's policy (not Aria's code) refuses other services' paths with 403.
  Without it the call runs with aria_security's admin token: the runtime does not tell a service
  who its caller is yet, so the scoping is opt-in; ``service_token(name)`` hands a service its
  own short-lived OpenBao token to talk to OpenBao directly.
- Sealed, stopped or unreachable OpenBao: ``health()`` says ``degraded`` with the reason, and each
  call fails with ``OpenBaoUnavailable`` (503) within ``ARIA_SECURITY_REQUEST_TIMEOUT_S``.
- Every KV, transit, token, PKI and authorisation operation leaves an audit record (who, what,
  target, outcome; never a value). Token *verification* is audited only when it fails, so the
  hot path stays a local signature check.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, ServiceSpec, Status
from aria_actors.security.audit import outcome_of
from aria_actors.security.operations import ADMIN_ACTOR, OperationsMixin

FEATURES = (
    "openbao",
    "softhsm-unseal",
    "secret-rotation",
    "jwt",
    "rbac",
    "auth-middleware",
    "zero-trust-policies",
    "pki",
    "audit-log",
    "intrusion-detection",
    "security-metrics",
)

SPEC = ServiceSpec(
    name="aria_security",
    layer=1,
    depends_on=(),
    kind="actor",
    num_cpus=0.0,
    # each one is exercised against a real OpenBao + SoftHSM in tests/integration/security
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit",
    entrypoint="aria_actors.security.service:SecurityService",
)

T = TypeVar("T")
RENEW_EVERY_S = 3600.0
JWKS_REFRESH_S = 30.0


class SecurityService(OperationsMixin, Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: Any = None) -> None:
        super().__init__(settings)
        from aria_actors.security.config import SecurityConfig

        self.config = config or SecurityConfig()
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

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        await asyncio.to_thread(self._start_sync)
        self._started = True
        if self.config.rotation_check_s > 0:
            self._rotation_task = asyncio.create_task(self._rotation_loop(), name="aria-key-rotation")

    def _start_sync(self) -> None:
        from aria_actors.security.audit import AuditLog, Lockout
        from aria_actors.security.rbac import Authorizer
        from aria_actors.security.secrets import Secrets, make_client
        from aria_actors.security.tokens import JwtSigner

        cfg, home = self.config, self.settings.home
        url = self.settings.openbao_url
        if url:
            token = self._external_login(url)
        else:
            from aria_actors.security.hsm import SoftHsm
            from aria_actors.security.openbao import EmbeddedOpenBao

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
            self._client = make_client(url, token, cfg.request_timeout_s)
            self._renewed_at = time.monotonic()
            self._secrets = Secrets(self._client)
            self._audit = AuditLog(home / "security" / "audit.log")
            from aria_actors.security.rbac import DEFAULT_ROLES

            self._authz = Authorizer({**DEFAULT_ROLES, **cfg.roles})  # a bad permission fails the start
            self._lockout = Lockout(cfg.lockout_threshold, cfg.lockout_window_s, cfg.lockout_s)
            self._signer = JwtSigner(self._secrets, cfg.jwt_key, cfg.jwt_issuer, cfg.jwt_default_ttl_s,
                                     cfg.jwt_max_ttl_s, cfg.jwt_leeway_s)
            self._signer.ensure_key()
            self._refresh_jwks()
        except BaseException:
            self._stop_sync()  # a failed start leaves no OpenBao running behind it
            raise
        self._audit.record(ADMIN_ACTOR, "start", url, "ok")

    def _external_login(self, url: str) -> str:
        import hvac

        from aria_actors.security.errors import OpenBaoUnavailable
        from aria_actors.security.secrets import openbao_errors

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
        return await asyncio.to_thread(self._probe)

    def _probe(self) -> Health:
        from aria_actors.security import metrics

        health = self._probe_openbao()
        metrics.OPENBAO_UP.set(1 if health.status is Status.READY else 0)
        return health

    def _probe_openbao(self) -> Health:
        import requests

        details: dict[str, Any] = {
            "url": self._client.url, "embedded": self._bao is not None,
            "audit_records": self._audit.records, "jwt_kids": list(self._verifier.kids),
            "lockouts": self._lockout.locked_count, "lockout_alerts": self._lockout.alerts,
        }
        if self._bao is not None:
            proc = self._bao.process
            details["pid"] = proc.pid if proc else None
            if proc is None or proc.poll() is not None:
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
            from aria_actors.security.errors import OpenBaoUnavailable

            raise OpenBaoUnavailable("aria_security is not started")

    async def _run(self, op: str, target: str, actor: str | None, fn: Callable[[], T]) -> T:
        """Run ``fn`` off the event loop and audit its outcome."""
        from aria_actors.security import metrics

        self._ready()
        started = time.perf_counter()
        try:
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
        from aria_actors.security.secrets import Secrets, make_client

        token = self._create_service_token(service)
        scoped = Secrets(make_client(self._client.url, token["token"], self.config.request_timeout_s))
        # refreshed at two thirds of its life so a cached token never expires mid-call
        self._scoped[service] = (scoped, time.monotonic() + token["ttl_s"] * 2 / 3)
        return scoped

    def _create_service_token(self, service: str) -> dict[str, Any]:
        from aria_actors.security import policies
        from aria_actors.security.errors import SecretAccessDenied
        from aria_actors.security.secrets import openbao_errors

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
    async def kv_get(self, path: str, version: int | None = None, *, service: str | None = None
                     ) -> dict[str, Any]:
        return await self._run("kv_get", path, service,
                               lambda: self._secrets_for(service).kv_get(path, version))

    async def kv_put(self, path: str, data: dict[str, Any], *, cas: int | None = None,
                     service: str | None = None) -> int:
        return await self._run("kv_put", path, service,
                               lambda: self._secrets_for(service).kv_put(path, data, cas))

    async def kv_list(self, prefix: str = "", *, service: str | None = None) -> list[str]:
        return await self._run("kv_list", prefix, service,
                               lambda: self._secrets_for(service).kv_list(prefix))

    async def kv_delete(self, path: str, versions: list[int] | None = None, *,
                        service: str | None = None) -> None:
        await self._run("kv_delete", path, service,
                        lambda: self._secrets_for(service).kv_delete(path, versions))

    async def kv_undelete(self, path: str, versions: list[int], *, service: str | None = None) -> None:
        await self._run("kv_undelete", path, service,
                        lambda: self._secrets_for(service).kv_undelete(path, versions))

    async def kv_destroy(self, path: str, *, service: str | None = None) -> None:
        await self._run("kv_destroy", path, service,
                        lambda: self._secrets_for(service).kv_destroy(path))

    async def kv_versions(self, path: str, *, service: str | None = None) -> dict[str, Any]:
        return await self._run("kv_versions", path, service,
                               lambda: self._secrets_for(service).kv_versions(path))

    # -- transit ------------------------------------------------------------------------------
    def _with_key(self, key: str, service: str | None, fn: Callable[[Any], T]) -> T:
        """Run ``fn(secrets)``, creating a missing transit key once (admin) if the name is allowed."""
        from aria_actors.security.errors import KeyNotFound, SecretAccessDenied

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

    async def encrypt(self, key_name: str, plaintext: bytes, *, context: bytes | None = None,
                      service: str | None = None) -> str:
        return await self._run("encrypt", key_name, service, lambda: self._with_key(
            key_name, service, lambda s: s.encrypt(key_name, plaintext, context)))

    async def decrypt(self, key_name: str, ciphertext: str, *, context: bytes | None = None,
                      service: str | None = None) -> bytes:
        return await self._run("decrypt", key_name, service,
                               lambda: self._secrets_for(service).decrypt(key_name, ciphertext, context))

    async def rewrap(self, key_name: str, ciphertext: str, *, service: str | None = None) -> str:
        return await self._run("rewrap", key_name, service,
                               lambda: self._secrets_for(service).rewrap(key_name, ciphertext))

    async def datakey(self, key_name: str, bits: int = 256, *, service: str | None = None
                      ) -> dict[str, Any]:
        return await self._run("datakey", key_name, service, lambda: self._with_key(
            key_name, service, lambda s: s.datakey(key_name, bits)))

    async def rotate_key(self, key_name: str) -> int:
        from aria_actors.security import metrics

        version = await self._run("rotate_key", key_name, None,
                                  lambda: self._secrets.rotate_key(key_name))
        metrics.ROTATIONS.labels("manual").inc()
        return version

    async def service_token(self, service: str) -> dict[str, Any]:
        """A short-lived OpenBao token limited to ``service``'s policy, plus the URL to use it."""
        result = await self._run("service_token", service, None,
                                 lambda: self._create_service_token(service))
        return {**result, "url": self._client.url}

    # -- JWT ----------------------------------------------------------------------------------
    def _refresh_jwks(self) -> None:
        from aria_actors.security.tokens import JwtVerifier

        self._verifier = JwtVerifier(self._signer.jwks(), self.config.jwt_issuer,
                                     self.config.jwt_leeway_s)
        self._jwks_at = time.monotonic()

    async def issue_token(self, subject: str, claims: dict[str, Any] | None = None,
                          ttl_s: int | None = None) -> str:
        def _issue() -> str:
            if time.monotonic() - self._jwks_at > JWKS_REFRESH_S:
                self._refresh_jwks()  # another process may have rotated the key
            return self._signer.issue(subject, claims, ttl_s)

        return await self._run("issue_token", subject, None, _issue)

    async def verify_token(self, token: str) -> dict[str, Any]:
        from aria_actors.security.errors import InvalidToken

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
            from aria_actors.security import metrics

            metrics.TOKEN_FAILURES.inc()
            self._audit.record("anonymous", "verify_token", "", outcome_of(exc))
            raise exc from None

    async def jwks(self) -> dict[str, Any]:
        self._ready()
        if time.monotonic() - self._jwks_at > JWKS_REFRESH_S:
            await asyncio.to_thread(self._refresh_jwks)
        return self._verifier.jwks

    def _rotate_jwt(self) -> int:
        version = self._signer.rotate()
        self._refresh_jwks()
        return version

    async def rotate_jwt_key(self) -> int:
        from aria_actors.security import metrics

        version = await self._run("rotate_jwt_key", self.config.jwt_key, None, self._rotate_jwt)
        metrics.ROTATIONS.labels("manual").inc()
        return version

    async def issue_service_token(self, service: str, ttl_s: int = 300) -> str:
        """A short-lived JWT a service attaches to its calls to other services (role ``service``)."""
        from aria_actors.security import policies
        from aria_actors.security.errors import SecretAccessDenied

        if service not in policies.service_names():
            raise SecretAccessDenied(f"{service!r} is not a registered service", service=service)
        return await self.issue_token(f"svc:{service}", {"roles": ["service"], "svc": service}, ttl_s)

    # -- RBAC ---------------------------------------------------------------------------------
    async def authorize(self, principal: dict[str, Any], action: str,
                        resource: dict[str, Any] | None = None) -> bool:
        self._ready()
        sub = str(principal.get("sub", "")) if isinstance(principal, dict) else ""
        target = f"{action} {resource.get('type', '') if isinstance(resource, dict) else ''}".strip()
        from aria_actors.security import metrics

        if sub and self._lockout.locked(sub):
            metrics.AUTHZ.labels("locked_out").inc()
            self._audit.record(sub, "authorize", target, "locked_out")
            return False
        decision = self._authz.decide(principal, action, resource)
        if not decision.allowed and sub and self._lockout.denied(sub):
            metrics.LOCKOUTS.inc()
            self._audit.record(sub, "lockout", target, "alert")
        outcome = "ok" if decision.allowed else "denied"
        metrics.AUTHZ.labels(outcome).inc()
        self._audit.record(sub or "anonymous", "authorize", target, outcome)
        return decision.allowed

    async def roles(self) -> dict[str, list[str]]:
        """The role table RBAC decides with (role -> permissions), e.g. to validate role names."""
        self._ready()
        return {role: list(perms) for role, perms in self._authz.roles.items()}

    # -- operations ---------------------------------------------------------------------------
    async def seal(self) -> None:
        """Emergency: seal OpenBao now. Every secret call fails until Aria restarts (or unseal())."""
        await self._run("seal", "sys/seal", None, lambda: self._client.sys.seal())

    async def unseal(self) -> None:
        """Unseal the embedded OpenBao again with the HSM-wrapped key."""
        from aria_actors.security.errors import SecurityError

        if self._bao is None:
            raise SecurityError("unseal() needs the embedded OpenBao; unseal an external one yourself")
        await self._run("unseal", "sys/unseal", None, self._bao.unseal)
