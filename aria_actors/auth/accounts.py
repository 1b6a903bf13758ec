"""Users, logins, sessions and MFA over aria_auth's tables: the logic of the service, Ray-free.

Login flow::

    login(username, password) --MFA off--> tokens            (session amr=[pwd])
                              --MFA on---> challenge --login_mfa(challenge, code)--> tokens
    (a passkey registered as a second factor turns the MFA step on too: login_passkey, passkeys.py)
    refresh(refresh_token) -> tokens (a new refresh token; the old one is spent)
    logout(refresh_token) / revoke_session(...) -> the session ends

Guarantees and caveats
----------------------
- Tokens: the access token is a JWT signed by aria_security (claims ``sub`` = user id, ``sid``,
  ``roles``, ``tenant``, ``amr``); the refresh token is opaque and stored only as a digest.
- Refresh-token rotation with reuse detection (OAuth 2.0 Security BCP, RFC 9700 4.14.2): a
  refresh token works once. If a spent one comes back, someone holds a copy, and the session it
  belongs to is ended. Two clients refreshing one token at the same moment therefore end their
  session (there is no grace window); share a session only behind one refresher.
- A refresh, a login and an MFA step are each one transaction that includes signing the access
  token: if aria_security fails, nothing was spent and the old refresh token still works.
- Every transaction goes through aria_data's ``Database.transaction``: read committed (row
  locks, ``FOR UPDATE``, order the racing writers) and retried, bounded, on a deadlock. What a
  repeated attempt would do again outside the database happens once: an MFA secret is decrypted
  once per call, argon2 rehashing runs before the transaction, and the access token is signed as
  the transaction's last step, after which only the COMMIT runs (at read committed a COMMIT
  fails with no serialization failure or deadlock, so an attempt that signed is not retried).
- Tenants: users and clients are under row-level security (migration 0003). Everything a
  tenant-scoped caller (one whose permission is not ``@any``, a user's own session included) does
  runs confined to the caller's own tenant, records by id too (:func:`access.rls_tenant`): a
  permission check that wrongly lets it through finds no other tenant's user or client (404).
  Sessions, refresh tokens and challenges carry no tenant and are not granted to the tenant role:
  an operation on them ends its transaction confined to the tenant, where the user must be found,
  or all of it rolls back. What concerns one named tenant (creating a user or client in it, listing
  it, finding a login's user by tenant and username) runs confined to that tenant for every
  caller. Work across tenants (an ``@any`` caller's records by id and lists of every tenant,
  refresh and introspection) runs as the service. The empty tenant (the default of a
  single-tenant deployment) is no tenant for row-level security: its operations run as the
  service and keep to their WHERE clause.
- Roles, ``disabled`` and the session's state are read on every refresh, so a role change reaches
  a session at its next refresh and a disabled user cannot refresh. Until then an access token
  keeps the roles it was issued with (at most ``access_ttl_s``); :meth:`introspect` sees
  revocations at once.
- Lockout: ``max_failed_logins`` wrong passwords in a row lock the account for ``lockout_s``,
  doubled for each further lockout in a row (up to ``lockout_max_s``). A correct password during a
  lockout is refused too. An unknown username costs the same argon2 time as a wrong password.
- Changing a password or disabling a user ends every session of that user.
- Every public method is declared (``@rpc``) and takes the caller first; who may act on which
  user is decided here, with :mod:`aria_actors.auth.access`, whichever door the call came through.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from aria_actors.auth import access, credentials, passkeys_store, store, totp
from aria_actors.auth import provider_store as pstore
from aria_actors.auth import users as fields
from aria_actors.auth.config import AuthSettings
from aria_actors.auth.errors import (
    AccountDisabled,
    AccountLocked,
    AuthNotStarted,
    InvalidChallenge,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidRefreshToken,
    InvalidUser,
    MfaState,
    RefreshTokenReused,
    SessionNotFound,
    UserExists,
    UserNotFound,
)
from aria_actors.auth.passwords import PasswordHasher, PasswordPolicy
from aria_actors.data.tenancy import set_tenant
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from aria_actors.data.pool import Database
    from aria_actors.security.client import SecurityClient

T = TypeVar("T")

MFA_KEY = "aria_auth-mfa"  # aria_security transit key that wraps TOTP secrets
SERVICE = "aria_auth"
ME = Principal.internal(SERVICE)  # aria_auth acting for itself: signing, wrapping, verifying
RESET_FAILURES: dict[str, Any] = {"failed_logins": 0, "lockouts": 0, "locked_until": None}


def _uuid(value: object, what: str = "user id") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidUser(f"{what} {str(value)[:64]!r} is not a UUID", field=what.replace(" ", "_")) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _tenant_scope(tenant: str | None) -> str | None:
    """The row-level-security tenant of an operation on ``tenant`` (None: run as the service)."""
    return tenant or None  # the empty tenant is no tenant for row-level security


async def _confine(conn: asyncpg.Connection, tenant: str | None, user_id: uuid.UUID | None = None) -> None:
    """Confine the rest of this transaction to ``tenant`` (None: leave it as the service) and, with
    ``user_id``, refuse unless that user is one of the tenant's.

    For work on sessions, which carry no tenant and which the tenant role may not touch: that work
    comes first, as the service, and a user not found here rolls it back with the transaction.
    """
    if tenant is None:
        return
    await set_tenant(conn, tenant)
    if user_id is not None and await store.user(conn, user_id) is None:
        raise UserNotFound(user_id=str(user_id))


class Accounts:
    def __init__(self, db: Database | None, security: SecurityClient | None, config: AuthSettings,
                 roles: Collection[str] = ()) -> None:
        self.config = config
        self.policy = PasswordPolicy(config.password_min_length)
        self.hasher = PasswordHasher(config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism)
        self._attach(db, security, roles)

    def _attach(self, db: Database | None, security: SecurityClient | None, roles: Collection[str]) -> None:
        """Use this database, aria_security client and role table (the service's start hands them over)."""
        self.db = db
        self.security = security
        self.roles = frozenset(roles)

    @property
    def _security(self) -> SecurityClient:
        if self.security is None:
            raise AuthNotStarted()
        return self.security

    def _database(self) -> Database:
        if self.db is None:
            raise AuthNotStarted()
        return self.db

    def _acquire(self) -> Any:
        """A pooled connection, for one statement (no transaction, nothing to retry)."""
        return self._database().acquire()

    async def _tx(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tenant: str | None = None,
                  readonly: bool = False) -> T:
        """``fn(conn)`` in a read-committed transaction, retried on a deadlock (``fn`` may run again:
        see the module's notes); with a ``tenant``, confined to its rows (``_tenant_scope``)."""
        return await self._database().transaction(fn, tenant=_tenant_scope(tenant), readonly=readonly)

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tenant: str | None,
                   readonly: bool = False) -> T:
        """``fn(conn)`` confined to ``tenant`` (a tenant transaction), or, with none, on a pooled
        connection as the service (one statement: no transaction, nothing to retry)."""
        if _tenant_scope(tenant) is not None:
            return await self._tx(fn, tenant=tenant, readonly=readonly)
        async with self._acquire() as conn:
            return await fn(conn)

    # -- users --------------------------------------------------------------------------------
    @rpc("auth:user:write", feature="dynamic-roles")
    async def create_user(self, caller: Principal, username: str, password: str, *, tenant: str = "",
                          email: str | None = None, display_name: str | None = None,
                          roles: Collection[str] = ("user",)) -> dict[str, Any]:
        """A new user in ``tenant``; granting roles beyond ``user`` needs ``auth:role:assign``."""
        access.gate().require(caller, "auth:user:write", {"type": "user", "tenant": tenant})
        access.may_assign_roles(caller, roles, tenant)
        username = fields.check_username(username)
        row_fields = dict(tenant=fields.check_tenant(tenant), username=username, email=fields.check_email(email),
                          display_name=fields.check_display_name(display_name),
                          roles=fields.check_roles(roles, self.roles))
        self.policy.check(password, username)
        password_hash = await asyncio.to_thread(self.hasher.hash, password)  # argon2 frees the GIL
        try:
            row = await self._tx(lambda conn: store.insert_user(conn, password_hash=password_hash, **row_fields),
                                 tenant=access.rls_tenant(caller, "auth:user:write", "user", row_fields["tenant"]))
        except asyncpg.UniqueViolationError:
            raise UserExists(f"user {username!r} already exists in tenant {tenant!r}",
                             username=username, tenant=tenant) from None
        return fields.public(row)

    @rpc()
    async def get_user(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """A user: one's own (through a session), or any with ``auth:user:read`` on its tenant."""
        scope = access.rls_tenant(caller, "auth:user:read", "user")
        target = await access.self_or_allowed(caller, user_id, "auth:user:read", lambda: self._user(user_id, scope))
        return target if target is not None else await self._user(user_id, scope)

    @rpc(feature="sessions")
    async def me(self, caller: Principal) -> dict[str, Any]:
        """The caller's own user (a user's session token only)."""
        user_id = access.require_session(caller)
        return await self._user(user_id, access.rls_tenant(caller, "auth:user:read", "user"))

    async def _user(self, user_id: str, tenant: str | None = None) -> dict[str, Any]:
        """The user ``user_id``, looked for among ``tenant``'s users (None: among every tenant's)."""
        uid = _uuid(user_id)
        row = await self._run(lambda conn: store.user(conn, uid), tenant=tenant, readonly=True)
        if row is None:
            raise UserNotFound(user_id=str(user_id))
        return fields.public(row, _now())

    @rpc("auth:user:list")
    async def list_users(self, caller: Principal, tenant: str | None = None, after: str = "", limit: int = 100
                         ) -> list[dict[str, Any]]:
        """Users ordered by ``tenant/username``; pass the last one's as ``after`` for the next page.

        Without ``tenant``: every tenant for a caller allowed across tenants, else the caller's own.
        """
        tenant = access.listable_tenant(caller, "auth:user:list", "user", tenant)
        if tenant is not None:
            fields.check_tenant(tenant)
        if not 1 <= limit <= 1000:
            raise InvalidUser("limit must be 1-1000", field="limit")
        # One tenant: confined to its rows (a tenant-scoped caller: to its own whatever it named).
        # None (every tenant, an @any caller): as the service.
        rows = await self._tx(lambda conn: store.list_users(conn, tenant, after.lower(), limit),
                              tenant=access.rls_tenant(caller, "auth:user:list", "user", tenant), readonly=True)
        now = _now()
        return [fields.public(r, now) for r in rows]

    @rpc(feature="dynamic-roles")
    async def update_user(self, caller: Principal, user_id: str, *, roles: Collection[str] | None = None,
                          disabled: bool | None = None, email: str | None = None,
                          display_name: str | None = None, unlock: bool = False) -> dict[str, Any]:
        """Change roles, enable/disable, unlock, profile fields (``auth:user:write`` on the user).

        Even one's own account: a session does not change its own roles or state.
        """
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        target = await access.self_or_allowed(caller, user_id, "auth:user:write", lambda: self._user(user_id, scope))
        if target is None:  # one's own account is changed by an administrator, not by its session
            access.gate().require(caller, "auth:user:write", {"type": "user", "owner": str(user_id)})
            target = await self._user(user_id, scope)
        access.may_assign_roles(caller, roles, target["tenant"])
        changes: dict[str, Any] = {}
        if roles is not None:
            changes["roles"] = fields.check_roles(roles, self.roles)
        if disabled is not None:
            changes["disabled"] = bool(disabled)
        if email is not None:
            changes["email"] = fields.check_email(email)
        if display_name is not None:
            changes["display_name"] = fields.check_display_name(display_name)
        if unlock:
            changes.update(RESET_FAILURES)
        uid = _uuid(user_id)

        async def change(conn: asyncpg.Connection) -> Any:
            if disabled:  # as the service, before _confine: rolled back below if the user is not found
                await store.revoke_sessions(conn, "user disabled", user_id=uid)
            await _confine(conn, scope)
            row = await store.update_user(conn, uid, changes) if changes else await store.user(conn, uid)
            if row is None:
                raise UserNotFound(user_id=str(user_id))
            return row

        return fields.public(await self._tx(change), _now())

    @rpc()
    async def delete_user(self, caller: Principal, user_id: str) -> None:
        """Delete a user and their sessions (``auth:user:delete`` on the user, even one's own)."""
        scope = access.rls_tenant(caller, "auth:user:delete", "user")
        if await access.self_or_allowed(caller, user_id, "auth:user:delete",
                                        lambda: self._user(user_id, scope)) is None:
            access.gate().require(caller, "auth:user:delete", {"type": "user", "owner": str(user_id)})
        uid = _uuid(user_id)
        # Its sessions go with it, confined or not: PostgreSQL runs ON DELETE CASCADE as the tables' owner.
        if not await self._run(lambda conn: store.delete_user(conn, uid), tenant=scope):
            raise UserNotFound(user_id=str(user_id))

    @rpc()
    async def set_password(self, caller: Principal, user_id: str, new_password: str, *,
                           current_password: str | None = None) -> None:
        """Set a password (ends every session); one's own needs the current one.

        A caller with ``auth:user:write`` on the user sets another's without it.
        """
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        own = await access.self_or_allowed(caller, user_id, "auth:user:write",
                                           lambda: self._user(user_id, scope)) is None
        await self._set_password(user_id, new_password, current_password=current_password, check_current=own,
                                 tenant=scope)

    async def _set_password(self, user_id: str, new_password: str, *, current_password: str | None,
                            check_current: bool, tenant: str | None) -> None:
        uid = _uuid(user_id)
        row = await self._run(lambda conn: store.user_secrets(conn, uid), tenant=tenant, readonly=True)
        if row is None:
            raise UserNotFound(user_id=str(user_id))
        if check_current:
            self._refuse_locked(row)
            if not await asyncio.to_thread(self.hasher.verify, row["password_hash"], current_password or ""):
                await self._fail(uid, "the current password is wrong", tenant=tenant)
        self.policy.check(new_password, row["username"])
        password_hash = await asyncio.to_thread(self.hasher.hash, new_password)

        async def change(conn: asyncpg.Connection) -> None:
            await store.revoke_sessions(conn, "password changed", user_id=uid)  # as the service: see _confine
            if not check_current:  # set by an administrator: the user's passkeys may be an intruder's
                await passkeys_store.disable_user_passkeys(conn, uid, "password reset by an administrator")
            await _confine(conn, tenant)
            if await store.update_user(conn, uid, {"password_hash": password_hash}) is None:
                raise UserNotFound(user_id=str(user_id))  # deleted meanwhile: nothing changes

        await self._tx(change)

    # -- login --------------------------------------------------------------------------------
    @rpc(public=True, feature="sessions")
    async def login(self, caller: Principal, username: str, password: str, *, tenant: str = "",
                    user_agent: str | None = None, address: str | None = None) -> dict[str, Any]:
        """Tokens, or ``{"mfa_required": true, "challenge": ...}`` when the user has MFA on."""
        if not isinstance(username, str) or not isinstance(password, str) or not isinstance(tenant, str):
            raise InvalidCredentials()
        # Found within the tenant only; a tenant no user can have answers like an unknown user.
        row = None
        if fields.TENANT.match(tenant):
            row = await self._tx(lambda conn: store.user_for_login(conn, tenant, username),
                                 tenant=tenant, readonly=True)
        if row is None:
            await asyncio.to_thread(self.hasher.verify_unknown, password)
            raise InvalidCredentials()
        # Verified even when locked: a locked account answers as slowly as any other, so locking
        # a username cannot tell whether it exists.
        ok = await asyncio.to_thread(self.hasher.verify, row["password_hash"], password)
        self._refuse_locked(row)
        # Hashed before the transaction: argon2 neither holds the row lock nor runs again on a retry.
        rehashed = await asyncio.to_thread(self.hasher.hash, password) \
            if ok and self.hasher.needs_rehash(row["password_hash"]) else None

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, int]:
            """(tokens or the MFA challenge, 0) on success, (None, lockout seconds) on a wrong password."""
            # The user the tenant-confined lookup found, locked: another one (deleted and created
            # again meanwhile) is refused, so this transaction acts on no other tenant's user.
            locked = await store.user_for_login(conn, tenant, username, lock=True)
            if locked is None or locked["id"] != row["id"]:  # deleted or replaced meanwhile
                raise InvalidCredentials()
            # Again under the row lock and before the outcome: guesses sent in parallel that
            # were verified while a lockout began all read "locked", the right one included.
            self._refuse_locked(locked)
            if not ok:
                return None, await self._count_failure(conn, locked)
            if locked["disabled"]:
                raise AccountDisabled(user_id=str(row["id"]))
            # A second factor besides TOTP (a passkey) asks for the MFA step too, with its options.
            challenge = credentials.new_secret(credentials.CHALLENGE_PREFIX)
            offer = await self._second_factor_offer(conn, locked, challenge)
            mfa = locked["mfa_enabled"] or offer is not None
            # With MFA on, the failure count is reset only once the code is right too: wrong
            # codes count, and a right password must not wipe them between challenges.
            changes: dict[str, Any] = {} if mfa else RESET_FAILURES | {"last_login_at": _now()}
            if rehashed is not None and locked["password_hash"] == row["password_hash"]:
                changes["password_hash"] = rehashed
            if changes:
                await store.update_user(conn, row["id"], changes)
            if mfa:
                await store.insert_challenge(conn, credentials.digest(challenge), row["id"],
                                             self.config.mfa_challenge_ttl_s, user_agent, address)
                methods = (["totp"] if locked["mfa_enabled"] else []) + list(offer or {})
                return {"mfa_required": True, "challenge": challenge, "methods": methods,
                        "expires_in": self.config.mfa_challenge_ttl_s, **(offer or {})}, 0
            return await self._open_session(conn, locked, ["pwd"], user_agent, address), 0

        result, retry_after = await self._tx(attempt)
        if result is not None:
            return result
        # the failure was counted (committed) above; only now the caller hears of it
        if retry_after:
            raise AccountLocked(retry_after_s=retry_after)
        raise InvalidCredentials()

    async def _second_factor_offer(self, conn: asyncpg.Connection, user: Any, challenge: str
                                   ) -> dict[str, Any] | None:
        """Another second factor ``user`` has for a login's MFA step (``challenge``), as what the
        login's answer adds (``{"passkey": options}``); None: none. The passkeys part overrides it."""
        return None

    def _refuse_locked(self, row: Any) -> None:
        until = row["locked_until"]
        if until is not None and until > _now():
            raise AccountLocked(retry_after_s=max(1, int((until - _now()).total_seconds())))

    async def _fail(self, user_id: uuid.UUID, message: str | None = None, error: type[Exception] = InvalidCredentials,
                    *, tenant: str | None = None) -> None:
        """Count a failed proof (password or code) toward the lockout, commit it, then raise;
        ``tenant``: the user is looked for among that tenant's only."""
        async def count(conn: asyncpg.Connection) -> int:
            row = await store.user_secrets(conn, user_id, lock=True)
            return await self._count_failure(conn, row) if row is not None else 0

        retry_after = await self._tx(count, tenant=tenant)
        if retry_after:
            raise AccountLocked(retry_after_s=retry_after)
        raise error(message) if message else error()

    async def _count_failure(self, conn: asyncpg.Connection, row: Any) -> int:
        """Record a wrong password or code; returns the lockout's seconds when this one started a lockout."""
        failed = row["failed_logins"] + 1
        if failed < self.config.max_failed_logins:
            await store.update_user(conn, row["id"], {"failed_logins": failed})
            return 0
        seconds = fields.lockout_seconds(row["lockouts"], self.config.lockout_s, self.config.lockout_max_s)
        await store.update_user(conn, row["id"], {"failed_logins": 0, "lockouts": row["lockouts"] + 1,
                                                  "locked_until": _now() + timedelta(seconds=seconds)})
        return seconds

    @rpc(public=True, features=("sessions", "mfa"))
    async def login_mfa(self, caller: Principal, challenge: str, code: str, *, user_agent: str | None = None,
                        address: str | None = None) -> dict[str, Any]:
        """Second step: the challenge from :meth:`login` and a TOTP or recovery code -> tokens."""
        if not credentials.has_prefix(challenge, credentials.CHALLENGE_PREFIX):
            raise InvalidChallenge()
        digest = credentials.digest(challenge)
        decrypted: dict[str, str] = {}  # across retries: the secret is decrypted once

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, int]:
            ch = await store.challenge_for_update(conn, digest)
            if ch is None or ch["used_at"] is not None or ch["expired"] \
                    or ch["attempts"] >= self.config.mfa_challenge_attempts:
                raise InvalidChallenge()
            user = await store.user_secrets(conn, ch["user_id"], lock=True)
            if user is None or not user["mfa_enabled"]:
                raise InvalidChallenge()
            if user["disabled"]:
                raise AccountDisabled(user_id=str(user["id"]))
            self._refuse_locked(user)
            amr = await self._check_second_factor(conn, user, code, decrypted)
            await store.update_challenge(conn, digest, used=amr is not None)
            if amr is not None:
                await store.update_user(conn, user["id"], RESET_FAILURES | {"last_login_at": _now()})
                return await self._open_session(conn, user, ["pwd", "mfa", *amr], user_agent, address), 0
            # A wrong code counts toward the account's lockout too: new challenges (one per
            # password login) must not give unlimited guesses at a 6-digit code.
            return None, await self._count_failure(conn, user)

        tokens, retry_after = await self._tx(attempt)
        if tokens is not None:
            return tokens
        if retry_after:
            raise AccountLocked(retry_after_s=retry_after)
        raise InvalidMfaCode()  # after the commit: the attempt is counted

    async def _check_second_factor(self, conn: asyncpg.Connection, user: Any, code: object,
                                   decrypted: dict[str, str]) -> list[str] | None:
        """``["otp"]`` for a TOTP code, ``["kba"]`` for a recovery code (spent), None for neither."""
        if not isinstance(code, str) or len(code) > 64:
            return None
        secret = await self._mfa_secret(user, decrypted)
        step = totp.verify(secret, code, last_step=user["mfa_last_step"], window=self.config.mfa_valid_window)
        if step is not None:
            await store.update_user(conn, user["id"], {"mfa_last_step": step})
            return ["otp"]
        hashed = credentials.recovery_digest(code)
        if hashed in user["recovery_codes"]:
            left = [c for c in user["recovery_codes"] if c != hashed]
            await store.update_user(conn, user["id"], {"recovery_codes": left})
            return ["kba"]
        return None

    async def _open_session(self, conn: asyncpg.Connection, user: Any, amr: list[str],
                            user_agent: str | None, address: str | None) -> dict[str, Any]:
        expires = _now() + timedelta(seconds=self.config.refresh_ttl_s)
        session = await store.insert_session(conn, user["id"], amr, expires,
                                             (user_agent or "")[:256] or None, (address or "")[:64] or None)
        return await self._tokens(conn, user, session["id"], amr, expires)

    async def _tokens(self, conn: asyncpg.Connection, user: Any, session_id: uuid.UUID, amr: list[str],
                      expires: datetime) -> dict[str, Any]:
        refresh = credentials.new_secret(credentials.REFRESH_PREFIX)
        await store.insert_refresh_token(conn, credentials.digest(refresh), session_id)
        claims = {"roles": list(user["roles"]), "sid": str(session_id), "name": user["username"], "amr": amr}
        if user["tenant"]:
            claims["tenant"] = user["tenant"]
        # Signed inside the caller's transaction: a failure here leaves nothing spent. It is the
        # transaction's last step (only its COMMIT follows, which at read committed fails with no
        # serialization failure or deadlock), so a retried attempt never got this far.
        token = await self._security.issue_token(ME, str(user["id"]), claims, self.config.access_ttl_s)
        refresh_in = min(int((expires - _now()).total_seconds()), self.config.refresh_idle_s)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.config.access_ttl_s,
                "refresh_token": refresh, "refresh_expires_in": max(0, refresh_in),
                "session_id": str(session_id), "user_id": str(user["id"]), "roles": list(user["roles"])}

    # -- sessions -----------------------------------------------------------------------------
    @rpc(public=True, feature="sessions")
    async def refresh(self, caller: Principal, refresh_token: str) -> dict[str, Any]:
        """New tokens for a refresh token, which is spent (a spent one coming back ends its session)."""
        if not credentials.has_prefix(refresh_token, credentials.REFRESH_PREFIX):
            raise InvalidRefreshToken()
        digest = credentials.digest(refresh_token)

        async def attempt(conn: asyncpg.Connection) -> tuple[dict[str, Any] | None, uuid.UUID]:
            """(new tokens, session) or, for a spent token coming back, (None, the session ended)."""
            row = await store.refresh_token_for_update(conn, digest)
            # An OpenID client's session refreshes at the provider's token endpoint only: here it
            # would turn the client's scoped token into the user's own, unscoped session.
            if row is None or await pstore.is_oidc_session(conn, row["session_id"]):
                raise InvalidRefreshToken()
            if row["used_at"] is not None:
                await store.revoke_sessions(conn, "refresh token reused", session_id=row["session_id"])
                return None, row["session_id"]
            now = _now()
            idle_until = row["last_used_at"] + timedelta(seconds=self.config.refresh_idle_s)
            if row["revoked_at"] is not None or row["expires_at"] <= now or idle_until <= now:
                raise InvalidRefreshToken()
            user = await store.user_secrets(conn, row["user_id"])
            if user is None:
                raise InvalidRefreshToken()
            if user["disabled"]:
                raise AccountDisabled(user_id=str(user["id"]))
            await store.use_refresh_token(conn, digest)
            await store.touch_session(conn, row["session_id"])
            return (await self._tokens(conn, user, row["session_id"], list(row["amr"]), row["expires_at"]),
                    row["session_id"])

        tokens, session_id = await self._tx(attempt)
        if tokens is not None:
            return tokens
        raise RefreshTokenReused(session_id=str(session_id))  # after the revocation committed

    @rpc(public=True, feature="sessions")
    async def logout(self, caller: Principal, refresh_token: str) -> None:
        """End the session of this refresh token (a spent or unknown one is refused)."""
        if not credentials.has_prefix(refresh_token, credentials.REFRESH_PREFIX):
            raise InvalidRefreshToken()
        async def end(conn: asyncpg.Connection) -> None:
            row = await store.refresh_token_for_update(conn, credentials.digest(refresh_token))
            if row is None or row["used_at"] is not None or row["revoked_at"] is not None:
                raise InvalidRefreshToken()
            await store.revoke_sessions(conn, "logged out", session_id=row["session_id"])

        await self._tx(end)

    @rpc(feature="sessions")
    async def sessions(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's open sessions: one's own, or any user's with ``auth:session:list`` on its tenant."""
        scope = access.rls_tenant(caller, "auth:session:list", "user")
        await access.self_or_allowed(caller, user_id, "auth:session:list", lambda: self._user(user_id, scope))
        return await self._sessions(user_id, scope)

    @rpc(feature="sessions")
    async def my_sessions(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's own open sessions (a user's session token only)."""
        user_id = access.require_session(caller)
        return await self._sessions(user_id, access.rls_tenant(caller, "auth:session:list", "user"))

    async def _sessions(self, user_id: str, tenant: str | None) -> list[dict[str, Any]]:
        uid = _uuid(user_id)

        async def read(conn: asyncpg.Connection) -> list[Any]:
            rows = await store.open_sessions(conn, uid, self.config.refresh_idle_s)
            await _confine(conn, tenant, uid)  # none of them, unless the user is the tenant's
            return rows

        rows = await (self._tx(read, readonly=True) if tenant else self._run(read, tenant=None))
        return [{"id": str(r["id"]), "amr": list(r["amr"]), "created_at": r["created_at"].isoformat(),
                 "last_used_at": r["last_used_at"].isoformat(), "expires_at": r["expires_at"].isoformat(),
                 "refreshes": r["refreshes"], "user_agent": r["user_agent"], "address": r["address"]}
                for r in rows]

    @rpc(feature="sessions")
    async def revoke_session(self, caller: Principal, user_id: str, session_id: str) -> None:
        """End one of the caller's own sessions."""
        access.require_self(caller, user_id)
        scope = access.rls_tenant(caller, "auth:session:delete", "user")
        sid = _uuid(session_id, "session id")

        async def end(conn: asyncpg.Connection) -> None:
            row = await store.session(conn, sid)
            if row is None or row["user_id"] != _uuid(user_id):
                raise SessionNotFound(session_id=str(session_id))
            await store.revoke_sessions(conn, "revoked", session_id=sid)
            await _confine(conn, scope, row["user_id"])

        await self._tx(end)

    @rpc(feature="sessions")
    async def revoke_all(self, caller: Principal, user_id: str) -> int:
        """End every session of a user (one's own, or with ``auth:session:delete``); how many were open."""
        scope = access.rls_tenant(caller, "auth:session:delete", "user")
        await access.self_or_allowed(caller, user_id, "auth:session:delete", lambda: self._user(user_id, scope))
        uid = _uuid(user_id)

        async def end(conn: asyncpg.Connection) -> int:
            ended = await store.revoke_sessions(conn, "revoked", user_id=uid)
            await _confine(conn, scope, uid)
            return ended

        return await (self._tx(end) if scope else self._run(end, tenant=None))

    @rpc("auth:token:read", feature="sessions")
    async def introspect(self, caller: Principal, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": true, ...claims}`` for a valid access token of an open session."""
        if not isinstance(token, str) or not token or len(token) > 8192:
            return {"active": False}
        try:
            claims = await self._security.verify_token(ME, token)
        except AriaError as exc:
            if exc.status == 401:
                return {"active": False}
            raise
        if not await self._subject_active(str(claims.get("sub", ""))):
            return {"active": False}  # e.g. a machine client deleted or disabled since
        sid = claims.get("sid")
        if sid:  # service tokens carry no session
            try:
                session_id = uuid.UUID(str(sid))
            except ValueError:
                return {"active": False}
            async with self._acquire() as conn:
                row = await store.session(conn, session_id)
            if row is None or row["revoked_at"] is not None or row["expires_at"] <= _now() or row["disabled"]:
                return {"active": False}
        return {"active": True, "token_type": "Bearer", **claims}

    async def _subject_active(self, subject: str) -> bool:
        """Whether a token's subject still may act; :class:`MachineClients` checks its clients."""
        return True

    async def prune(self, keep_s: int | None = None) -> int:
        """Forget sessions that ended more than ``keep_s`` (default ``prune_keep_s``) ago."""
        async with self._acquire() as conn:
            return await store.prune(conn, self.config.prune_keep_s if keep_s is None else keep_s)

    # -- MFA ----------------------------------------------------------------------------------
    async def _mfa_secret(self, user: Any, decrypted: dict[str, str]) -> str:
        """The user's TOTP secret; ``decrypted`` keeps it by ciphertext, so a retried transaction
        does not ask aria_security again."""
        wrapped = user["mfa_secret"]
        if wrapped not in decrypted:
            raw = await self._security.decrypt(ME, MFA_KEY, wrapped, service=SERVICE)
            decrypted[wrapped] = bytes(raw).decode()
        return decrypted[wrapped]

    @rpc(feature="mfa")
    async def mfa_enroll(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """Start enrolment: a new TOTP secret (shown once) to put in an authenticator app (one's own)."""
        access.require_self(caller, user_id)
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        uid = _uuid(user_id)
        user = await self._run(lambda conn: store.user(conn, uid), tenant=scope, readonly=True)
        if user is None:
            raise UserNotFound(user_id=str(user_id))
        if user["mfa_enabled"]:
            raise MfaState("MFA is already on; turn it off first to enrol a new authenticator")
        secret = totp.new_secret()
        wrapped = await self._security.encrypt(ME, MFA_KEY, secret.encode(), service=SERVICE)
        if not await self._run(lambda conn: store.begin_mfa(conn, uid, wrapped), tenant=scope):  # confirmed meanwhile
            raise MfaState("MFA is already on; turn it off first to enrol a new authenticator")
        account = f"{user['username']}@{user['tenant']}" if user["tenant"] else user["username"]
        return {"secret": secret, "uri": totp.provisioning_uri(secret, account, self.config.mfa_issuer),
                "digits": totp.DIGITS, "period": totp.PERIOD_S}

    @rpc(feature="mfa")
    async def mfa_confirm(self, caller: Principal, user_id: str, code: str) -> dict[str, Any]:
        """Finish enrolment with a current code; returns the recovery codes (shown only now)."""
        access.require_self(caller, user_id)
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        uid = _uuid(user_id)
        decrypted: dict[str, str] = {}

        async def confirm(conn: asyncpg.Connection) -> dict[str, Any] | None:
            user = await store.user_secrets(conn, uid, lock=True)
            if user is None:
                raise UserNotFound(user_id=str(user_id))
            if user["mfa_enabled"] or user["mfa_secret"] is None:
                raise MfaState("nothing to confirm: enrol first (POST /v1/auth/mfa/enroll)")
            self._refuse_locked(user)
            step = totp.verify(await self._mfa_secret(user, decrypted), code, last_step=user["mfa_last_step"],
                               window=self.config.mfa_valid_window)
            if step is None:
                return None
            codes = credentials.new_recovery_codes(self.config.recovery_codes)
            await store.update_user(conn, uid, {
                "mfa_enabled": True, "mfa_last_step": step,
                "recovery_codes": [credentials.recovery_digest(c) for c in codes]})
            return {"enabled": True, "recovery_codes": codes}

        confirmed = await self._tx(confirm, tenant=scope)
        if confirmed is not None:
            return confirmed
        await self._fail(uid, error=InvalidMfaCode, tenant=scope)

    @rpc(feature="mfa")
    async def mfa_disable(self, caller: Principal, user_id: str, code: str | None = None) -> None:
        """Turn MFA off; one's own needs a current (or recovery) code.

        A caller with ``auth:user:write`` on the user turns another's off without one.
        """
        scope = access.rls_tenant(caller, "auth:user:write", "user")
        check_code = await access.self_or_allowed(caller, user_id, "auth:user:write",
                                                  lambda: self._user(user_id, scope)) is None
        uid = _uuid(user_id)
        decrypted: dict[str, str] = {}

        async def disable(conn: asyncpg.Connection) -> bool:
            user = await store.user_secrets(conn, uid, lock=True)
            if user is None:
                raise UserNotFound(user_id=str(user_id))
            if not user["mfa_enabled"] and user["mfa_secret"] is None:
                raise MfaState("MFA is not on")
            if check_code:
                self._refuse_locked(user)
            ok = not check_code or not user["mfa_enabled"] or \
                await self._check_second_factor(conn, user, code, decrypted) is not None
            if ok:
                await store.update_user(conn, uid, {"mfa_enabled": False, "mfa_secret": None,
                                                    "mfa_last_step": 0, "recovery_codes": []})
            return ok

        if not await self._tx(disable, tenant=scope):
            await self._fail(uid, error=InvalidMfaCode, tenant=scope)

    # -- health -------------------------------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        async with self._acquire() as conn:
            return {"users": await store.count_users(conn), "open_sessions": await store.count_open_sessions(conn)}
