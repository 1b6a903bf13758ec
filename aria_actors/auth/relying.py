"""Aria as an OpenID Connect relying party: logins through outside providers named in settings.

Flow (authorization code with PKCE, OpenID Connect Core 3.1)::

    GET /v1/auth/sso/<provider>/login     -> sso_begin: state, nonce, PKCE verifier stored; 302 to the provider
    (the user authenticates at the provider, which sends the browser back)
    GET /v1/auth/sso/<provider>/callback  -> sso_complete: state spent, code exchanged, ID token verified,
                                             account found by its link (or created), Aria tokens

Guarantees and caveats
----------------------
- Providers come from settings only (``[auth] sso_providers``): a request names one by name,
  never by URL. Discovery and JWKS come from the configured issuer (:mod:`relying_http`), whose
  discovery document must name that issuer exactly.
- State, nonce and PKCE verifier (S256) live server-side (``sso_states``), for
  ``sso_state_ttl_s``; a state is spent by its first callback (a second one is
  ``sso-invalid-state``). With ``sso_bind_browser`` the login is also bound to the browser that
  began it: a cookie named after the state holds a secret whose digest the state row keeps, and
  a callback without it is refused before the state is spent.
- The ID token is verified by :func:`relying_tokens.verify_id_token` (signature with the
  provider's JWKS, exact ``iss``, ``aud``/``azp``, ``exp``/``iat``/``nbf`` with ``sso_leeway_s``,
  algorithm allow-list, never ``none``), then checked against replay (the same issuer + ``jti``,
  or nonce, is accepted once: ``sso_seen_tokens``), then its nonce against the login's.
- Accounts are found only by the provider's own link of the verified (issuer, ``sub``) in
  ``sso_links``, never by email: an existing local account with the same email is not taken
  over. Links are per configured provider (migration 0011): two providers of one issuer (one
  ``client_id`` per tenant) never find each other's users, and a link whose user is not of the
  provider's tenant (the setting changed since) is refused (``sso-tenant-mismatch``). Renaming a
  provider orphans its links: its users are created again (``jit``) or refused. With no link,
  ``jit`` creates a user (username from ``preferred_username`` or the email, made unique; no
  usable password) in the provider's tenant with its ``default_role`` and the mapped roles;
  without ``jit`` the login is ``sso-not-provisioned``. Two first logins of one identity through
  one provider at once make one user (an advisory lock per provider and identity).
- The role rules run at every login: roles they name follow the claims (granted or taken away);
  other roles (an administrator's grants) stay. The session's ``amr`` is ``["sso"]``; the
  provider's authentication stands in for Aria's password and TOTP.
- Every refusal of a login is audited in aria_security: op ``sso-login``, subject
  ``sso:<provider>``, the problem's slug (and reason) as the target, outcome ``denied``
  (``aria security audit --op sso-login --outcome denied``).
- The client secret is read from aria_security's KV (``services/aria_auth/sso/<name>``, field
  ``client_secret``) at each code exchange, so a rotated secret is used at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from aria_actors.auth import access, relying_store, store
from aria_actors.auth import users as fields
from aria_actors.auth.accounts import ME, _confine
from aria_actors.auth.errors import AccountDisabled, AuthNotStarted, InvalidUser
from aria_actors.auth.relying_errors import (
    SsoError,
    SsoInvalidIdToken,
    SsoInvalidState,
    SsoLastLink,
    SsoLinkNotFound,
    SsoMisconfigured,
    SsoNotProvisioned,
    SsoProviderDenied,
    SsoTenantMismatch,
    SsoUnknownProvider,
)
from aria_actors.auth.relying_http import ProviderHttp
from aria_actors.auth.relying_settings import NAME, SsoProvider, parse_providers
from aria_actors.auth.relying_tokens import (
    check_nonce,
    display_name_of,
    email_of,
    replay_key,
    username_base,
    username_candidates,
    verify_id_token,
)
from aria_actors.runtime.errors import AriaError, Forbidden
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    import asyncio

    from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.auth.sso")
FEATURE = "oauth2-oidc"
NO_PASSWORD = "!sso"  # not an argon2 hash: no password verifies against it
SECRET_FIELD = "client_secret"
AMR = ["sso"]
SEEN_MAX_S = 7 * 86400  # longest an accepted ID token is remembered for the replay check
COOKIE_PREFIX = "aria_sso_"
_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]+")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def cookie_name(state: str) -> str:
    """The browser cookie that binds the login of ``state`` (one per login: parallel logins work)."""
    return COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


def secret_path(name: str) -> str:
    """Where aria_security keeps a provider's client secret (aria_auth's own KV area)."""
    return f"services/aria_auth/sso/{name}"


def _now() -> datetime:
    return datetime.now(UTC)


def _bounded(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() else None


def _link_public(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "user_id": str(row["user_id"]), "provider": row["provider"],
            "issuer": row["issuer"], "subject": row["subject"], "email": row["email"],
            "created_at": row["created_at"].isoformat(),
            "last_login_at": row["last_login_at"].isoformat() if row["last_login_at"] else None}


class RelyingParty:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    # set by Accounts, which also provides _acquire(), _tx(), _run() and _user()
    config: Any
    roles: frozenset[str]
    _security: SecurityClient
    _sso_providers: dict[str, SsoProvider] | None = None
    _sso_http: ProviderHttp | None = None
    _sso_pruner: asyncio.Task[None] | None = None

    async def _start_relying(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        providers = parse_providers(self.config.sso_providers, self.config.sso_redirect_base)
        for provider in providers.values():
            unknown = sorted(provider.all_roles() - self.roles)
            if unknown:
                raise SsoMisconfigured(f"[auth] sso_providers {provider.name!r} names unknown roles: "
                                       f"{', '.join(unknown)}", setting="sso_providers")
        self._sso_http = ProviderHttp(timeout_s=self.config.sso_http_timeout_s,
                                      max_bytes=self.config.sso_max_response_bytes,
                                      ttl_s=self.config.sso_metadata_ttl_s)
        self._sso_providers = providers
        if providers:
            self._sso_pruner = periodic(self.config.prune_interval_s, self._prune_relying,
                                        what="pruning SSO login states", log=log)

    async def _stop_relying(self) -> None:
        """Called by the service's stop before the pool closes."""
        await stop_task(self._sso_pruner)
        self._sso_pruner = None
        http, self._sso_http = self._sso_http, None
        if http is not None:
            await http.close()

    async def _prune_relying(self) -> int:
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            return await relying_store.prune(conn, self.config.prune_keep_s)

    # -- providers ------------------------------------------------------------------------------
    def _providers(self) -> dict[str, SsoProvider]:
        if self._sso_providers is None:
            raise AuthNotStarted()
        return self._sso_providers

    def _provider(self, name: object) -> SsoProvider:
        provider = self._providers().get(name) if isinstance(name, str) else None
        if provider is None:
            raise SsoUnknownProvider(provider=str(name)[:64])
        return provider

    def _http(self) -> ProviderHttp:
        if self._sso_http is None:
            raise AuthNotStarted()
        return self._sso_http

    def _redirect_uri(self, provider: SsoProvider) -> str:
        return f"{self.config.sso_redirect_base.rstrip('/')}/v1/auth/sso/{provider.name}/callback"

    @rpc(public=True, feature=FEATURE)
    async def sso_providers(self, caller: Principal) -> list[str]:
        """The names of the outside providers one may log in through."""
        return sorted(self._providers())

    # -- login ----------------------------------------------------------------------------------
    @rpc(public=True, feature=FEATURE)
    async def sso_begin(self, caller: Principal, provider: str) -> dict[str, Any]:
        """Begin a login through ``provider``: the URL to send the browser to, and (with
        ``sso_bind_browser``) the cookie that binds the login to that browser."""
        try:
            chosen = self._provider(provider)
            endpoint = (await self._http().discovery(chosen))["authorization_endpoint"]
        except AriaError as exc:
            await self._audit_refusal(provider, exc)
            raise
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        binding = generate_token(43) if self.config.sso_bind_browser else None
        ttl = self.config.sso_state_ttl_s
        await self._run(lambda conn: relying_store.insert_state(  # type: ignore[attr-defined]
            conn, _digest(state), chosen.name, nonce, verifier, _digest(binding) if binding else None, ttl),
            tenant=None)
        url = add_params_to_uri(endpoint, [
            ("response_type", "code"), ("client_id", chosen.client_id), ("redirect_uri", self._redirect_uri(chosen)),
            ("scope", " ".join(chosen.scopes)), ("state", state), ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)), ("code_challenge_method", "S256")])
        cookie = {"name": cookie_name(state), "value": binding, "path": f"/v1/auth/sso/{chosen.name}/callback",
                  "secure": self.config.sso_redirect_base.startswith("https://")} if binding else None
        return {"url": url, "provider": chosen.name, "expires_in": ttl, "cookie": cookie}

    @rpc(public=True, feature=FEATURE)
    async def sso_complete(self, caller: Principal, provider: str, state: str, code: str | None = None, *,
                           error: str | None = None, binding: str | None = None, user_agent: str | None = None,
                           address: str | None = None) -> dict[str, Any]:
        """Finish a login: the provider's callback (``code`` and ``state``, or its ``error``) -> Aria tokens.

        ``binding`` is the value of the login's cookie (:func:`cookie_name`). Refusals are
        :class:`~aria_actors.auth.relying_errors.SsoError` problems, each audited.
        """
        try:
            return await self._complete(provider, state, code, error, binding, user_agent, address)
        except (SsoError, AccountDisabled) as exc:
            await self._audit_refusal(provider, exc)
            raise

    async def _complete(self, provider_name: str, state: str, code: str | None, error: str | None,
                        binding: str | None, user_agent: str | None, address: str | None) -> dict[str, Any]:
        provider = self._provider(provider_name)
        login = await self._spend_state(provider, state, binding)
        if error is not None:
            raise SsoProviderDenied(error=_ERROR_CODE.sub("-", str(error))[:64] or "unknown")
        code = _bounded(code, 2048)
        if code is None:
            raise SsoProviderDenied("the provider sent no authorization code back", error="missing-code")
        answer = await self._http().exchange_code(provider, code=code, redirect_uri=self._redirect_uri(provider),
                                                  verifier=login["verifier"],
                                                  client_secret=await self._client_secret(provider))
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SsoInvalidIdToken("the provider's token answer holds no ID token", reason="missing")
        claims = await self._verify(provider, id_token)
        # kept while the token could pass the expiry check; a far-future exp is held a week (and
        # cannot overflow a timestamp)
        until = min(float(claims["exp"]) + self.config.sso_leeway_s, time.time() + SEEN_MAX_S)
        expires = datetime.fromtimestamp(until, UTC)
        if not await self._run(lambda conn: relying_store.see_token(  # type: ignore[attr-defined]
                conn, replay_key(claims), expires), tenant=None):
            raise SsoInvalidIdToken("the ID token was refused: it was already used for a login", reason="replayed")
        check_nonce(claims, login["nonce"])
        return await self._sign_in(provider, claims, user_agent, address)

    async def _spend_state(self, provider: SsoProvider, state: object, binding: str | None) -> Any:
        """The login's stored row, spent; SsoInvalidState for an unknown, expired, used or foreign one."""
        value = _bounded(state, 256)
        if value is None:
            raise SsoInvalidState()
        digest = _digest(value)

        async def spend(conn: asyncpg.Connection) -> Any:
            row = await relying_store.state_for_update(conn, digest)
            if row is None or row["used_at"] is not None or row["expired"] or row["provider"] != provider.name:
                raise SsoInvalidState()
            wanted = row["binding_digest"]
            if wanted is not None and (not isinstance(binding, str) or len(binding) > 256
                                       or not hmac.compare_digest(_digest(binding), bytes(wanted))):
                # not spent: someone else's browser (a forged callback) must not burn the user's login
                raise SsoInvalidState("this login was begun in another browser (its cookie is missing); "
                                      "start it again here", why="browser")
            await relying_store.use_state(conn, digest)
            return row

        return await self._tx(spend)  # type: ignore[attr-defined]

    async def _client_secret(self, provider: SsoProvider) -> str | None:
        if not provider.client_secret_name:
            return None
        path = secret_path(provider.client_secret_name)
        try:
            data = await self._security.kv_get(ME, path)
        except AriaError as exc:
            raise SsoMisconfigured(f"{provider.name}: the client secret cannot be read from aria_security "
                                   f"({path}: {exc.type})", setting="client_secret_name") from None
        secret = data.get(SECRET_FIELD) if isinstance(data, dict) else None
        if not isinstance(secret, str) or not secret:
            raise SsoMisconfigured(f"{provider.name}: aria_security's {path} has no {SECRET_FIELD} field",
                                   setting="client_secret_name")
        return secret

    async def _verify(self, provider: SsoProvider, id_token: str) -> dict[str, Any]:
        """The ID token's claims (all checks but the nonce); the JWKS is fetched again once when the
        token's key is not in the cached one (the provider rotated its keys)."""
        http = self._http()
        jwks = await http.jwks(provider)
        options: dict[str, Any] = dict(issuer=provider.issuer, client_id=provider.client_id,
                                       algorithms=provider.algorithms, leeway_s=self.config.sso_leeway_s)
        try:
            return verify_id_token(id_token, jwks, **options)
        except SsoInvalidIdToken as exc:
            if exc.fields.get("reason") not in ("unknown-key", "signature"):
                raise
            fresh = await http.jwks(provider, refresh=True)
            if fresh is jwks:
                raise
            return verify_id_token(id_token, fresh, **options)

    async def _sign_in(self, provider: SsoProvider, claims: dict[str, Any], user_agent: str | None,
                       address: str | None) -> dict[str, Any]:
        issuer, subject = claims["iss"], claims["sub"]
        email = email_of(claims)

        async def attempt(conn: asyncpg.Connection) -> dict[str, Any]:
            await relying_store.identity_lock(conn, provider.name, issuer, subject)
            link = await relying_store.link_for_identity(conn, provider.name, issuer, subject)
            if link is not None and link["user_tenant"] != provider.tenant:
                # the provider's tenant setting changed since: its role rules and logins are for
                # that tenant's users only
                raise SsoTenantMismatch(provider=provider.name, link_id=str(link["id"]))
            created = link is None
            if link is None:
                if not provider.jit:
                    raise SsoNotProvisioned(provider=provider.name)
                roles = fields.check_roles(provider.roles_at_login(None, claims), self.roles)
                user = await self._create_sso_user(conn, provider, claims, roles)
                link = await relying_store.insert_link(conn, user["id"], provider.name, issuer, subject, email)
            else:
                user = await store.user_secrets(conn, link["user_id"], lock=True)
                if user is None:  # deleted meanwhile (its links go with it)
                    raise SsoNotProvisioned(provider=provider.name)
                roles = fields.check_roles(provider.roles_at_login(user["roles"], claims), self.roles)
            if user["disabled"]:
                raise AccountDisabled(user_id=str(user["id"]))
            changes: dict[str, Any] = {"last_login_at": _now()}
            if roles != list(user["roles"]):
                changes["roles"] = roles
            user = await store.update_user(conn, user["id"], changes)
            await relying_store.link_logged_in(conn, link["id"], email)
            tokens = await self._open_session(conn, user, list(AMR), user_agent, address)  # type: ignore[attr-defined]
            return {**tokens, "provider": provider.name, "link_id": str(link["id"]), "created": created}

        return await self._tx(attempt)  # type: ignore[attr-defined]

    async def _create_sso_user(self, conn: asyncpg.Connection, provider: SsoProvider, claims: dict[str, Any],
                               roles: list[str]) -> Any:
        """A new user for this identity: the first free username of the candidates."""
        base = username_base(claims, f"{provider.name}-user")
        row_fields = dict(tenant=provider.tenant, email=email_of(claims), display_name=display_name_of(claims),
                          password_hash=NO_PASSWORD, roles=roles)
        for name in [*username_candidates(base), f"{base[:48]}-{secrets.token_hex(4)}"]:
            try:
                async with conn.transaction():  # a savepoint: a taken name undoes only this insert
                    return await store.insert_user(conn, username=name, **row_fields)
            except asyncpg.UniqueViolationError:
                continue
        raise InvalidUser(f"no free username for {base!r}", field="username")

    async def _audit_refusal(self, provider: object, exc: AriaError) -> None:
        """Leave a ``denied`` audit record in aria_security for a refused SSO login (never raises)."""
        name = provider if isinstance(provider, str) and NAME.match(provider) else "unknown"
        reason = exc.fields.get("reason") or exc.fields.get("why")
        kind = f"{exc.type}:{reason}" if isinstance(reason, str) else exc.type
        try:
            target = "".join(c if c.isprintable() else "?" for c in kind[:300])
            await self._security.record_events(ME, [{"op": "sso-login", "target": target,
                                                      "outcome": "denied", "subject": f"sso:{name}"}])
        except Exception as audit_exc:  # the refusal stands; losing its record must not hide it
            log.warning("cannot audit a refused SSO login (%s): %s", kind, type(audit_exc).__name__)

    # -- links ----------------------------------------------------------------------------------
    @rpc(feature=FEATURE)
    async def my_sso_links(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's own links to outside identities (a user's session token only)."""
        user_id = access.require_session(caller)
        return await self._links(user_id, access.rls_tenant(caller, "auth:user:read", "user"))

    @rpc(feature=FEATURE)
    async def sso_links(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's links: one's own, or any user's with ``auth:user:read`` on its tenant."""
        scope = access.rls_tenant(caller, "auth:user:read", "user")
        await access.self_or_allowed(caller, user_id, "auth:user:read",
                                     lambda: self._user(user_id, scope))  # type: ignore[attr-defined]
        return await self._links(user_id, scope)

    async def _links(self, user_id: str, tenant: str | None) -> list[dict[str, Any]]:
        uid = _user_uuid(user_id)

        async def read(conn: asyncpg.Connection) -> list[Any]:
            rows = await relying_store.links_of_user(conn, uid)
            await _confine(conn, tenant, uid)  # none of them, unless the user is the tenant's
            return rows

        rows = await (self._tx(read, readonly=True) if tenant  # type: ignore[attr-defined]
                      else self._run(read, tenant=None))  # type: ignore[attr-defined]
        return [_link_public(r) for r in rows]

    @rpc(feature=FEATURE)
    async def sso_unlink(self, caller: Principal, link_id: str) -> None:
        """Remove a link: one's own, or any user's with ``auth:user:write`` on its tenant.

        The last link of a user without a password is kept (``sso-last-link``): it is their only
        way in.
        """
        try:
            lid = uuid.UUID(str(link_id))
        except ValueError:
            raise SsoLinkNotFound(link_id=str(link_id)[:64]) from None
        row = await self._run(lambda conn: relying_store.link(conn, lid), tenant=None)  # type: ignore[attr-defined]
        if row is None:
            raise SsoLinkNotFound(link_id=str(lid))
        uid = row["user_id"]
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        if not access.is_self(caller, uid):
            try:
                await access.allowed_on(caller, "auth:user:write", {"type": "user", "owner": str(uid)},
                                        lambda: self._user(str(uid), scope))  # type: ignore[attr-defined]
            except Forbidden:
                raise SsoLinkNotFound(link_id=str(lid)) from None  # another's link: as if there were none

        async def unlink(conn: asyncpg.Connection) -> None:
            user = await store.user_secrets(conn, uid, lock=True)
            if user is not None and user["password_hash"] == NO_PASSWORD \
                    and await relying_store.count_links(conn, uid) <= 1:
                raise SsoLastLink(link_id=str(lid))
            if not await relying_store.delete_link(conn, lid):
                raise SsoLinkNotFound(link_id=str(lid))
            await _confine(conn, scope, uid)

        await self._tx(unlink)  # type: ignore[attr-defined]


def _user_uuid(value: object) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidUser(f"user id {str(value)[:64]!r} is not a UUID", field="user_id") from None
