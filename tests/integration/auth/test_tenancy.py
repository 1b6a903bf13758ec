"""aria_auth's tenants under row-level security, and its transactions retried on deadlocks and
serialization failures, over a real PostgreSQL and a real aria_security."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from aria_actors.auth import store
from aria_actors.auth.errors import InvalidCredentials
from aria_actors.data.migrations import migrate_down, migrate_up
from aria_actors.data.tenancy import current_tenant
from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import start_auth
from tests.fixtures.postgres import drop_database
from tests.integration.data.injected import failing_once

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
ANON = Principal.anonymous()


async def _people(auth: Any) -> dict[str, dict[str, Any]]:
    """alice and bob in acme, carol in globex, dave in the empty (default) tenant; a client each
    in acme and globex."""
    made = {name: await auth.create_user(OP, name, PASSWORD, tenant=tenant)
            for name, tenant in (("alice", "acme"), ("bob", "acme"), ("carol", "globex"), ("dave", ""))}
    made["etl-acme"] = await auth.create_client(OP, "etl", tenant="acme")
    made["etl-globex"] = await auth.create_client(OP, "etl", tenant="globex")
    return made


async def test_the_tables_are_under_row_level_security(auth) -> None:
    rows = await auth.db.fetch("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                               "WHERE oid IN ('aria_auth.users'::regclass, 'aria_auth.clients'::regclass) "
                               "ORDER BY relname")
    assert [tuple(r) for r in rows] == [("clients", True, False), ("users", True, False)]
    policies = await auth.db.fetch("SELECT tablename, roles FROM pg_policies WHERE schemaname = 'aria_auth'")
    assert sorted((p["tablename"], list(p["roles"])) for p in policies) == [
        ("clients", ["aria_tenant"]), ("users", ["aria_tenant"])]


async def test_a_tenant_transaction_sees_only_its_tenants_rows_whatever_the_query(auth) -> None:
    made = await _people(auth)
    carol = uuid.UUID(made["carol"]["id"])

    async def unfiltered(conn: asyncpg.Connection) -> dict[str, Any]:
        return {
            "tenant": await current_tenant(conn),
            # No tenant in any of these WHERE clauses: row-level security alone confines them.
            "users": await conn.fetchval("SELECT count(*) FROM aria_auth.users"),
            "clients": await conn.fetchval("SELECT count(*) FROM aria_auth.clients"),
            "listed": [r["username"] for r in await store.list_users(conn, None, "", 100)],
            "carol": await store.user(conn, carol),
            "carol_updated": await store.update_user(conn, carol, {"disabled": True}),
            "carol_deleted": await store.delete_user(conn, carol),
            "client_tenants": [r["tenant"] for r in await store.list_clients(conn, None)],
        }

    seen = await auth.db.transaction(unfiltered, tenant="acme")
    assert seen == {"tenant": "acme", "users": 2, "clients": 1, "listed": ["alice", "bob"], "carol": None,
                    "carol_updated": None, "carol_deleted": False, "client_tenants": ["acme"]}
    assert (await auth.get_user(OP, str(carol)))["disabled"] is False  # untouched

    async def smuggle(conn: asyncpg.Connection) -> None:
        await store.insert_user(conn, tenant="globex", username="mallory", email=None, display_name=None,
                                password_hash="x", roles=["user"])

    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK: no row of another tenant
        await auth.db.transaction(smuggle, tenant="acme")

    async def sessions(conn: asyncpg.Connection) -> int:
        return await conn.fetchval("SELECT count(*) FROM aria_auth.sessions")

    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # tables without a tenant: not granted
        await auth.db.transaction(sessions, tenant="acme")
    # Outside a tenant transaction the service sees every tenant (its cross-tenant work).
    assert await auth.db.fetchval("SELECT count(*) FROM aria_auth.users") == 4


async def test_tenant_scoped_operations_run_as_their_tenant(auth, monkeypatch) -> None:
    seen: list[tuple[str, str | None]] = []

    def spy(name: str) -> None:
        real = getattr(store, name)

        async def call(conn: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            seen.append((name, await current_tenant(conn)))
            return await real(conn, *args, **kwargs)

        monkeypatch.setattr(store, name, call)

    for name in ("insert_user", "insert_client", "list_users", "list_clients", "user_for_login"):
        spy(name)
    await auth.create_user(OP, "alice", PASSWORD, tenant="acme")
    await auth.create_client(OP, "etl", tenant="acme")
    await auth.list_users(OP, tenant="acme")
    await auth.list_clients(OP, tenant="acme")
    await auth.login(ANON, "alice", PASSWORD, tenant="acme")
    assert seen == [("insert_user", "acme"), ("insert_client", "acme"), ("list_users", "acme"),
                    ("list_clients", "acme"), ("user_for_login", "acme"), ("user_for_login", None)]
    # the second user_for_login is the login's locked re-read: as the service, by the id found above


async def test_a_lost_tenant_filter_still_returns_only_the_tenants_rows(auth, monkeypatch) -> None:
    await _people(auth)
    real_users, real_clients = store.list_users, store.list_clients

    async def list_users_unfiltered(conn: asyncpg.Connection, tenant: str | None, after: str, limit: int) -> Any:
        return await real_users(conn, None, after, limit)  # as if the WHERE had lost its tenant

    async def list_clients_unfiltered(conn: asyncpg.Connection, tenant: str | None) -> Any:
        return await real_clients(conn, None)

    monkeypatch.setattr(store, "list_users", list_users_unfiltered)
    monkeypatch.setattr(store, "list_clients", list_clients_unfiltered)
    assert [u["username"] for u in await auth.list_users(OP, tenant="acme")] == ["alice", "bob"]
    assert [c["tenant"] for c in await auth.list_clients(OP, tenant="globex")] == ["globex"]
    # Across tenants (an @any caller naming none): everything, as before.
    assert len(await auth.list_users(OP)) == 4 and len(await auth.list_clients(OP)) == 2


async def test_a_login_finds_users_of_its_tenant_only(auth) -> None:
    await _people(auth)
    assert "access_token" in await auth.login(ANON, "carol", PASSWORD, tenant="globex")
    assert "access_token" in await auth.login(ANON, "dave", PASSWORD)  # the empty tenant
    for tenant in ("acme", "", "  ", "ACME"):
        with pytest.raises(InvalidCredentials):
            await auth.login(ANON, "carol", PASSWORD, tenant=tenant)


# -- retries ---------------------------------------------------------------------------------

async def test_a_login_hit_by_a_serialization_failure_is_retried(auth) -> None:
    await auth.create_user(OP, "alice", PASSWORD, tenant="acme")
    before = auth.db.retries
    async with failing_once(auth.db, "aria_auth.sessions", "INSERT", "40001"):
        tokens = await auth.login(ANON, "alice", PASSWORD, tenant="acme")
    assert auth.db.retries == before + 1
    # One session, the one whose tokens came back; the failed attempt left nothing behind.
    assert [s["id"] for s in await auth.sessions(OP, tokens["user_id"])] == [tokens["session_id"]]
    assert "access_token" in await auth.refresh(ANON, tokens["refresh_token"])


async def test_a_refresh_hit_by_a_deadlock_is_retried_and_spends_the_token_once(auth) -> None:
    await auth.create_user(OP, "alice", PASSWORD)
    first = await auth.login(ANON, "alice", PASSWORD)
    before = auth.db.retries
    async with failing_once(auth.db, "aria_auth.refresh_tokens", "UPDATE", "40P01"):
        second = await auth.refresh(ANON, first["refresh_token"])
    assert auth.db.retries == before + 1
    assert second["session_id"] == first["session_id"]
    # The deadlocked attempt's "spent" was rolled back with it: no reuse was detected, the
    # session is open and the new refresh token works.
    assert [s["refreshes"] for s in await auth.sessions(OP, first["user_id"])] == [1]
    assert "access_token" in await auth.refresh(ANON, second["refresh_token"])


async def test_a_tenant_transaction_hit_by_a_serialization_failure_is_retried(auth) -> None:
    before = auth.db.retries
    async with failing_once(auth.db, "aria_auth.users", "INSERT", "40001"):
        user = await auth.create_user(OP, "alice", PASSWORD, tenant="acme")
    assert auth.db.retries == before + 1
    assert [u["id"] for u in await auth.list_users(OP, tenant="acme")] == [user["id"]]


# -- a login that is no superuser ------------------------------------------------------------
OWNER = "aria_auth_owner_test"


@pytest.fixture
def owner_dsn(postgres_dsn: str) -> Any:
    """A fresh database owned by a plain login role (no superuser, no BYPASSRLS), as on an
    external server; aria_auth's migrations then run as that role, which owns their tables."""
    name = f"authowner_{uuid.uuid4().hex[:12]}"

    async def setup() -> None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            # Roles are cluster-wide and the server may be shared: made once, kept. What an
            # administrator does for such a login: aria_tenant exists and is granted to it.
            await conn.execute(f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aria_tenant') THEN
                    CREATE ROLE aria_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS;
                END IF;
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                    CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOBYPASSRLS;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")
            await conn.execute(f"GRANT aria_tenant TO {OWNER}")
            await conn.execute(f'CREATE DATABASE "{name}" OWNER {OWNER}')
        finally:
            await conn.close()

    asyncio.run(setup())  # a sync fixture: its async setup runs on a loop of its own
    base, _, rest = postgres_dsn.partition("://")
    _userinfo, _, hostpart = rest.rpartition("@")
    server, _, query = hostpart.partition("?")
    yield f"{base}://{OWNER}@{server.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    drop_database(postgres_dsn, name)


async def test_cross_tenant_work_as_a_non_superuser_owner(owner_dsn, security, tmp_path) -> None:
    auth = await start_auth(owner_dsn, security, tmp_path)
    try:
        who = await auth.db.fetchrow("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles "
                                     "WHERE rolname = current_user")
        assert tuple(who) == (OWNER, False, False)
        assert await auth.db.fetchval("SELECT tableowner FROM pg_tables "
                                      "WHERE schemaname = 'aria_auth' AND tablename = 'users'") == OWNER
        made = await _people(auth)
        # Across tenants, as the service: the operator's lists, a user by id, a session's user.
        assert sorted(u["username"] for u in await auth.list_users(OP)) == ["alice", "bob", "carol", "dave"]
        assert sorted(c["tenant"] for c in await auth.list_clients(OP)) == ["acme", "globex"]
        assert (await auth.get_user(OP, made["carol"]["id"]))["tenant"] == "globex"
        tokens = await auth.login(ANON, "carol", PASSWORD, tenant="globex")
        carol = Principal(made["carol"]["id"], ("user",), tenant="globex", session=tokens["session_id"])
        assert (await auth.me(carol))["username"] == "carol"
        assert (await auth.introspect(OP, tokens["access_token"]))["active"] is True
        assert "access_token" in await auth.refresh(ANON, tokens["refresh_token"])
        assert (await auth.health()).details["users"] == 4
        # Within one tenant, confined as with a superuser's login.
        assert [u["username"] for u in await auth.list_users(OP, tenant="acme")] == ["alice", "bob"]

        async def count(conn: asyncpg.Connection) -> int:
            return await conn.fetchval("SELECT count(*) FROM aria_auth.users")

        assert await auth.db.transaction(count, tenant="acme") == 2
        assert await auth.db.transaction(count) == 4

        # The migration goes down and up again as this role.
        async with auth.db.acquire() as conn:
            await migrate_down(conn, "aria_auth", steps=1)
            assert not await conn.fetchval("SELECT relrowsecurity FROM pg_class "
                                           "WHERE oid = 'aria_auth.users'::regclass")
            assert not await conn.fetchval("SELECT has_table_privilege('aria_tenant', 'aria_auth.users', "
                                           "'SELECT')")
            assert [a.version for a in await migrate_up(conn, ["aria_auth"])] == [3]
        assert await auth.db.transaction(count, tenant="globex") == 1
    finally:
        await auth.stop()
