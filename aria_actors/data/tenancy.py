"""Tenant isolation by PostgreSQL row-level security.

Convention: a tenant-scoped table has a ``tenant_id text NOT NULL`` column and its migration
calls ``SELECT aria_data.enable_tenant_isolation('aria_<svc>.<table>')`` (defined by aria_data's
migration 0001). That enables and FORCEs row-level security with one policy,
``tenant_id = aria_data.current_tenant()`` for reading and writing, and grants the table to the
role ``aria_tenant``.

``await set_tenant(conn, "acme")`` inside a transaction makes the rest of that transaction run
as tenant ``acme``: ``SET LOCAL ROLE aria_tenant`` plus the transaction-local setting
``aria.tenant_id``. Both end with the transaction, so a pooled connection never leaks a tenant.

Guarantees and caveats:
- In a tenant transaction, rows of other tenants are invisible to SELECT, UPDATE and DELETE
  whatever the WHERE clause, and INSERT/UPDATE cannot write a row of another tenant
  (``WITH CHECK``; the error is insufficient_privilege, 42501).
- Without a tenant, ``aria_data.current_tenant()`` is NULL and the policy matches nothing: a
  non-superuser role (or the table's owner, because of FORCE) sees no rows.
- Superusers and roles with BYPASSRLS are not subject to row-level security at all. Aria's own
  connection may be a superuser (the embedded server's ``postgres``); tenant isolation therefore
  comes from the ``SET LOCAL ROLE aria_tenant`` of :func:`set_tenant`, not from the login role.
- ``aria_tenant`` only has the privileges ``enable_tenant_isolation`` granted; a tenant
  transaction cannot read tables that were not set up for tenants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aria_actors.data.errors import TenantRequired
from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

TENANT_GUC = "aria.tenant_id"
TENANT_ROLE = "aria_tenant"
_SQL = queries("aria_actors.data", "tenancy")


async def set_tenant(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Run the rest of the current transaction as ``tenant_id`` (see module docstring)."""
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise TenantRequired("a tenant transaction needs a non-empty tenant id", tenant=tenant_id)
    if not conn.is_in_transaction():
        raise TenantRequired(
            "set_tenant() must run inside a transaction: the tenant ends with it",
            tenant=tenant_id,
        )
    await conn.fetchval(_SQL("set_tenant"), tenant_id)


async def current_tenant(conn: asyncpg.Connection) -> str | None:
    return await conn.fetchval(_SQL("current_tenant"))
