"""aria_auth's grants SQL, one function per statement of ``sql/grants.sql`` (schema ``aria_auth``;
asyncpg connections).

Guarantees and caveats
----------------------
- Every change goes through a table with the ``grants_bump`` trigger (migration 0005): the version
  moves in the same transaction, so :func:`version` read before :func:`snapshot` never claims
  more than the snapshot holds.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

_q = queries("aria_actors.auth", "grants")


def _count(status: str) -> int:
    return int(status.split()[-1])


async def version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(_q("version")))


async def lock_version(conn: asyncpg.Connection) -> int:
    """Lock the version row for the rest of this transaction; the version before this change."""
    return int(await conn.fetchval(_q("lock_version")))


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[Any]]:
    """Every resource, grant, group and membership (the index is rebuilt from these)."""
    return {name: await conn.fetch(_q(f"all_{name}")) for name in ("resources", "grants", "groups", "members")}


async def resource(conn: asyncpg.Connection, kind: str, resource_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("resource"), kind, resource_id)


async def insert_resource(conn: asyncpg.Connection, kind: str, resource_id: str, tenant: str,
                          owner: uuid.UUID | None, created_by: str) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_resource"), kind, resource_id, tenant, owner, created_by)


async def delete_resource(conn: asyncpg.Connection, kind: str, resource_id: str) -> bool:
    return _count(await conn.execute(_q("delete_resource"), kind, resource_id)) == 1


async def insert_grant(conn: asyncpg.Connection, *, kind: str, resource_id: str, subject: str,
                       user_id: uuid.UUID | None, group_id: uuid.UUID | None, relation: str, effect: str,
                       created_by: str) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_grant"), uuid.uuid4(), kind, resource_id, subject, user_id, group_id,
                               relation, effect, created_by)


async def grant(conn: asyncpg.Connection, grant_id: uuid.UUID, kind: str, resource_id: str
                ) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("grant"), grant_id, kind, resource_id)


async def delete_grant(conn: asyncpg.Connection, grant_id: uuid.UUID, kind: str, resource_id: str) -> bool:
    return _count(await conn.execute(_q("delete_grant"), grant_id, kind, resource_id)) == 1


async def list_grants(conn: asyncpg.Connection, kind: str, resource_id: str, after: uuid.UUID | None,
                      limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_grants"), kind, resource_id, after, limit)


async def user_brief(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("user_brief"), user_id)


async def insert_group(conn: asyncpg.Connection, tenant: str, name: str) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_group"), uuid.uuid4(), tenant, name)


async def group(conn: asyncpg.Connection, group_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("group"), group_id)


async def list_groups(conn: asyncpg.Connection, tenant: str | None, after: uuid.UUID | None, limit: int
                      ) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_groups"), tenant, after, limit)


async def delete_group(conn: asyncpg.Connection, group_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_group"), group_id)) == 1


async def add_member(conn: asyncpg.Connection, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(_q("add_member"), group_id, user_id)


async def remove_member(conn: asyncpg.Connection, group_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("remove_member"), group_id, user_id)) == 1


async def list_members(conn: asyncpg.Connection, group_id: uuid.UUID, after: uuid.UUID | None, limit: int
                       ) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_members"), group_id, after, limit)
