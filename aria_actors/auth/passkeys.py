"""WebAuthn passkeys: registration, passwordless login, second factor (py_webauthn 3).

Ceremonies::

    passkey_register_options(user) -> {ceremony, options}      a user's own session
        navigator.credentials.create(options) -> passkey_register(ceremony, credential, label)
    passkey_login_options([username]) -> {ceremony, options}   public; no username: discoverable
        navigator.credentials.get(options) -> passkey_login(ceremony, credential) -> tokens
    login(username, password) -> {mfa_required, challenge, passkey: options}
        navigator.credentials.get(options) -> login_passkey(challenge, credential) -> tokens

Guarantees and caveats
----------------------
- The relying party id and the accepted origins come from the settings (``passkey_rp_id``,
  ``passkey_origins``), never from a request: a passkey made for another site, or a ceremony run
  on an origin not listed, does not verify.
- A ceremony's challenge (32 random bytes) is kept server-side under the digest of an opaque
  handle (``aria_pk_...``) the client sends back with the credential. It is spent by the first
  finish that names it, whether that verifies or not, and lives ``passkey_timeout_s``; a
  registration's is bound to the user who asked for it. The second factor needs no ceremony of its
  own: its challenge is derived from the login's MFA challenge (a 256-bit secret only the client
  that gave the password holds), which is single use, expires and counts attempts as for TOTP.
- User verification (PIN, biometrics) follows ``passkey_user_verification`` for registration and
  passwordless logins ("required" by default: an authenticator that did not verify the user is
  refused). As a second factor after a password it is not required.
- Sign counter: an assertion whose counter does not exceed the stored one (when either is
  non-zero) comes from a cloned authenticator, or one replayed from a copy. It is refused, only
  after its signature verified (a forged one cannot disable somebody's passkey), the passkey is
  disabled for good (``disabled_why``), and a warning is logged with the user and credential.
  Authenticators that keep no counter (always 0, as synced passkeys do) pass. Two assertions of
  one authenticator that arrive out of order look the same, so a passkey used concurrently from
  two tabs can be disabled: register it again.
- A passwordless login opens a session with ``amr`` ``["hwk", "user"]`` when the user was
  verified, ``["hwk"]`` otherwise; the second factor gives ``["pwd", "mfa", "hwk"(, "user")]``.
  The user must be enabled and not locked out; a passkey login does not reset the password's
  failure count. A passwordless login asked with a username and tenant answers the usernames it
  finds with that user's passkeys (``allowCredentials``), which tells whether that user has any.
- A user with at least one enabled passkey registered as a second factor (``second_factor``, the
  default) gets the MFA step after a correct password, answered with a passkey
  (``POST /v1/auth/login/passkey``) or, when TOTP is on too, a code (``/login/mfa``). A failed
  passkey assertion spends one of the challenge's attempts; it does not count toward the
  password lockout (a signature cannot be guessed).
- Credentials in requests are bounded (each base64url field has a size limit, ``rawId`` is at
  most 1023 bytes) and anything malformed or unverifiable is a 4xx problem, never a 500.
- The tables (migration 0006) carry no tenant and are not granted to the tenant role: work on
  them runs as the service and, for a tenant-scoped caller, is confined to its tenant at the end of
  the transaction (the user must be the tenant's, or it all rolls back), as sessions are.
- Anyone may start a passwordless ceremony (a row each, pruned once ended): rate-limit the route.
- Registering needs the user's own session (an OpenID client's token, with ``azp``, never may)
  opened by a password or a passkey (``amr`` ``pwd`` or ``hwk``: not single sign-on) at most
  ``passkey_reauth_s`` ago, by the session's creation time in the database (a refresh does not
  make it fresh), plus ``passkey_timeout_s`` for finishing a ceremony begun in time; else 401
  ``passkey-reauth-required`` (log in again). So a stolen session token alone cannot plant a
  lasting way into the account.
- Only a passkey marked ``second_factor`` answers the MFA step (those are the ones it offers); one
  turned off is for passwordless logins only.
- A user's own session may delete its passkeys and turn their second-factor role off without a
  fresh assertion; an administrator (``auth:user:write``) may delete anyone's.
- Passkeys outlive sessions and passwords: ending every session (``revoke_all``) or a password
  change, an administrator's reset included, leaves them enabled (accounts does not yet tell this
  part an administrator reset the password). After a suspected takeover, list the user's passkeys
  and remove those not theirs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from aria_actors.auth import access, credentials, passkeys_store, store
from aria_actors.auth import users as fields
from aria_actors.auth.accounts import ME, RESET_FAILURES, _confine, _now, _uuid
from aria_actors.auth.errors import AccountDisabled, AccountLocked, InvalidChallenge, UserNotFound
from aria_actors.auth.passkeys_errors import (
    PasskeyBadRequest,
    PasskeyChallengeExpired,
    PasskeyChallengeInvalid,
    PasskeyCloned,
    PasskeyDisabled,
    PasskeyExists,
    PasskeyInvalid,
    PasskeyLimit,
    PasskeyMalformed,
    PasskeyNotFound,
    PasskeyReauthRequired,
)
from aria_actors.runtime.errors import AriaError, Forbidden, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable

    from aria_actors.auth.config import AuthSettings

log = logging.getLogger("aria.auth.passkeys")

CEREMONY_PREFIX = "aria_pk_"
MFA_CONTEXT = b"aria_auth passkey second factor\x00"  # what the second factor's challenge is derived with
CHALLENGE_BYTES = 32
MAX_CREDENTIAL_ID = 1023  # bytes (WebAuthn Level 3, 6.1)
LABEL_MAX = 64
B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
# Longest base64url text accepted per field (characters): generous for real authenticators
# (a packed attestation with a certificate chain is a few KB), small enough to refuse junk.
LIMITS = {"id": 1400, "rawId": 1400, "clientDataJSON": 8192, "attestationObject": 65536,
          "authenticatorData": 8192, "signature": 2048, "userHandle": 128, "publicKey": 4096}
TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


# -- the ceremonies' pure parts (no database) -----------------------------------------------------
def _b64(value: object, field: str, *, required: bool = True) -> str | None:
    """``value`` as unpadded base64url text within its field's limit (None: absent and optional)."""
    if (value is None or value == "") and not required:  # some clients send "" for an absent userHandle
        return None
    if not isinstance(value, str) or not value or len(value) > LIMITS[field] or not B64URL.match(value):
        raise PasskeyMalformed(f"{field} must be base64url text of at most {LIMITS[field]} characters",
                               field=field)
    return value.rstrip("=")


def check_credential(value: object, kind: str) -> dict[str, Any]:
    """A PublicKeyCredential's JSON (``toJSON()``) reduced to the fields verification reads, each
    bounded; ``kind``: "registration" (an attestation) or "authentication" (an assertion)."""
    if not isinstance(value, dict):
        raise PasskeyMalformed("the credential must be a PublicKeyCredential JSON object", field="credential")
    if value.get("type") != "public-key":
        raise PasskeyMalformed("the credential's type must be 'public-key'", field="type")
    raw_id = _b64(value.get("rawId"), "rawId")
    cred_id = _b64(value.get("id", raw_id), "id")
    if cred_id != raw_id:
        raise PasskeyMalformed("id and rawId differ", field="id")
    response = value.get("response")
    if not isinstance(response, dict):
        raise PasskeyMalformed("the credential has no response object", field="response")
    if kind == "registration":
        required, optional = ("clientDataJSON", "attestationObject"), ("authenticatorData", "publicKey")
    else:
        required, optional = ("clientDataJSON", "authenticatorData", "signature"), ("userHandle",)
    out: dict[str, Any] = {f: _b64(response.get(f), f) for f in required}
    out.update({f: v for f in optional if (v := _b64(response.get(f), f, required=False))})
    if kind == "registration":
        transports = response.get("transports", [])
        if not isinstance(transports, list) or len(transports) > 8 \
                or not all(isinstance(t, str) and len(t) <= 32 for t in transports):
            raise PasskeyMalformed("transports must be a list of at most 8 short names", field="transports")
        out["transports"] = [t for t in transports if t in TRANSPORTS]
    if len(raw_id_bytes(raw_id)) > MAX_CREDENTIAL_ID:
        raise PasskeyMalformed(f"rawId is longer than {MAX_CREDENTIAL_ID} bytes", field="rawId")
    return {"id": raw_id, "rawId": raw_id, "type": "public-key", "response": out}


def _decoded(text: str) -> bytes | None:
    """base64url text's bytes; None when it does not decode (a length no encoder produces)."""
    try:
        return base64url_to_bytes(text)
    except ValueError:  # binascii.Error
        return None


def raw_id_bytes(raw_id: str | None) -> bytes:
    data = _decoded(raw_id or "")
    if data is None:
        raise PasskeyMalformed("rawId is not base64url", field="rawId")
    if not data:
        raise PasskeyMalformed("rawId is empty", field="rawId")
    return data


def check_label(label: object) -> str:
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX or not label.isprintable():
        raise PasskeyBadRequest(f"label must be 1-{LABEL_MAX} printable characters", field="label")
    return label.strip()


def user_handle(user_id: uuid.UUID) -> bytes:
    """The WebAuthn user handle of a user: its id's 16 bytes (no personal data, as the spec asks)."""
    return user_id.bytes


def mfa_challenge(challenge: str) -> bytes:
    """The WebAuthn challenge of a login's MFA step, derived from its (secret, single-use) challenge."""
    return hashlib.sha256(MFA_CONTEXT + challenge.encode()).digest()


def _uv(policy: str) -> UserVerificationRequirement:
    return UserVerificationRequirement(policy)


def _descriptors(rows: list[Any]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=bytes(r["credential_id"]),
                                          transports=[AuthenticatorTransport(t) for t in r["transports"]
                                                      if t in TRANSPORTS] or None)
            for r in rows]


def registration_options(config: AuthSettings, user: Any, existing: list[Any], challenge: bytes) -> dict[str, Any]:
    """``navigator.credentials.create()``'s ``publicKey`` options (JSON) for ``user``."""
    name = f"{user['username']}@{user['tenant']}" if user["tenant"] else user["username"]
    options = generate_registration_options(
        rp_id=config.passkey_rp_id, rp_name=config.passkey_rp_name, user_name=name,
        user_id=user_handle(user["id"]), user_display_name=user["display_name"] or name, challenge=challenge,
        timeout=config.passkey_timeout_s * 1000, exclude_credentials=_descriptors(existing),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=_uv(config.passkey_user_verification)))
    return json.loads(options_to_json(options))


def authentication_options(config: AuthSettings, challenge: bytes, allow: list[Any], user_verification: str
                           ) -> dict[str, Any]:
    """``navigator.credentials.get()``'s ``publicKey`` options (JSON); no ``allow``: discoverable."""
    options = generate_authentication_options(
        rp_id=config.passkey_rp_id, challenge=challenge, timeout=config.passkey_timeout_s * 1000,
        allow_credentials=_descriptors(allow), user_verification=_uv(user_verification))
    return json.loads(options_to_json(options))


def verify_registration(config: AuthSettings, credential: dict[str, Any], challenge: bytes) -> Any:
    """py_webauthn's VerifiedRegistration of a checked credential; PasskeyInvalid when it does not verify."""
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=config.passkey_rp_id,
            expected_origin=list(config.passkey_origins),
            require_user_verification=config.passkey_user_verification == "required")
    except Exception as exc:  # py_webauthn, base64, CBOR, cryptography: each a bad response, never a 500
        raise PasskeyInvalid(f"the registration does not verify: {brief(exc, 200)}") from None
    if verified.credential_id != raw_id_bytes(credential["rawId"]):
        raise PasskeyInvalid("the registration does not verify: rawId is not the attested credential's id")
    return verified


def verify_assertion(config: AuthSettings, credential: dict[str, Any], challenge: bytes, public_key: bytes, *,
                     require_user_verification: bool) -> Any:
    """py_webauthn's VerifiedAuthentication, the sign counter left to :func:`counter_went_back`
    (checked only after the signature verified); PasskeyInvalid when it does not verify."""
    try:
        return verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=config.passkey_rp_id,
            expected_origin=list(config.passkey_origins), credential_public_key=public_key,
            credential_current_sign_count=0, require_user_verification=require_user_verification)
    except Exception as exc:  # as in verify_registration
        raise PasskeyInvalid(f"the assertion does not verify: {brief(exc, 200)}") from None


def counter_went_back(stored: int, new: int) -> bool:
    """Whether an assertion's sign counter shows a cloned authenticator (WebAuthn 7.2 step 21)."""
    return (stored > 0 or new > 0) and new <= stored


def session_amr(user_verified: bool, *, after_password: bool = False) -> list[str]:
    """RFC 8176 methods of a session opened with a passkey."""
    proof = ["hwk", "user"] if user_verified else ["hwk"]
    return ["pwd", "mfa", *proof] if after_password else proof


PRIMARY_AMR = frozenset({"pwd", "hwk"})  # a password or a passkey opened the session (RFC 8176)


def login_is_fresh(session: Any, max_age_s: float) -> str | None:
    """Why a session may not register a passkey (``"method"``, ``"age"``), or None when its
    login (a password or a passkey, at most ``max_age_s`` ago) is recent enough."""
    if not PRIMARY_AMR & set(session["amr"]):
        return "method"
    if session["age_s"] > max_age_s:
        return "age"
    return None


def check_settings(config: AuthSettings) -> None:
    """Refuse origins that are not ``scheme://host[:port]`` (a browser reports exactly that)."""
    for origin in config.passkey_origins:
        if not re.match(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$", origin) and not origin.startswith("android:"):
            raise ValueError(f"passkey_origins: {origin!r} is not scheme://host[:port]")


# -- the service's part -----------------------------------------------------------------------------
class Passkeys:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    if TYPE_CHECKING:  # set or provided by Accounts
        config: AuthSettings
        _passkey_pruner: asyncio.Task[None] | None

        async def _tx(self, fn: Callable[[asyncpg.Connection], Awaitable[Any]], *, tenant: str | None = None,
                      readonly: bool = False) -> Any: ...
        async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[Any]], *, tenant: str | None,
                       readonly: bool = False) -> Any: ...
        async def _user(self, user_id: str, tenant: str | None = None) -> dict[str, Any]: ...
        def _refuse_locked(self, row: Any) -> None: ...
        async def _open_session(self, conn: asyncpg.Connection, user: Any, amr: list[str],
                                user_agent: str | None, address: str | None) -> dict[str, Any]: ...
        def _acquire(self) -> Any: ...

    async def _start_passkeys(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        check_settings(self.config)
        self._passkey_pruner = periodic(self.config.prune_interval_s, self._prune_passkey_ceremonies,
                                        what="pruning passkey ceremonies", log=log)

    async def _stop_passkeys(self) -> None:
        """Called by the service's stop before the pool closes."""
        await stop_task(getattr(self, "_passkey_pruner", None))
        self._passkey_pruner = None

    async def _prune_passkey_ceremonies(self) -> int:
        async with self._acquire() as conn:
            return await passkeys_store.prune_ceremonies(conn, self.config.prune_keep_s)

    # -- registration (a user's own session) ----------------------------------------------------
    async def _require_fresh_login(self, caller: Principal, user_id: str, *, grace_s: int = 0) -> None:
        """Refuse a registration unless the caller is the user's own session, opened by a password
        or a passkey at most ``passkey_reauth_s`` (+ ``grace_s``) ago; a stolen session token
        alone must not plant a lasting way in. An OpenID client's token (``azp``) never may."""
        if (caller.claims or {}).get("azp"):
            raise Forbidden("an OpenID client's token may not register passkeys: the user registers them "
                            "in Aria with their own session", action="passkey-register")
        access.require_self(caller, user_id)
        if caller.is_internal:  # a service acting for itself holds every permission anyway
            return
        sid = caller.session
        try:
            session_id = uuid.UUID(str(sid))
        except ValueError:
            raise PasskeyReauthRequired(reason="method") from None
        row = await self._run(lambda conn: passkeys_store.session_login(conn, session_id), tenant=None,
                              readonly=True)
        if row is None or row["ended"] or str(row["user_id"]) != caller.subject:
            raise PasskeyReauthRequired(reason="method")
        why = login_is_fresh(row, self.config.passkey_reauth_s + grace_s)
        if why is not None:
            raise PasskeyReauthRequired(reason=why)

    @rpc(feature="biometric")
    async def passkey_register_options(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """Start registering a passkey (one's own): ``{"ceremony", "options", "expires_in"}``;
        hand ``options`` to ``navigator.credentials.create({publicKey: options})``. The session's
        password or passkey login must be at most ``passkey_reauth_s`` old."""
        await self._require_fresh_login(caller, user_id)
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        uid = _uuid(user_id)
        handle = credentials.new_secret(CEREMONY_PREFIX)
        challenge = secrets.token_bytes(CHALLENGE_BYTES)

        async def begin(conn: asyncpg.Connection) -> tuple[Any, list[Any]]:
            existing = await passkeys_store.passkeys_of(conn, uid)
            if len(existing) >= self.config.passkey_max_per_user:
                raise PasskeyLimit(limit=self.config.passkey_max_per_user)
            await passkeys_store.insert_ceremony(conn, credentials.digest(handle), "register", challenge,
                                                 user_id=uid, named=True, tenant="",
                                                 ttl_s=self.config.passkey_timeout_s)
            await _confine(conn, scope)
            user = await store.user(conn, uid)  # the tenant's, for a tenant-scoped caller
            if user is None:
                raise UserNotFound(user_id=str(user_id))
            return user, existing

        user, existing = await self._tx(begin)
        return {"ceremony": handle, "options": registration_options(self.config, user, existing, challenge),
                "expires_in": self.config.passkey_timeout_s}

    @rpc(feature="biometric")
    async def passkey_register(self, caller: Principal, user_id: str, ceremony: str, credential: dict[str, Any], *,
                               label: str = "passkey", second_factor: bool = True) -> dict[str, Any]:
        """Finish registering (one's own): the ceremony's handle and what ``credentials.create()``
        gave (its JSON); the new passkey. ``second_factor``: ask for it after a password login.
        The ceremony lives ``passkey_timeout_s``, so the login may be that much older here."""
        await self._require_fresh_login(caller, user_id, grace_s=self.config.passkey_timeout_s)
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        uid = _uuid(user_id)
        label = check_label(label)
        if not isinstance(second_factor, bool):
            raise PasskeyBadRequest("second_factor must be true or false", field="second_factor")
        if not credentials.has_prefix(ceremony, CEREMONY_PREFIX):
            raise PasskeyChallengeInvalid()
        cred = check_credential(credential, "registration")
        digest = credentials.digest(ceremony)

        async def register(conn: asyncpg.Connection) -> tuple[Any, AriaError | None]:
            ch = await passkeys_store.ceremony_for_update(conn, digest)
            if ch is None or ch["purpose"] != "register" or ch["user_id"] != uid or ch["used_at"] is not None:
                raise PasskeyChallengeInvalid()
            await passkeys_store.use_ceremony(conn, digest)  # spent, whatever follows
            if ch["expired"]:
                return None, PasskeyChallengeExpired()
            if await store.user_secrets(conn, uid, lock=True) is None:  # locked: registrations count in turn
                raise UserNotFound(user_id=str(user_id))
            if await passkeys_store.count_passkeys(conn, uid) >= self.config.passkey_max_per_user:
                return None, PasskeyLimit(limit=self.config.passkey_max_per_user)
            try:
                verified = verify_registration(self.config, cred, bytes(ch["challenge"]))
            except PasskeyInvalid as exc:
                return None, exc
            row = await passkeys_store.insert_passkey(
                conn, user_id=uid, credential_id=verified.credential_id, public_key=verified.credential_public_key,
                sign_count=verified.sign_count, transports=cred["response"].get("transports", []),
                aaguid=verified.aaguid, label=label, second_factor=second_factor,
                user_verified=verified.user_verified, backed_up=verified.credential_backed_up,
                device_type=str(getattr(verified.credential_device_type, "value", verified.credential_device_type)))
            return (row, None) if row is not None else (None, PasskeyExists())

        async def attempt(conn: asyncpg.Connection) -> tuple[Any, AriaError | None]:
            outcome = await register(conn)
            await _confine(conn, scope, uid)  # none of it, unless the user is the tenant's
            return outcome

        row, error = await self._tx(attempt)
        if error is not None:
            raise error  # after the commit: the ceremony is spent
        log.info("passkey %s registered for user %s (%s)", row["id"], uid, row["aaguid"])
        return passkeys_store.public(row)

    @rpc(feature="biometric")
    async def passkeys(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's passkeys: one's own, or any user's with ``auth:user:read`` on its tenant."""
        scope = access.rls_tenant(caller, "auth:user:read", "user")
        await access.self_or_allowed(caller, user_id, "auth:user:read", lambda: self._user(user_id, scope))
        uid = _uuid(user_id)

        async def read(conn: asyncpg.Connection) -> list[Any]:
            rows = await passkeys_store.passkeys_of(conn, uid)
            await _confine(conn, scope, uid)
            return rows

        rows = await (self._tx(read, readonly=True) if scope else self._run(read, tenant=None))
        return [passkeys_store.public(r) for r in rows]

    @rpc(feature="biometric")
    async def passkey_update(self, caller: Principal, user_id: str, passkey_id: str, *, label: str | None = None,
                             second_factor: bool | None = None) -> dict[str, Any]:
        """Rename a passkey or change whether a password login asks for it (one's own, or with
        ``auth:user:write``). A disabled passkey stays disabled."""
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        await access.self_or_allowed(caller, user_id, "auth:user:write", lambda: self._user(user_id, scope))
        uid, pid = _uuid(user_id), self._passkey_id(passkey_id)
        label = check_label(label) if label is not None else None
        if second_factor is not None and not isinstance(second_factor, bool):
            raise PasskeyBadRequest("second_factor must be true or false", field="second_factor")

        async def change(conn: asyncpg.Connection) -> Any:
            row = await passkeys_store.update_passkey(conn, pid, uid, label=label, second_factor=second_factor)
            await _confine(conn, scope, uid)
            if row is None:
                raise PasskeyNotFound(passkey_id=str(passkey_id))
            return row

        return passkeys_store.public(await self._tx(change))

    @rpc(feature="biometric")
    async def passkey_revoke(self, caller: Principal, user_id: str, passkey_id: str) -> None:
        """Remove a passkey: one's own, or any user's with ``auth:user:write`` on its tenant."""
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        await access.self_or_allowed(caller, user_id, "auth:user:write", lambda: self._user(user_id, scope))
        uid, pid = _uuid(user_id), self._passkey_id(passkey_id)

        async def remove(conn: asyncpg.Connection) -> None:
            deleted = await passkeys_store.delete_passkey(conn, pid, uid)
            await _confine(conn, scope, uid)
            if not deleted:
                raise PasskeyNotFound(passkey_id=str(passkey_id))

        await self._tx(remove)
        log.info("passkey %s of user %s removed by %s", pid, uid, caller.subject)

    @staticmethod
    def _passkey_id(value: object) -> uuid.UUID:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise PasskeyNotFound(passkey_id=str(value)[:64]) from None

    # -- passwordless login (public) ------------------------------------------------------------
    @rpc(public=True, feature="biometric")
    async def passkey_login_options(self, caller: Principal, username: str | None = None, *,
                                    tenant: str = "") -> dict[str, Any]:
        """Start a passwordless login: ``{"ceremony", "options", "expires_in"}`` for
        ``navigator.credentials.get({publicKey: options})``. Without a username the browser offers
        the passkeys it holds for this site (discoverable credentials)."""
        if not isinstance(tenant, str) or not fields.TENANT.match(tenant):
            raise PasskeyBadRequest("tenant must be empty or a tenant name", field="tenant")
        if username is not None and (not isinstance(username, str) or not 1 <= len(username) <= 64):
            raise PasskeyBadRequest("username must be 1-64 characters", field="username")
        user = None
        if username is not None:  # found within the tenant only, as a password login does
            user = await self._tx(lambda conn: store.user_for_login(conn, tenant, username), tenant=tenant,
                                  readonly=True)
        handle = credentials.new_secret(CEREMONY_PREFIX)
        challenge = secrets.token_bytes(CHALLENGE_BYTES)

        async def begin(conn: asyncpg.Connection) -> list[Any]:
            allow = await passkeys_store.usable_passkeys(conn, user["id"]) if user is not None else []
            await passkeys_store.insert_ceremony(conn, credentials.digest(handle), "login", challenge,
                                                 user_id=user["id"] if user is not None else None,
                                                 named=username is not None, tenant=tenant,
                                                 ttl_s=self.config.passkey_timeout_s)
            return allow

        allow = await self._tx(begin)
        options = authentication_options(self.config, challenge, allow, self.config.passkey_user_verification)
        return {"ceremony": handle, "options": options, "expires_in": self.config.passkey_timeout_s}

    @rpc(public=True, features=("sessions", "biometric"))
    async def passkey_login(self, caller: Principal, ceremony: str, credential: dict[str, Any], *,
                            user_agent: str | None = None, address: str | None = None) -> dict[str, Any]:
        """Finish a passwordless login: the ceremony's handle and what ``credentials.get()`` gave
        (its JSON) -> tokens of a new session."""
        if not credentials.has_prefix(ceremony, CEREMONY_PREFIX):
            raise PasskeyChallengeInvalid()
        cred = check_credential(credential, "authentication")
        raw_id = raw_id_bytes(cred["rawId"])
        digest = credentials.digest(ceremony)
        require_uv = self.config.passkey_user_verification == "required"

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, AriaError | None, Any]:
            ch = await passkeys_store.ceremony_for_update(conn, digest)
            if ch is None or ch["purpose"] != "login" or ch["used_at"] is not None:
                raise PasskeyChallengeInvalid()
            await passkeys_store.use_ceremony(conn, digest)  # spent, whatever follows
            if ch["expired"]:
                return None, PasskeyChallengeExpired(), None
            key = await passkeys_store.passkey_for_credential(conn, raw_id)
            if key is None or (ch["named"] and key["user_id"] != ch["user_id"]):
                return None, PasskeyInvalid("this passkey is not registered here (for this user)"), None
            user = await store.user_secrets(conn, key["user_id"], lock=True)
            if user is None or user["tenant"] != ch["tenant"]:
                return None, PasskeyInvalid("this passkey is not registered here (for this tenant)"), None
            verified, error = await self._check_assertion(conn, key, user, cred, bytes(ch["challenge"]), require_uv)
            if verified is None:
                return None, error, key
            await store.update_user(conn, user["id"], {"last_login_at": _now()})
            amr = session_amr(verified.user_verified)
            return await self._open_session(conn, user, amr, user_agent, address), None, key

        tokens, error, key = await self._tx(attempt)
        if tokens is not None:
            return tokens
        raise await self._after(error, key)

    # -- second factor after a password ---------------------------------------------------------
    async def _second_factor_offer(self, conn: asyncpg.Connection, user: Any, challenge: str
                                   ) -> dict[str, Any] | None:
        """``{"passkey": options}`` for a password login's MFA step when the user has a passkey
        registered as a second factor (called by :meth:`Accounts.login` in its transaction)."""
        keys = await passkeys_store.second_factor_passkeys(conn, user["id"])
        if not keys:
            return None
        return {"passkey": authentication_options(self.config, mfa_challenge(challenge), keys, "discouraged")}

    @rpc(public=True, features=("mfa", "biometric"))
    async def login_passkey(self, caller: Principal, challenge: str, credential: dict[str, Any], *,
                            user_agent: str | None = None, address: str | None = None) -> dict[str, Any]:
        """Second login step with a passkey: the challenge from :meth:`login` and what
        ``credentials.get(login's "passkey" options)`` gave -> tokens."""
        if not credentials.has_prefix(challenge, credentials.CHALLENGE_PREFIX):
            raise InvalidChallenge()
        cred = check_credential(credential, "authentication")
        raw_id = raw_id_bytes(cred["rawId"])
        digest = credentials.digest(challenge)
        expected = mfa_challenge(challenge)

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, AriaError | None, Any]:
            ch = await store.challenge_for_update(conn, digest)
            if ch is None or ch["used_at"] is not None or ch["expired"] \
                    or ch["attempts"] >= self.config.mfa_challenge_attempts:
                raise InvalidChallenge()
            user = await store.user_secrets(conn, ch["user_id"], lock=True)
            if user is None:
                raise InvalidChallenge()
            key = await passkeys_store.passkey_for_credential(conn, raw_id)
            if key is None or key["user_id"] != user["id"]:
                verified, error = None, PasskeyInvalid("this passkey is not one of this user's")
            elif not key["second_factor"]:  # what the MFA step offered: a passwordless-only one is not
                verified, error = None, PasskeyInvalid("this passkey is not registered as a second factor "
                                                       "(turn its second_factor on to use it here)")
            else:
                verified, error = await self._check_assertion(conn, key, user, cred, expected, False)
            await store.update_challenge(conn, digest, used=verified is not None)  # an attempt, spent or not
            if verified is None:
                return None, error, key
            await store.update_user(conn, user["id"], RESET_FAILURES | {"last_login_at": _now()})
            amr = session_amr(verified.user_verified, after_password=True)
            return await self._open_session(conn, user, amr, user_agent, address), None, key

        tokens, error, key = await self._tx(attempt)
        if tokens is not None:
            return tokens
        raise await self._after(error, key)

    async def _check_assertion(self, conn: asyncpg.Connection, key: Any, user: Any, cred: dict[str, Any],
                               challenge: bytes, require_uv: bool) -> tuple[Any, AriaError | None]:
        """(VerifiedAuthentication, None) once ``cred`` is a valid assertion of ``key`` (its counter
        stored), else (None, why). Errors are returned, not raised, so that what the caller spent
        (a ceremony, a challenge attempt) and a clone's disabling commit."""
        if key["disabled_at"] is not None:
            return None, PasskeyDisabled(passkey_id=str(key["id"]))
        handle = cred["response"].get("userHandle")
        if handle is not None and _decoded(handle) != user_handle(user["id"]):
            return None, PasskeyInvalid("the assertion's user handle is not the passkey's user")
        try:
            verified = verify_assertion(self.config, cred, challenge, bytes(key["public_key"]),
                                        require_user_verification=require_uv)
        except PasskeyInvalid as exc:
            return None, exc
        if counter_went_back(key["sign_count"], verified.new_sign_count):
            why = f"sign count went back from {key['sign_count']} to {verified.new_sign_count}: a cloned authenticator"
            await passkeys_store.disable_passkey(conn, key["id"], why)
            return None, PasskeyCloned(passkey_id=str(key["id"]))
        if user["disabled"]:
            return None, AccountDisabled(user_id=str(user["id"]))
        try:
            self._refuse_locked(user)
        except AccountLocked as exc:
            return None, exc
        await passkeys_store.passkey_used(conn, key["id"], verified.new_sign_count, verified.credential_backed_up)
        return verified, None

    async def _after(self, error: AriaError | None, key: Any) -> AriaError:
        """The error to raise once a failed attempt committed; a clone is logged and audited."""
        if isinstance(error, PasskeyCloned) and key is not None:
            log.warning("passkey %s of user %s disabled: its sign counter went back (cloned authenticator)",
                        key["id"], key["user_id"])
            try:
                await self._security.record_events(ME, [{  # type: ignore[attr-defined]
                    "op": "passkey-cloned", "outcome": "alert", "target": f"passkey {key['id']}",
                    "subject": str(key["user_id"])}])
            except Exception as exc:  # the refusal stands; losing its record must not hide it
                log.warning("cannot audit the cloned passkey %s: %s", key["id"], type(exc).__name__)
        return error if error is not None else PasskeyInvalid()
