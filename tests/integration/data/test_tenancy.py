"""Row-level security: tenant A can neither read, update nor delete tenant B's rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from aria_actors.data.errors import TenantRequired
from aria_actors.data.pool import Database
from aria_actors.data.tenancy import current_tenant, set_tenant

SCHEMA = """
CREATE SCHEMA aria_notes;
CREATE TABLE aria_notes.notes (
    id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL
);
SELECT aria_data.enable_tenant_isolation('aria_notes.notes');
"""


@pytest.fixture
def notes_dsn(data_database: str) -> str:
    async def _setup() -> None:
        database = await Database.connect(data_database)
        try:
            await database.execute(SCHEMA)
            for tenant in ("A", "B"):
                async def _put(conn: asyncpg.Connection, t: str = tenant) -> None:
                    await conn.executemany(
                        "INSERT INTO aria_notes.notes (tenant_id, body) VALUES ($1, $2)",
                        [(t, f"{t} note {i}") for i in range(3)],
                    )
                await database.transaction(_put, tenant=tenant)
        finally:
            await database.close()

    asyncio.run(_setup())
    return data_database


@contextlib.asynccontextmanager
async def _open(dsn: str) -> AsyncIterator[Database]:
    # Not an async fixture: those run on the session's event loop, tests on their own.
    database = await Database.connect(dsn)
    try:
        yield database
    finally:
        await database.close()


async def test_tenant_sees_only_its_rows(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        async def _read(conn: asyncpg.Connection) -> list[str]:
            assert await current_tenant(conn) == "A"
            rows = await conn.fetch(
                "SELECT tenant_id FROM aria_notes.notes WHERE tenant_id = 'B' OR true")
            return [r["tenant_id"] for r in rows]

        assert await db.transaction(_read, tenant="A") == ["A", "A", "A"]


async def test_tenant_cannot_update_or_delete_other_rows(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        async def _attack(conn: asyncpg.Connection) -> tuple[str, str, str]:
            upd = await conn.execute("UPDATE aria_notes.notes SET body = 'pwned' WHERE tenant_id = 'B'")
            move = await conn.execute("UPDATE aria_notes.notes SET tenant_id = 'A' WHERE tenant_id = 'B'")
            dele = await conn.execute("DELETE FROM aria_notes.notes WHERE tenant_id = 'B' OR id > 0 "
                                      "AND tenant_id <> 'A'")
            return upd, move, dele

        assert await db.transaction(_attack, tenant="A") == ("UPDATE 0", "UPDATE 0", "DELETE 0")

        async def _smuggle(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO aria_notes.notes (tenant_id, body) VALUES ('B', 'x')")

        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.transaction(_smuggle, tenant="A")

        async def _steal(conn: asyncpg.Connection) -> None:
            await conn.execute("UPDATE aria_notes.notes SET tenant_id = 'B' WHERE tenant_id = 'A'")

        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.transaction(_steal, tenant="A")
        # The session role is a superuser and sees everything: B's rows are intact.
        rows = await db.fetch("SELECT body FROM aria_notes.notes WHERE tenant_id = 'B' ORDER BY id")
        assert [r["body"] for r in rows] == ["B note 0", "B note 1", "B note 2"]


async def test_no_tenant_sees_nothing(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        async def _as_tenant_role(conn: asyncpg.Connection) -> int:
            await conn.execute("SET LOCAL ROLE aria_tenant")
            return await conn.fetchval("SELECT count(*) FROM aria_notes.notes")

        assert await db.transaction(_as_tenant_role) == 0
        # After a tenant transaction the pooled connection carries no tenant and no role.
        async def _who(conn: asyncpg.Connection) -> tuple[str | None, str]:
            return await current_tenant(conn), await conn.fetchval("SELECT current_user")

        await db.transaction(lambda c: c.fetchval("SELECT 1"), tenant="A")
        tenant, user = await db.transaction(_who)
        assert tenant is None and user != "aria_tenant"


async def test_owner_without_superuser_is_bound_too(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        # FORCE ROW LEVEL SECURITY: even the table's (non-superuser) owner sees nothing without a tenant.
        # Roles are cluster-wide and the session server is shared: create it once.
        await db.execute("DO $$ BEGIN CREATE ROLE notes_owner LOGIN; "
                         "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        await db.execute("GRANT USAGE ON SCHEMA aria_notes, aria_data TO notes_owner")
        await db.execute("ALTER TABLE aria_notes.notes OWNER TO notes_owner")
        base, _, rest = notes_dsn.partition("://")
        _userinfo, _, hostpart = rest.rpartition("@")
        owner_dsn = f"{base}://notes_owner@{hostpart}"
        conn = await asyncpg.connect(owner_dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM aria_notes.notes") == 0
            async with conn.transaction():
                await conn.execute("SELECT set_config('aria.tenant_id', 'B', true)")
                assert await conn.fetchval("SELECT count(*) FROM aria_notes.notes") == 3
        finally:
            await conn.close()
            await db.execute("ALTER TABLE aria_notes.notes OWNER TO CURRENT_USER")


async def test_tenant_required(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        with pytest.raises(TenantRequired):
            await db.transaction(lambda c: c.fetchval("SELECT 1"), tenant="  ")
        async with db.acquire() as conn:
            with pytest.raises(TenantRequired):
                await set_tenant(conn, "A")
