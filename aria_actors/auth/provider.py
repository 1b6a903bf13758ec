"""Aria as an OpenID Connect provider: code + PKCE, ID tokens, userinfo, refresh, logout, clients.

Flow (OpenID Connect Core 3.1, RFC 6749 4.1, RFC 7636)::

    GET /authorize (client_id, redirect_uri, response_type=code, scope, state, nonce,
                    code_challenge, code_challenge_method=S256)
        -> HTML login form --login / login_mfa (Accounts)--> an aria_auth session
        -> consent form (third-party clients) -> 302 redirect_uri?code&state&iss
    POST /token (authorization_code + code_verifier | refresh_token) -> access, refresh, ID token
    GET  /userinfo (the access token) -> claims by scope
    GET  /logout (id_token_hint, post_logout_redirect_uri, state) -> the session ends (a valid,
         recent hint) or a confirmation page --POST /logout/confirm--> the session ends

Guarantees and caveats
----------------------
- The issuer is ``oidc_public_url`` (default ``http://127.0.0.1:<ARIA_PORT>``) + ``/v1/auth/oidc``,
  from settings only, never from a request's headers.
- Before the client and its redirect URI are known (exact string match against the registered
  ones) nothing redirects: the error is a problem+json. After, errors go back to the redirect URI
  as ``error=`` with ``state`` and ``iss`` (RFC 6749 4.1.2.1, RFC 9207).
- PKCE S256 is required of every client. A code lives ``oidc_code_ttl_s`` (<= 60 s), works once
  and only for its client, redirect URI and verifier; any attempt spends it. A spent code coming
  back, or a wrong verifier, ends the session it opened (RFC 6749 4.1.2: the tokens issued from
  it are revoked: refresh tokens at once; access JWTs stay valid at the gateway until they expire,
  introspection and userinfo see the end at once).
- Each form carries a CSRF token bound to its authorization request (its digest is stored with
  the request) and to the browser (the same value in a cookie named after the request); a post
  without both matching is refused (``oidc-csrf``).
- An OIDC login opens an ordinary aria_auth session (:meth:`Accounts.login` / ``login_mfa``:
  lockout, MFA and argon2 as for any login), found in the client's tenant only. The MFA step
  takes only the challenge this request's own login form produced (its digest is stored with
  the request): a challenge from ``POST /v1/auth/login`` or another request is refused
  (``oidc-challenge-mismatch``). A user not of the client's tenant is refused at login, MFA and
  the code grant (``oidc-tenant-mismatch``; the session is ended).
- Its refresh tokens rotate with reuse detection as the session's do; only the provider's
  refresh grant takes them, and only from the authenticated client (``POST /v1/auth/refresh``
  refuses them as unknown). The refresh token the login itself made is spent unseen.
- The access token is an Aria access token (aria_security, EdDSA) with ``scope`` and ``azp`` and
  no roles: it opens userinfo, and no door that needs a permission or the user's own session
  (:func:`aria_actors.auth.access.is_self` refuses a token with ``azp``). The ID token is RS256
  with aria_auth's own key (private half wrapped by aria_security's transit key
  ``aria_auth-oidc``; public half at ``jwks_uri``), because OIDC RPs must accept RS256 and
  aria_security's JWTs carry the fixed issuer ``aria``; it carries ``tenant`` when the user has one.
- RP-initiated logout ends a session at once only for an ``id_token_hint`` signed by this
  provider and issued at most ``oidc_logout_hint_max_age_s`` ago; otherwise the user confirms
  on a page (a CSRF-protected POST, bound like the login forms). A hint whose signature does not
  verify is refused.
- Every refusal is a typed error (``oidc-*``) and is written to aria_security's audit log
  through ``record_events``: op = the refusal's slug (``oidc-csrf``, ``oidc-invalid-grant``, ...),
  actor ``svc:aria_auth``, outcome ``denied``, subject ``oidc-client:<id>`` and target the
  message (both made printable: control characters become ``?``).
- Clients are registered by an administrator (``auth:oidc-client:*``); a confidential client's
  secret is shown once and kept as a SHA-256 digest. A client belongs to a tenant: only that
  tenant's users log in through it; the default tenant ("") is asked of RBAC as no tenant, the
  same way for registering, listing and removing clients. The tables are not under row-level
  security.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from aria_actors.auth import access, credentials, provider_keys, store
from aria_actors.auth import provider_store as pstore
from aria_actors.auth import provider_wire as wire
from aria_actors.auth import users as fields
from aria_actors.auth.accounts import ME, SERVICE
from aria_actors.auth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidChallenge,
    InvalidCredentials,
    InvalidMfaCode,
)
from aria_actors.auth.provider_errors import (
    OidcChallengeMismatch,
    OidcClientExists,
    OidcClientNotFound,
    OidcCsrf,
    OidcError,
    OidcInsufficientScope,
    OidcInvalidClient,
    OidcInvalidClientMetadata,
    OidcInvalidGrant,
    OidcInvalidRedirectUri,
    OidcInvalidRequest,
    OidcInvalidToken,
    OidcRedirectError,
    OidcRequestExpired,
    OidcTenantMismatch,
    OidcUnknownClient,
    OidcUnsupportedGrantType,
)
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from joserfc.jwk import RSAKey

    from aria_actors.auth.config import AuthSettings
    from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.auth.oidc")
FEATURE = "oauth2-oidc"
ISSUER_PATH = "/v1/auth/oidc"
OIDC_KEY = "aria_auth-oidc"  # aria_security transit key that wraps the ID-token signing keys
SECRET_PREFIX = "aria_ocs_"
CODE_PREFIX = "aria_ac_"
# What a login or MFA step refuses with: shown on the form again, not a problem document.
LOGIN_ERRORS = (InvalidCredentials, AccountLocked, AccountDisabled, InvalidChallenge, InvalidMfaCode)
PROMPTS = frozenset({"none", "login", "consent", "select_account"})


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _jsonb(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _now() -> datetime:
    return datetime.now(UTC)


def public_client(row: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenID client as the API shows it: never its secret's digest."""
    return {"client_id": str(row["id"]), "tenant": row["tenant"], "name": row["name"],
            "type": "confidential" if row["confidential"] else "public",
            "redirect_uris": list(row["redirect_uris"]),
            "post_logout_redirect_uris": list(row["post_logout_redirect_uris"]),
            "scopes": list(row["scopes"]), "trusted": row["trusted"], "created_at": row["created_at"].isoformat()}


def _printable(value: object, limit: int) -> str:
    """``value`` as text fit for an audit record: at most ``limit`` characters, control ones as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in str(value)[:limit])


def _strings(params: object) -> dict[str, str]:
    if not isinstance(params, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in params.items()):
        raise OidcInvalidRequest("parameters must be a mapping of strings")
    return wire.params(params.items())


class OidcProvider:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    config: AuthSettings
    _security: SecurityClient
    _oidc_key: RSAKey | None = None

    async def _start_provider(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        await self._oidc_load_key()

    async def _stop_provider(self) -> None:
        """Called by the service's stop before the pool closes."""
        self._oidc_key = None

    # -- plumbing -----------------------------------------------------------------------------
    def _issuer(self) -> str:
        base = self.config.oidc_public_url
        if not base:
            port = getattr(getattr(self, "settings", None), "port", 8000)
            base = f"http://127.0.0.1:{port}"
        return base + ISSUER_PATH

    async def _oidc_load_key(self) -> None:
        """The newest signing key, made (and stored wrapped) when there is none yet."""
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            rows = await pstore.keys(conn)
        if not rows:
            kid, private_jwk, public_jwk = await asyncio.to_thread(provider_keys.generate)  # RSA keygen: ~0.1-1 s
            wrapped = await self._security.encrypt(ME, OIDC_KEY, private_jwk.encode(), service=SERVICE)
            async with self._acquire() as conn:  # type: ignore[attr-defined]
                await pstore.insert_key(conn, kid, wrapped, public_jwk)
                rows = await pstore.keys(conn)  # another replica may have made one at the same moment
        raw = await self._security.decrypt(ME, OIDC_KEY, rows[0]["wrapped"], service=SERVICE)
        self._oidc_key = provider_keys.private_key(bytes(raw))

    async def _oidc_public_keys(self) -> list[dict[str, Any]]:
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            return [_jsonb(r["public_jwk"]) for r in await pstore.keys(conn)]

    async def _oidc_signing_key(self) -> RSAKey:
        if self._oidc_key is None:
            await self._oidc_load_key()
        assert self._oidc_key is not None
        return self._oidc_key

    async def _oidc_refuse(self, exc: OidcError, client_id: object = None, slug: str | None = None) -> OidcError:
        """Audit a refusal through aria_security, then hand the error back to be raised."""
        slug = slug or exc.type
        # Both come from the request (a client id, an echoed URI): an audit record refuses control characters.
        subject = "oidc-client:" + _printable(client_id or "unknown", 64)
        target = _printable(exc.message, 300)
        log.warning("OIDC refusal %s for %s: %s", slug, subject, target)
        try:
            await self._security.record_events(ME, [{"op": slug, "target": target,
                                                      "outcome": "denied", "subject": subject}])
        except Exception as audit_error:  # the refusal stands even when its audit record could not be written
            log.error("could not audit OIDC refusal %s: %s", slug, audit_error)
        return exc

    async def _oidc_client(self, client_id: object) -> Any:
        cid = _uuid(client_id) if isinstance(client_id, str) and len(client_id) <= 64 else None
        if cid is None:
            return None
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            return await pstore.client(conn, cid)

    # -- discovery ----------------------------------------------------------------------------
    @rpc(public=True, feature=FEATURE)
    async def oidc_configuration(self, caller: Principal) -> dict[str, Any]:
        """OpenID Provider Metadata (OIDC Discovery 1.0, section 3)."""
        issuer = self._issuer()
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "userinfo_endpoint": issuer + "/userinfo",
            "jwks_uri": issuer + "/jwks",
            "end_session_endpoint": issuer + "/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [provider_keys.ALG],
            "scopes_supported": list(wire.SCOPES),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "sid",
                                 "at_hash", "tenant", "name", "preferred_username", "updated_at", "email",
                                 "email_verified"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": sorted(PROMPTS),
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_parameter_supported": False,
        }

    @rpc(public=True, feature=FEATURE)
    async def oidc_jwks(self, caller: Principal) -> dict[str, Any]:
        """The public keys that verify the provider's ID tokens."""
        return provider_keys.jwks(await self._oidc_public_keys())

    # -- authorization: the browser's pages ---------------------------------------------------
    @rpc(public=True, feature=FEATURE)
    async def oidc_authorize(self, caller: Principal, params: dict[str, str]) -> dict[str, Any]:
        """Start an authorization request: ``{"page": "login", ...}`` to show the login form, or
        ``{"redirect": url}`` with an error for the client once its redirect URI is validated."""
        p = _strings(params)
        client = await self._oidc_client(p.get("client_id"))
        if client is None:
            raise await self._oidc_refuse(OidcUnknownClient(), p.get("client_id"))
        redirect_uri = p.get("redirect_uri")
        if redirect_uri is None or redirect_uri not in client["redirect_uris"]:
            raise await self._oidc_refuse(OidcInvalidRedirectUri(), client["id"])
        state = p.get("state")
        try:
            scopes, nonce, challenge = self._oidc_check_request(p, client)
        except OidcRedirectError as exc:
            await self._oidc_refuse(exc, client["id"], slug="oidc-" + exc.oauth_error.replace("_", "-"))
            return {"redirect": wire.with_query(redirect_uri, {
                "error": exc.oauth_error, "error_description": exc.message, "state": state, "iss": self._issuer()})}
        request_id, csrf = uuid.uuid4(), secrets.token_urlsafe(32)
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            await pstore.insert_request(conn, request_id, credentials.digest(csrf), client["id"], redirect_uri,
                                        scopes, state, nonce, challenge, self.config.oidc_request_ttl_s)
        return {"page": "login", **self._oidc_page(request_id, csrf, client, scopes, redirect_uri)}

    def _oidc_page(self, request_id: uuid.UUID, csrf: str, client: Any, scopes: Collection[str],
                   redirect_uri: str) -> dict[str, Any]:
        return {"request_id": str(request_id), "csrf": csrf, "client_name": client["name"],
                "tenant": client["tenant"], "scopes": list(scopes), "issuer": self._issuer(),
                "redirect_origin": wire.origin(redirect_uri), "expires_in": self.config.oidc_request_ttl_s}

    def _oidc_check_request(self, p: Mapping[str, str], client: Any) -> tuple[list[str], str | None, str]:
        """(scopes, nonce, code challenge) of a request whose client and redirect URI are valid;
        OidcRedirectError (sent back to the client) otherwise."""
        if "request" in p:
            raise OidcRedirectError("request_not_supported", "request objects are not supported")
        if "request_uri" in p:
            raise OidcRedirectError("request_uri_not_supported", "request_uri is not supported")
        if p.get("response_type") != "code":
            raise OidcRedirectError("unsupported_response_type", "only response_type=code is supported")
        if p.get("response_mode", "query") != "query":
            raise OidcRedirectError("invalid_request", "only response_mode=query is supported")
        scopes = wire.requested_scopes(p.get("scope"), client["scopes"])
        if scopes is None:
            raise OidcRedirectError("invalid_scope", f"scope must include openid and only scopes this client may "
                                    f"ask for: {' '.join(client['scopes'])}")
        nonce = p.get("nonce")  # optional in the code flow (OIDC Core 3.1.2.1); carried into the ID token
        if nonce is not None and len(nonce) > wire.MAX_NONCE_CHARS:
            raise OidcRedirectError("invalid_request", f"nonce is longer than {wire.MAX_NONCE_CHARS} characters")
        if len(p.get("state") or "") > wire.MAX_STATE_CHARS:
            raise OidcRedirectError("invalid_request", f"state is longer than {wire.MAX_STATE_CHARS} characters")
        prompts = set((p.get("prompt") or "").split())
        if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise OidcRedirectError("invalid_request", "prompt must be none, or of login, consent, select_account")
        if "none" in prompts:  # no single sign-on cookie: the user always logs in here
            raise OidcRedirectError("login_required", "the user must log in")
        try:
            challenge = wire.check_code_challenge(p.get("code_challenge"), p.get("code_challenge_method"))
        except OidcInvalidRequest as exc:
            raise OidcRedirectError("invalid_request", exc.message) from None
        return scopes, nonce, challenge

    async def _oidc_checked(self, request_id: str, csrf: str | None, cookie: str | None) -> tuple[Any, Any]:
        """The pending request and its client, once the form's CSRF token matches both the
        request and the browser's cookie."""
        rid = _uuid(request_id) if isinstance(request_id, str) and len(request_id) <= 64 else None
        row = client = None
        if rid is not None:
            async with self._acquire() as conn:  # type: ignore[attr-defined]
                row = await pstore.request_for_update(conn, rid)  # no transaction: a plain read here
                client = await pstore.client(conn, row["client_id"]) if row is not None else None
        ok = (isinstance(csrf, str) and isinstance(cookie, str) and 0 < len(csrf) <= 128
              and hmac.compare_digest(csrf.encode(), cookie.encode()) and row is not None
              and hmac.compare_digest(bytes(row["csrf_digest"]), credentials.digest(csrf)))
        if not ok:
            raise await self._oidc_refuse(OidcCsrf(), row["client_id"] if row is not None else None)
        if client is None or row["expired"] or row["finished_at"] is not None:
            raise await self._oidc_refuse(OidcRequestExpired(), row["client_id"])
        return row, client

    @rpc(public=True, feature=FEATURE)
    async def oidc_login(self, caller: Principal, request_id: str, csrf: str, csrf_cookie: str | None,
                         username: str, password: str, *, user_agent: str | None = None,
                         address: str | None = None) -> dict[str, Any]:
        """The login form posted: ``{"page": "mfa" | "consent", ...}`` or ``{"redirect": url}``
        with the code (trusted client). A wrong password raises as :meth:`Accounts.login` does."""
        row, client = await self._oidc_checked(request_id, csrf, csrf_cookie)
        page = self._oidc_page(row["id"], csrf, client, row["scopes"], row["redirect_uri"])
        try:
            out = await self.login(caller, username, password,  # type: ignore[attr-defined]
                                   tenant=client["tenant"], user_agent=user_agent, address=address)
        except LOGIN_ERRORS as exc:  # shown on the form again, as the JSON login would answer it
            return {"page": "login", "error": exc.message, "status": exc.status, **page}
        if out.get("mfa_required"):
            # Only this challenge completes this request: one from POST /v1/auth/login (any
            # tenant) or from another request's form is refused at the MFA step.
            async with self._acquire() as conn:  # type: ignore[attr-defined]
                await pstore.request_mfa(conn, row["id"], credentials.digest(out["challenge"]))
            return {"page": "mfa", "challenge": out["challenge"], **page}
        return await self._oidc_logged_in(row, client, csrf, out)

    @rpc(public=True, feature=FEATURE)
    async def oidc_login_mfa(self, caller: Principal, request_id: str, csrf: str, csrf_cookie: str | None,
                             challenge: str, code: str, *, user_agent: str | None = None,
                             address: str | None = None) -> dict[str, Any]:
        """The MFA form posted (challenge + TOTP or recovery code): as :meth:`oidc_login`."""
        row, client = await self._oidc_checked(request_id, csrf, csrf_cookie)
        bound = row["mfa_challenge_digest"]
        if bound is None or not isinstance(challenge, str) or len(challenge) > 128 \
                or not hmac.compare_digest(bytes(bound), credentials.digest(challenge)):
            raise await self._oidc_refuse(OidcChallengeMismatch(), client["id"])
        page = self._oidc_page(row["id"], csrf, client, row["scopes"], row["redirect_uri"])
        try:
            out = await self.login_mfa(caller, challenge, code,  # type: ignore[attr-defined]
                                       user_agent=user_agent, address=address)
        except InvalidMfaCode as exc:  # the same challenge takes another code (up to its attempts)
            return {"page": "mfa", "challenge": challenge, "error": exc.message, "status": exc.status, **page}
        except LOGIN_ERRORS as exc:  # the challenge is spent or the account locked: the password again
            return {"page": "login", "error": exc.message, "status": exc.status, **page}
        return await self._oidc_logged_in(row, client, csrf, out)

    async def _oidc_logged_in(self, row: Any, client: Any, csrf: str, tokens: Mapping[str, Any]) -> dict[str, Any]:
        """The login (or MFA step) opened a session for this request: the code (trusted client)
        or the consent page, once the user is of the client's tenant."""
        session_id = uuid.UUID(tokens["session_id"])

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, OidcError | None]:
            # The login's own refresh token is never shown: spend it, so only the code's tokens work.
            await store.use_refresh_token(conn, credentials.digest(tokens["refresh_token"]))
            user = await store.user(conn, uuid.UUID(tokens["user_id"]))
            if user is None or user["tenant"] != client["tenant"]:
                await store.revoke_sessions(conn, "user not of the OpenID client's tenant", session_id=session_id)
                return None, OidcTenantMismatch()
            locked = await pstore.request_for_update(conn, row["id"])
            if locked is None or locked["expired"] or locked["finished_at"] is not None:
                await store.revoke_sessions(conn, "authorization request expired", session_id=session_id)
                return None, OidcRequestExpired()
            await pstore.request_logged_in(conn, row["id"], session_id)
            if client["trusted"]:  # first party: no consent page
                return await self._oidc_issue_code(conn, locked, session_id), None
            page = self._oidc_page(row["id"], csrf, client, row["scopes"], row["redirect_uri"])
            return {"page": "consent", **page}, None

        out, error = await self._tx(attempt)  # type: ignore[attr-defined]
        if error is not None:  # after the session's end committed
            raise await self._oidc_refuse(error, client["id"])
        assert out is not None
        return out

    async def _oidc_issue_code(self, conn: asyncpg.Connection, row: Any, session_id: uuid.UUID) -> dict[str, Any]:
        code = credentials.new_secret(CODE_PREFIX)
        await pstore.insert_code(conn, credentials.digest(code), {**dict(row), "session_id": session_id},
                                 self.config.oidc_code_ttl_s)
        await pstore.finish_request(conn, row["id"])
        return {"redirect": wire.with_query(row["redirect_uri"], {
            "code": code, "state": row["state"], "iss": self._issuer()})}

    @rpc(public=True, feature=FEATURE)
    async def oidc_consent(self, caller: Principal, request_id: str, csrf: str, csrf_cookie: str | None,
                           approve: bool) -> dict[str, Any]:
        """The consent form posted: ``{"redirect": url}`` with the code, or ``error=access_denied``
        (which also ends the session the login opened)."""
        row, client = await self._oidc_checked(request_id, csrf, csrf_cookie)
        if row["session_id"] is None:
            raise await self._oidc_refuse(OidcRequestExpired("log in first: this request has no login yet"),
                                          client["id"])

        async def attempt(conn: asyncpg.Connection) -> dict[str, Any] | None:
            locked = await pstore.request_for_update(conn, row["id"])
            if locked is None or locked["expired"] or locked["finished_at"] is not None:
                return None
            if approve is True:
                return await self._oidc_issue_code(conn, locked, locked["session_id"])
            await pstore.finish_request(conn, row["id"])
            await store.revoke_sessions(conn, "consent denied", session_id=locked["session_id"])
            return {"redirect": wire.with_query(row["redirect_uri"], {
                "error": "access_denied", "error_description": "the user denied the request",
                "state": row["state"], "iss": self._issuer()})}

        out = await self._tx(attempt)  # type: ignore[attr-defined]
        if out is None:
            raise await self._oidc_refuse(OidcRequestExpired(), client["id"])
        return out

    # -- token endpoint -----------------------------------------------------------------------
    @rpc(public=True, feature=FEATURE)
    async def oidc_token(self, caller: Principal, params: dict[str, str],
                         basic: list[str] | None = None) -> dict[str, Any]:
        """The token endpoint: ``authorization_code`` (with the PKCE verifier) or ``refresh_token``;
        ``basic`` is ``[client_id, client_secret]`` from an ``Authorization: Basic`` header."""
        p = _strings(params)
        client = await self._oidc_authenticate(p, basic)
        grant_type = p.get("grant_type")
        if grant_type == "authorization_code":
            return await self._oidc_code_grant(client, p)
        if grant_type == "refresh_token":
            return await self._oidc_refresh_grant(client, p)
        error = OidcInvalidRequest("grant_type is missing") if grant_type is None else OidcUnsupportedGrantType()
        raise await self._oidc_refuse(error, client["id"])

    async def _oidc_authenticate(self, p: Mapping[str, str], basic: list[str] | None) -> Any:
        if basic is not None:
            if not (isinstance(basic, list | tuple) and len(basic) == 2 and all(isinstance(b, str) for b in basic)):
                raise OidcInvalidRequest("basic must be [client_id, client_secret]")
            if "client_secret" in p or p.get("client_id", basic[0]) != basic[0]:
                raise await self._oidc_refuse(OidcInvalidRequest(
                    "send client credentials once: in the Authorization header or in the body"), basic[0])
            client_id, secret = basic[0], basic[1]
        else:
            client_id, secret = p.get("client_id", ""), p.get("client_secret")
        client = await self._oidc_client(client_id)
        if client is None:
            raise await self._oidc_refuse(OidcInvalidClient(), client_id)
        if client["secret_digest"] is None:
            ok = not secret  # a public client: PKCE is its proof; a secret it cannot keep is refused
        else:
            ok = (credentials.has_prefix(secret, SECRET_PREFIX)
                  and hmac.compare_digest(bytes(client["secret_digest"]), credentials.digest(str(secret))))
        if not ok:
            raise await self._oidc_refuse(OidcInvalidClient(), client["id"])
        return client

    async def _oidc_code_grant(self, client: Any, p: Mapping[str, str]) -> dict[str, Any]:
        code = p.get("code")
        if not credentials.has_prefix(code, CODE_PREFIX):
            raise await self._oidc_refuse(OidcInvalidGrant("the authorization code is missing or unknown"),
                                          client["id"])
        digest = credentials.digest(str(code))
        signing_key = await self._oidc_signing_key()

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, OidcError | None]:
            row = await pstore.code_for_update(conn, digest)
            if row is None:
                return None, OidcInvalidGrant("the authorization code is unknown")
            if row["used_at"] is not None:  # RFC 6749 4.1.2: revoke what was issued from it
                await store.revoke_sessions(conn, "authorization code replayed", session_id=row["session_id"])
                return None, OidcInvalidGrant("this authorization code was already used; the tokens issued "
                                              "from it are revoked")
            await pstore.use_code(conn, digest)  # one try per code, whatever follows
            if row["client_id"] != client["id"]:
                return None, OidcInvalidGrant("the authorization code was issued to another client")
            if row["expired"]:
                return None, OidcInvalidGrant("the authorization code expired")
            if p.get("redirect_uri") != row["redirect_uri"]:
                return None, OidcInvalidGrant("redirect_uri is not the one of the authorization request")
            try:
                wire.verify_pkce(p.get("code_verifier"), row["code_challenge"])
            except OidcInvalidGrant as exc:  # someone holds the code without the verifier
                await store.revoke_sessions(conn, "PKCE verification failed", session_id=row["session_id"])
                return None, exc
            session = await store.session(conn, row["session_id"])
            if session is None or session["revoked_at"] is not None or session["expires_at"] <= _now() \
                    or session["disabled"]:
                return None, OidcInvalidGrant("the login behind this code has ended")
            user = await store.user_secrets(conn, session["user_id"])
            if user is None or user["tenant"] != client["tenant"]:
                await store.revoke_sessions(conn, "user not of the OpenID client's tenant", session_id=session["id"])
                return None, OidcTenantMismatch("the user of this code is not of the client's tenant",
                                                error="invalid_grant")
            await pstore.insert_oidc_session(conn, session["id"], client["id"], list(row["scopes"]))
            tokens = await self._oidc_tokens(conn, signing_key, user, session, client, list(row["scopes"]),
                                             row["nonce"])
            return tokens, None

        tokens, error = await self._tx(attempt)  # type: ignore[attr-defined]
        if error is not None:  # after the spend and any revocation committed
            raise await self._oidc_refuse(error, client["id"])
        assert tokens is not None
        return tokens

    async def _oidc_refresh_grant(self, client: Any, p: Mapping[str, str]) -> dict[str, Any]:
        refresh = p.get("refresh_token")
        if not credentials.has_prefix(refresh, credentials.REFRESH_PREFIX):
            raise await self._oidc_refuse(OidcInvalidGrant("the refresh token is missing or unknown"), client["id"])
        narrowed = p.get("scope")
        digest = credentials.digest(str(refresh))
        signing_key = await self._oidc_signing_key()
        idle_s = self.config.refresh_idle_s

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, OidcError | None]:
            row = await store.refresh_token_for_update(conn, digest)
            granted = await pstore.oidc_session(conn, row["session_id"]) if row is not None else None
            if row is None or granted is None or granted["client_id"] != client["id"]:
                return None, OidcInvalidGrant("the refresh token is unknown or was issued to another client")
            if row["used_at"] is not None:  # reuse: a copy is in someone else's hands
                await store.revoke_sessions(conn, "refresh token reused", session_id=row["session_id"])
                return None, OidcInvalidGrant("this refresh token was already used; its session was ended")
            now = _now()
            if row["revoked_at"] is not None or row["expires_at"] <= now \
                    or (now - row["last_used_at"]).total_seconds() >= idle_s:
                return None, OidcInvalidGrant("the session of this refresh token has ended")
            scopes = list(granted["scopes"])
            if narrowed is not None:
                wanted = wire.requested_scopes(narrowed, scopes)
                if wanted is None:
                    return None, OidcInvalidGrant("scope may only narrow the scopes granted", error="invalid_scope")
                scopes = wanted
            user = await store.user_secrets(conn, row["user_id"])
            if user is None or user["disabled"]:
                return None, OidcInvalidGrant("the user is disabled or gone")
            if user["tenant"] != client["tenant"]:
                return None, OidcTenantMismatch("the user of this refresh token is not of the client's tenant",
                                                error="invalid_grant")
            await store.use_refresh_token(conn, digest)
            await store.touch_session(conn, row["session_id"])
            session = await store.session(conn, row["session_id"])
            return await self._oidc_tokens(conn, signing_key, user, session, client, scopes, None), None

        tokens, error = await self._tx(attempt)  # type: ignore[attr-defined]
        if error is not None:
            raise await self._oidc_refuse(error, client["id"])
        assert tokens is not None
        return tokens

    async def _oidc_tokens(self, conn: asyncpg.Connection, key: RSAKey, user: Any, session: Any, client: Any,
                           scopes: list[str], nonce: str | None) -> dict[str, Any]:
        """A new refresh token of the session, an access token and an ID token (signed last)."""
        refresh = credentials.new_secret(credentials.REFRESH_PREFIX)
        await store.insert_refresh_token(conn, credentials.digest(refresh), session["id"])
        amr = list(session["amr"])
        # No roles: the client acts for the user within the consented scopes only (userinfo), never
        # with the user's permissions; azp also tells every self-service door it is not the user's session.
        claims: dict[str, Any] = {"roles": [], "sid": str(session["id"]), "name": user["username"],
                                  "amr": amr, "scope": " ".join(scopes), "azp": str(client["id"])}
        if user["tenant"]:
            claims["tenant"] = user["tenant"]
        access_token = await self._security.issue_token(ME, str(user["id"]), claims, self.config.access_ttl_s)
        id_claims: dict[str, Any] = {
            "iss": self._issuer(), "sub": str(user["id"]), "aud": str(client["id"]), "azp": str(client["id"]),
            "auth_time": int(session["created_at"].timestamp()), "amr": amr, "sid": str(session["id"]),
            "at_hash": provider_keys.half_hash(access_token)}
        if nonce:
            id_claims["nonce"] = nonce
        if user["tenant"]:  # so a client can tell whose tenant the user is of
            id_claims["tenant"] = user["tenant"]
        id_token = provider_keys.sign(key, id_claims, self.config.oidc_id_token_ttl_s)
        refresh_in = min(int((session["expires_at"] - _now()).total_seconds()), self.config.refresh_idle_s)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": self.config.access_ttl_s,
                "refresh_token": refresh, "refresh_expires_in": max(0, refresh_in), "id_token": id_token,
                "scope": " ".join(scopes)}

    # -- userinfo and logout ------------------------------------------------------------------
    @rpc(feature=FEATURE)
    async def oidc_userinfo(self, caller: Principal) -> dict[str, Any]:
        """The caller's claims by the access token's scopes (openid: sub; profile; email)."""
        claims = caller.claims or {}
        scopes = str(claims.get("scope") or "").split()
        sid = _uuid(caller.session) if caller.session else None
        if sid is None or "openid" not in scopes or not claims.get("azp"):
            raise await self._oidc_refuse(OidcInsufficientScope(), claims.get("azp"))
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            session = await store.session(conn, sid)
            granted = await pstore.oidc_session(conn, sid)
            user = await store.user(conn, session["user_id"]) if session is not None else None
        if session is None or granted is None or user is None or session["revoked_at"] is not None \
                or session["expires_at"] <= _now() or session["disabled"] \
                or str(granted["client_id"]) != claims.get("azp") or str(user["id"]) != caller.subject:
            raise await self._oidc_refuse(OidcInvalidToken(), claims.get("azp"))
        out: dict[str, Any] = {"sub": str(user["id"])}
        if "profile" in scopes:
            out.update(name=user["display_name"] or user["username"], preferred_username=user["username"],
                       updated_at=int(user["updated_at"].timestamp()))
        if "email" in scopes and user["email"]:
            out.update(email=user["email"], email_verified=False)  # Aria does not verify addresses
        return out

    @rpc(public=True, feature=FEATURE)
    async def oidc_logout(self, caller: Principal, params: dict[str, str]) -> dict[str, Any]:
        """RP-initiated logout. With an ``id_token_hint`` this provider signed, issued at most
        ``oidc_logout_hint_max_age_s`` ago: its session ends now, then ``{"redirect": url}`` to the
        registered ``post_logout_redirect_uri`` (with ``state``), or ``{"page": "logged_out"}``.
        Without one (none, or an older one): ``{"page": "logout", ...}``, a confirmation form
        (:meth:`oidc_logout_confirm`). A hint whose signature does not verify is refused."""
        p = _strings(params)
        hint = p.get("id_token_hint")
        claims = client = None
        if hint is not None:
            claims = provider_keys.read_hint(hint, await self._oidc_public_keys(), self._issuer())
            aud = claims.get("aud") if claims else None
            if isinstance(aud, list):
                aud = aud[0] if len(aud) == 1 else None
            client = await self._oidc_client(aud) if isinstance(aud, str) else None
            if claims is None or client is None:
                raise await self._oidc_refuse(OidcInvalidToken(
                    "id_token_hint is not an ID token this provider issued"), p.get("client_id"))
            if p.get("client_id", aud) != aud:
                raise await self._oidc_refuse(OidcInvalidRequest("client_id is not the id_token_hint's audience"),
                                              aud)
        elif "client_id" in p:
            client = await self._oidc_client(p["client_id"])
            if client is None:
                raise await self._oidc_refuse(OidcUnknownClient(), p["client_id"])
        uri = p.get("post_logout_redirect_uri")
        if uri is not None and (client is None or uri not in client["post_logout_redirect_uris"]):
            raise await self._oidc_refuse(OidcInvalidRedirectUri(
                "post_logout_redirect_uri is not one the client registered (exact match; name the client with "
                "id_token_hint or client_id)"), client["id"] if client is not None else p.get("client_id"))
        state = p.get("state")
        if len(state or "") > wire.MAX_STATE_CHARS:
            raise await self._oidc_refuse(OidcInvalidRequest(
                f"state is longer than {wire.MAX_STATE_CHARS} characters"), client["id"] if client else None)
        sid = _uuid(claims.get("sid")) if claims is not None else None
        if claims is not None and provider_keys.issued_within(claims, self.config.oidc_logout_hint_max_age_s):
            assert client is not None
            await self._tx(lambda conn: self._oidc_end_session(  # type: ignore[attr-defined]
                conn, client["id"], sid, claims["sub"]))
            return self._oidc_logged_out(uri, state)
        # No recent hint (none, or an old or leaked ID token that anyone could put in a link): the user confirms.
        logout_id, csrf = uuid.uuid4(), secrets.token_urlsafe(32)
        ttl = self.config.oidc_request_ttl_s
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            await pstore.insert_logout(conn, logout_id, credentials.digest(csrf),
                                       client["id"] if client is not None else None, sid,
                                       claims["sub"] if claims is not None else None, uri, state, ttl)
        return {"page": "logout", "request_id": str(logout_id), "csrf": csrf,
                "client_name": client["name"] if client is not None else None, "issuer": self._issuer(),
                "redirect_origin": wire.origin(uri) if uri else None, "expires_in": ttl}

    @rpc(public=True, feature=FEATURE)
    async def oidc_logout_confirm(self, caller: Principal, request_id: str, csrf: str,
                                  csrf_cookie: str | None) -> dict[str, Any]:
        """The logout confirmation form posted: the hint's session (if any) ends; as :meth:`oidc_logout`."""
        rid = _uuid(request_id) if isinstance(request_id, str) and len(request_id) <= 64 else None
        ok = (rid is not None and isinstance(csrf, str) and isinstance(csrf_cookie, str) and 0 < len(csrf) <= 128
              and hmac.compare_digest(csrf.encode(), csrf_cookie.encode()))

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, OidcError | None, Any]:
            row = await pstore.logout_for_update(conn, rid) if ok and rid is not None else None
            if row is None or not hmac.compare_digest(bytes(row["csrf_digest"]), credentials.digest(csrf)):
                return None, OidcCsrf(), row["client_id"] if row is not None else None
            if row["expired"] or row["finished_at"] is not None:
                return None, OidcRequestExpired("this sign-out page expired or was already answered"), row["client_id"]
            await pstore.finish_logout(conn, row["id"])
            if row["client_id"] is not None:
                await self._oidc_end_session(conn, row["client_id"], row["session_id"], row["user_id"])
            return self._oidc_logged_out(row["redirect_uri"], row["state"]), None, row["client_id"]

        out, error, client_id = await self._tx(attempt)  # type: ignore[attr-defined]
        if error is not None:
            raise await self._oidc_refuse(error, client_id)
        assert out is not None
        return out

    @staticmethod
    async def _oidc_end_session(conn: asyncpg.Connection, client_id: uuid.UUID, sid: uuid.UUID | None,
                                sub: str | None) -> None:
        """End ``sid`` when it is a session granted to that client for that user (else nothing)."""
        if sid is None or sub is None:
            return
        granted = await pstore.oidc_session(conn, sid)
        if granted is not None and granted["client_id"] == client_id and str(granted["user_id"]) == sub:
            await store.revoke_sessions(conn, "logged out (OpenID Connect)", session_id=sid)

    @staticmethod
    def _oidc_logged_out(uri: str | None, state: str | None) -> dict[str, Any]:
        if uri is None:
            return {"page": "logged_out"}
        return {"redirect": wire.with_query(uri, {"state": state})}

    # -- clients ------------------------------------------------------------------------------
    @rpc("auth:oidc-client:write", feature=FEATURE)
    async def oidc_create_client(self, caller: Principal, name: str, redirect_uris: list[str], *,
                                 post_logout_redirect_uris: list[str] | None = None,
                                 scopes: list[str] | None = None, public: bool = False, trusted: bool = False,
                                 tenant: str = "") -> dict[str, Any]:
        """Register a relying party; a confidential one's ``client_secret`` is shown only now."""
        tenant = fields.check_tenant(tenant)
        access.require_in_tenant(caller, "auth:oidc-client:write", "oidc-client", tenant)
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 64 or not name.isprintable():
            raise OidcInvalidClientMetadata("name must be 1-64 printable characters", field="name")
        uris = wire.check_redirect_uris(redirect_uris)
        logout_uris = wire.check_redirect_uris(post_logout_redirect_uris or [], "post_logout_redirect_uris",
                                               required=False)
        allowed = wire.check_scopes(list(wire.SCOPES) if scopes is None else scopes)
        secret = None if public else credentials.new_secret(SECRET_PREFIX)
        try:
            async with self._acquire() as conn:  # type: ignore[attr-defined]
                row = await pstore.insert_client(
                    conn, tenant=tenant, name=name.strip(),
                    secret_digest=credentials.digest(secret) if secret else None, redirect_uris=uris,
                    post_logout_redirect_uris=logout_uris, scopes=allowed, trusted=bool(trusted))
        except asyncpg.UniqueViolationError:
            raise OidcClientExists(name=name.strip(), tenant=tenant) from None
        out = public_client(row)
        if secret:
            out["client_secret"] = secret
        return out

    @rpc("auth:oidc-client:list", feature=FEATURE)
    async def oidc_list_clients(self, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
        """Registered relying parties (every tenant for an ``@any`` caller, else the caller's own)."""
        action = "auth:oidc-client:list"
        if tenant is None and access.across_tenants(caller, action, "oidc-client"):
            scope = None  # every tenant's
        else:  # the tenant asked for, else the caller's own ("" the default tenant), as registering asks it
            scope = fields.check_tenant((caller.tenant or "") if tenant is None else tenant)
            access.require_in_tenant(caller, action, "oidc-client", scope)
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            rows = await pstore.list_clients(conn, scope)
        return [public_client(r) for r in rows]

    @rpc("auth:oidc-client:delete", feature=FEATURE)
    async def oidc_delete_client(self, caller: Principal, client_id: str) -> None:
        """Remove a relying party; its codes and the sessions' grants to it go with it."""
        action = "auth:oidc-client:delete"
        row = await self._oidc_client(client_id)
        if row is None:  # whether it exists is told only to callers allowed to remove clients at all
            access.gate().require(caller, action, {"type": "oidc-client"})
            raise OidcClientNotFound(client_id=_printable(client_id, 64))
        access.require_in_tenant(caller, action, "oidc-client", row["tenant"])
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            if not await pstore.delete_client(conn, row["id"]):
                raise OidcClientNotFound(client_id=str(client_id)[:64])

    async def prune(self, keep_s: int | None = None) -> int:
        """Also forget authorization requests and codes that expired more than ``keep_s`` ago."""
        ended = await super().prune(keep_s)  # type: ignore[misc]
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            await pstore.prune(conn, self.config.prune_keep_s if keep_s is None else keep_s)
        return ended
