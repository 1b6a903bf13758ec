"""Machine clients: services and integrations that authenticate with a client id and secret
(OAuth 2.0 client credentials, RFC 6749 4.4) and get short-lived access tokens.

Guarantees and caveats
----------------------
- A client secret (``aria_cs_...``, 256 bits) is shown once, at creation or rotation; only its
  SHA-256 is stored. Rotation replaces it at once (no overlap: roll out the new one first).
- Access tokens: ``sub`` = ``client:<id>``, ``client_id``, ``roles``, ``tenant``; no session and
  no refresh token (a client asks again). Disabling or deleting a client makes introspection say
  ``active: false`` at once; the gateway refuses its tokens when they expire
  (``ARIA_AUTH_ACCESS_TTL_S``).
- Unknown id, wrong secret and disabled client are one error (``auth-invalid-client``).
- Managing clients needs ``auth:client:*`` on the client's tenant, and granting it roles needs
  ``auth:role:assign`` (see :mod:`aria_actors.auth.access`), checked here for every caller.
- Creating a client in a tenant and listing one tenant's clients run in a tenant transaction
  (row-level security, auth migration 0003): they reach no other tenant's client whatever their
  WHERE clause. A client managed by id is looked for among the caller's own tenant's clients when
  the caller's permission is tenant-scoped (:func:`access.rls_tenant`: another tenant's is not
  found), across tenants for an ``@any`` caller; its credentials (a token request) are checked
  across tenants.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import asyncpg

from aria_actors.auth import access, credentials, store
from aria_actors.auth import users as fields
from aria_actors.auth.accounts import ME
from aria_actors.auth.errors import ClientExists, ClientNotFound, InvalidClient, InvalidUser
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from aria_actors.security.client import SecurityClient

SECRET_PREFIX = "aria_cs_"
SUBJECT_PREFIX = "client:"


def _public(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "tenant": row["tenant"], "name": row["name"], "roles": list(row["roles"]),
            "disabled": row["disabled"], "created_at": row["created_at"].isoformat(),
            "last_used_at": row["last_used_at"].isoformat() if row["last_used_at"] else None}


def _client_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ClientNotFound(client_id=str(value)[:64]) from None


class MachineClients:
    """Mixed into the service next to :class:`~aria_actors.auth.accounts.Accounts` (same pool,
    aria_security client, settings and role table)."""

    # set by Accounts, which also provides _acquire(), _tx() and _run()
    _security: SecurityClient
    config: Any
    roles: frozenset[str]

    @rpc("auth:client:write", feature="service-auth")
    async def create_client(self, caller: Principal, name: str, roles: Collection[str] = ("service",), *,
                            tenant: str = "") -> dict[str, Any]:
        """A new client; the result holds ``client_secret``, shown only now."""
        access.gate().require(caller, "auth:client:write", {"type": "client", "tenant": tenant})
        access.may_assign_roles(caller, roles, tenant, always=True)
        name = fields.check_username(name)
        roles = fields.check_roles(roles, self.roles)
        if not roles:
            raise InvalidUser("a client needs at least one role", field="roles")
        secret = credentials.new_secret(SECRET_PREFIX)
        tenant = fields.check_tenant(tenant)
        try:
            row = await self._tx(  # type: ignore[attr-defined]
                lambda conn: store.insert_client(conn, tenant=tenant, name=name,
                                                 secret_digest=credentials.digest(secret), roles=roles),
                tenant=access.rls_tenant(caller, "auth:client:write", "client", tenant))
        except asyncpg.UniqueViolationError:
            raise ClientExists(f"client {name!r} already exists in tenant {tenant!r}", name=name) from None
        return {**_public(row), "client_id": str(row["id"]), "client_secret": secret}

    @rpc("auth:client:list", feature="service-auth")
    async def list_clients(self, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
        """Clients of ``tenant``; without one, of every tenant (an ``@any`` caller) or the caller's own."""
        tenant = access.listable_tenant(caller, "auth:client:list", "client", tenant)
        if tenant is not None:
            fields.check_tenant(tenant)
        # One tenant: confined to its rows (a tenant-scoped caller: to its own whatever it named).
        # None (every tenant, an @any caller): as the service.
        rows = await self._tx(lambda conn: store.list_clients(conn, tenant),  # type: ignore[attr-defined]
                              tenant=access.rls_tenant(caller, "auth:client:list", "client", tenant), readonly=True)
        return [_public(r) for r in rows]

    @rpc("auth:client:read", feature="service-auth")
    async def get_client(self, caller: Principal, client_id: str) -> dict[str, Any]:
        return (await self._allowed_client(caller, client_id, "auth:client:read"))[0]

    async def _allowed_client(self, caller: Principal, client_id: str, action: str
                              ) -> tuple[dict[str, Any], str | None]:
        """The client, once ``action`` on it is allowed, and the tenant the action is confined to."""
        scope = access.rls_tenant(caller, action, "client")
        target = await access.allowed_on(caller, action, {"type": "client"}, lambda: self._client(client_id, scope))
        return target, scope

    async def _client(self, client_id: str, tenant: str | None = None) -> dict[str, Any]:
        """The client, looked for among ``tenant``'s clients (None: among every tenant's)."""
        cid = _client_id(client_id)
        row = await self._run(lambda conn: store.client(conn, cid),  # type: ignore[attr-defined]
                              tenant=tenant, readonly=True)
        if row is None:
            raise ClientNotFound(client_id=str(client_id))
        return _public(row)

    @rpc("auth:client:write", features=("service-auth", "dynamic-roles"))
    async def update_client(self, caller: Principal, client_id: str, *, roles: Collection[str] | None = None,
                            disabled: bool | None = None) -> dict[str, Any]:
        """Change a client's roles (``auth:role:assign`` too) or disable it."""
        target, scope = await self._allowed_client(caller, client_id, "auth:client:write")
        access.may_assign_roles(caller, roles, target["tenant"], always=True)
        changes: dict[str, Any] = {}
        if roles is not None:
            changes["roles"] = fields.check_roles(roles, self.roles)
            if not changes["roles"]:
                raise InvalidUser("a client needs at least one role", field="roles")
        if disabled is not None:
            changes["disabled"] = bool(disabled)
        cid = _client_id(client_id)
        row = await self._run(  # type: ignore[attr-defined]
            lambda conn: store.update_client(conn, cid, changes) if changes else store.client(conn, cid),
            tenant=scope)
        if row is None:
            raise ClientNotFound(client_id=str(client_id))
        return _public(row)

    @rpc("auth:client:write", feature="service-auth")
    async def rotate_client_secret(self, caller: Principal, client_id: str) -> dict[str, Any]:
        """A new secret (shown only now); the old one stops working at once."""
        _target, scope = await self._allowed_client(caller, client_id, "auth:client:write")
        secret = credentials.new_secret(SECRET_PREFIX)
        cid = _client_id(client_id)
        row = await self._run(  # type: ignore[attr-defined]
            lambda conn: store.update_client(conn, cid, {"secret_digest": credentials.digest(secret)}), tenant=scope)
        if row is None:
            raise ClientNotFound(client_id=str(client_id))
        return {**_public(row), "client_id": str(row["id"]), "client_secret": secret}

    @rpc("auth:client:delete", feature="service-auth")
    async def delete_client(self, caller: Principal, client_id: str) -> None:
        _target, scope = await self._allowed_client(caller, client_id, "auth:client:delete")
        cid = _client_id(client_id)
        if not await self._run(lambda conn: store.delete_client(conn, cid), tenant=scope):  # type: ignore[attr-defined]
            raise ClientNotFound(client_id=str(client_id))

    @rpc(public=True, feature="service-auth")
    async def authenticate_client(self, caller: Principal, client_id: str, client_secret: str) -> dict[str, Any]:
        """The client, if the id and secret are right and it is enabled; else InvalidClient.

        The token endpoint checks the credentials a client sends with the password and refresh
        grants with this (RFC 6749 3.2.1); the secret is the credential, so no token is needed.
        """
        return _public(await self._authenticated(client_id, client_secret))

    @rpc(public=True, feature="service-auth")
    async def client_token(self, caller: Principal, client_id: str, client_secret: str) -> dict[str, Any]:
        """Client credentials -> an access token (RFC 6749 4.4.3; no refresh token)."""
        row = await self._authenticated(client_id, client_secret)
        cid = row["id"]
        claims: dict[str, Any] = {"roles": list(row["roles"]), "client_id": str(cid), "name": row["name"]}
        if row["tenant"]:
            claims["tenant"] = row["tenant"]
        token = await self._security.issue_token(ME, SUBJECT_PREFIX + str(cid), claims, self.config.access_ttl_s)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.config.access_ttl_s,
                "client_id": str(cid), "roles": list(row["roles"])}

    async def _authenticated(self, client_id: str, client_secret: str) -> Any:
        try:
            cid = uuid.UUID(str(client_id))
        except ValueError:
            raise InvalidClient() from None
        if not credentials.has_prefix(client_secret, SECRET_PREFIX):
            raise InvalidClient()
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            row = await store.client(conn, cid)
            presented = credentials.digest(client_secret)
            if row is None or row["disabled"] or not hmac.compare_digest(bytes(row["secret_digest"]), presented):
                raise InvalidClient()
            await store.client_used(conn, cid)
        return row

    async def _subject_active(self, subject: str) -> bool:
        """A client token's subject must be a client that exists and is enabled; others pass on."""
        if not subject.startswith(SUBJECT_PREFIX):
            return await super()._subject_active(subject)  # type: ignore[misc]
        try:
            cid = uuid.UUID(subject.removeprefix(SUBJECT_PREFIX))
        except ValueError:
            return False
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            row = await store.client(conn, cid)
        return row is not None and not row["disabled"]
