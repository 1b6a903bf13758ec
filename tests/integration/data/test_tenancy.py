"""Row-level security: tenant A can neither read, update nor delete tenant B's rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from aria_actors.data.errors import TenantRequired
from aria_actors.data.migrations import migrate_down, migrate_up
from aria_actors.data.pool import Database
from aria_actors.data.tenancy import current_tenant, set_tenant
from aria_actors.data.transactions import run_transaction

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


async def test_the_tenant_role_without_a_tenant_sees_nothing(notes_dsn: str) -> None:
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


async def test_a_non_superuser_owner_sees_every_row_and_its_tenant_transactions_only_theirs(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        # The policy binds aria_tenant only (migration 0004): the table's owner, a plain role on an
        # external server, does a service's cross-tenant work outside a tenant transaction, like
        # the embedded server's superuser, and its tenant transactions are confined like theirs.
        # Roles are cluster-wide and the session server is shared: create them once.
        for role in ("notes_owner LOGIN", "notes_reader LOGIN"):
            await db.execute(f"DO $$ BEGIN CREATE ROLE {role} NOSUPERUSER NOBYPASSRLS; "
                             "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        await db.execute("GRANT aria_tenant TO notes_owner")  # to SET ROLE aria_tenant
        await db.execute("GRANT USAGE ON SCHEMA aria_notes, aria_data TO notes_owner, notes_reader")
        await db.execute("GRANT SELECT ON aria_notes.notes TO notes_reader")
        await db.execute("ALTER TABLE aria_notes.notes OWNER TO notes_owner")
        base, _, rest = notes_dsn.partition("://")
        _userinfo, _, hostpart = rest.rpartition("@")
        owner = await asyncpg.connect(f"{base}://notes_owner@{hostpart}")
        reader = await asyncpg.connect(f"{base}://notes_reader@{hostpart}")
        try:
            assert not await owner.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert await owner.fetchval("SELECT count(*) FROM aria_notes.notes") == 6

            async def _as_b(conn: asyncpg.Connection) -> list[str]:
                rows = await conn.fetch("SELECT tenant_id FROM aria_notes.notes WHERE true")
                await conn.execute("UPDATE aria_notes.notes SET body = 'pwned' WHERE tenant_id = 'A'")
                return [r["tenant_id"] for r in rows]

            assert await run_transaction(owner, _as_b, tenant="B") == ["B", "B", "B"]
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await run_transaction(owner, lambda c: c.execute(
                    "INSERT INTO aria_notes.notes (tenant_id, body) VALUES ('A', 'x')"), tenant="B")
            # The tenant setting without the role switch is no tenant transaction: nothing changes.
            async with owner.transaction():
                await owner.execute("SELECT set_config('aria.tenant_id', 'B', true)")
                assert await owner.fetchval("SELECT count(*) FROM aria_notes.notes") == 6
            # A role that is neither owner nor superuser meets no policy: no row, even granted.
            assert await reader.fetchval("SELECT count(*) FROM aria_notes.notes") == 0
        finally:
            await owner.close()
            await reader.close()
            await db.execute("ALTER TABLE aria_notes.notes OWNER TO CURRENT_USER")
        assert await db.fetchval("SELECT count(*) FROM aria_notes.notes WHERE body = 'pwned'") == 0


async def test_tables_isolated_before_0004_get_the_tenant_role_policy(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate_up(conn, ["aria_data"], target=3)
        await conn.execute(SCHEMA)  # 0001's enable_tenant_isolation: FORCEd, for every role
        assert await _policy(conn) == (True, ["public"])
        await migrate_up(conn, ["aria_data"])
        assert await _policy(conn) == (False, ["aria_tenant"])
        await conn.execute("CREATE TABLE aria_notes.tags (id int, owner text NOT NULL)")
        await conn.execute("SELECT aria_data.enable_tenant_isolation('aria_notes.tags', 'owner')")
        assert await conn.fetchval("SELECT qual FROM pg_policies WHERE tablename = 'tags'") == \
            "(owner = aria_data.current_tenant())"
        await conn.execute("SELECT aria_data.disable_tenant_isolation('aria_notes.tags')")
        assert not await conn.fetchval("SELECT relrowsecurity FROM pg_class WHERE oid = 'aria_notes.tags'::regclass")
        assert not await conn.fetchval("SELECT has_table_privilege('aria_tenant', 'aria_notes.tags', 'SELECT')")
        await migrate_down(conn, "aria_data", steps=1)
        assert await _policy(conn) == (True, ["public"])
    finally:
        await conn.close()


async def _policy(conn: asyncpg.Connection) -> tuple[bool, list[str]]:
    """(FORCEd?, the roles of its policy) of aria_notes.notes."""
    force = await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'aria_notes.notes'::regclass")
    roles = await conn.fetchval("SELECT roles FROM pg_policies WHERE tablename = 'notes'")
    return force, list(roles)


async def test_tenant_required(notes_dsn: str) -> None:
    async with _open(notes_dsn) as db:
        with pytest.raises(TenantRequired):
            await db.transaction(lambda c: c.fetchval("SELECT 1"), tenant="  ")
        async with db.acquire() as conn:
            with pytest.raises(TenantRequired):
                await set_tenant(conn, "A")
