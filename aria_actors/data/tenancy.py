"""Tenant isolation by PostgreSQL row-level security.

Convention: a tenant-scoped table has a ``text NOT NULL`` tenant column (``tenant_id`` unless the
service named it otherwise) and its migration calls
``SELECT aria_data.enable_tenant_isolation('aria_<svc>.<table>')``, or
``('aria_<svc>.<table>', '<column>')`` for another column name (aria_auth's is ``tenant``); a down
migration calls ``aria_data.disable_tenant_isolation('aria_<svc>.<table>')``. Both are defined by
aria_data's migrations (0001, reworked in 0004). The table gets row-level security (not FORCEd)
with one policy for the role ``aria_tenant`` only, ``<column> = aria_data.current_tenant()`` for
reading and writing, and is granted to ``aria_tenant``.

``await set_tenant(conn, "acme")`` inside a transaction makes the rest of that transaction run
as tenant ``acme``: ``SET LOCAL ROLE aria_tenant`` plus the transaction-local setting
``aria.tenant_id``. Both end with the transaction, so a pooled connection never leaks a tenant.
``db.transaction(fn, tenant="acme")`` (:mod:`aria_actors.data.transactions`) does it for ``fn``.

Guarantees and caveats:
- In a tenant transaction, rows of other tenants are invisible to SELECT, UPDATE and DELETE
  whatever the WHERE clause, and INSERT/UPDATE cannot write a row of another tenant
  (``WITH CHECK``; the error is insufficient_privilege, 42501). This holds whatever the login
  role is, superuser or not: the transaction runs as ``aria_tenant``, which is neither.
- Outside a tenant transaction the service's login sees every row: a superuser (the embedded
  server's ``postgres``) bypasses row-level security, and the tables' owner (the service's login
  on an external server) is exempt because the policy is not FORCEd. A service's cross-tenant
  work (an operator listing all tenants, a record looked up by id) therefore runs without a
  tenant, and behaves the same on both kinds of server. Code meant to be confined to a tenant
  must pass ``tenant=``: nothing confines a transaction that names none.
- Any other role (neither owner nor superuser) sees no row: no policy applies to it, or, when it
  is a member of ``aria_tenant``, only the tenant policy, which matches nothing without a tenant.
- Tenant ids are non-empty: ``aria_data.current_tenant()`` reads an empty setting (what
  ``SET LOCAL`` leaves behind) as no tenant. A service whose empty tenant means "no tenant"
  (aria_auth's default) runs that one's operations without a tenant transaction.
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
