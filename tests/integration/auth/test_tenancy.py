"""aria_auth's tenants under row-level security, and its transactions retried on deadlocks and
serialization failures, over a real PostgreSQL and a real aria_security."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import aria_actors.auth
from aria_actors.auth import access, store
from aria_actors.auth.errors import ClientNotFound, InvalidCredentials, UserNotFound
from aria_actors.data.migrations import migrate_down, migrate_up
from aria_actors.data.tenancy import current_tenant
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate
from aria_actors.security.rbac import DEFAULT_ROLES
from tests.fixtures.auth import start_auth
from tests.fixtures.postgres import drop_database
from tests.integration.data.injected import failing_once

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
ANON = Principal.anonymous()
# A deployment's own role (ARIA_SECURITY_ROLES) managing the accounts of its tenant only.
TENANT_ADMIN = Principal("ta", ("tenant-admin",), tenant="acme")


class _Gate(Gate):
    """The role table with ``tenant-admin``; ``broken``: every record-level check lets the call
    through (a bug in a permission check), while what a caller may do across tenants still reads
    the role table."""

    broken = False

    def require(self, caller: Principal, action: str, resource: Any = None) -> None:
        if not self.broken:
            super().require(caller, action, resource)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch, auth: Any) -> _Gate:
    table = _Gate({**DEFAULT_ROLES, "tenant-admin": ("auth:*:*",)})
    monkeypatch.setattr(access, "gate", lambda: table)
    auth.roles = auth.roles | {"tenant-admin"}
    return table


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
    confined = {p["tablename"]: list(p["roles"]) for p in policies}
    assert {"clients", "users"} <= set(confined) and set(map(tuple, confined.values())) == {("aria_tenant",)}


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


async def test_a_tenant_scoped_caller_finds_no_other_tenants_record_by_id(auth, gate, monkeypatch) -> None:
    made = await _people(auth)
    carol, globex_client = made["carol"]["id"], made["etl-globex"]["client_id"]
    # The checks hold: another tenant's records are not found (confined to acme, there are none).
    with pytest.raises(UserNotFound):
        await auth.get_user(TENANT_ADMIN, carol)
    with pytest.raises(ClientNotFound):
        await auth.get_client(TENANT_ADMIN, globex_client)
    assert (await auth.get_user(TENANT_ADMIN, made["alice"]["id"]))["username"] == "alice"
    assert (await auth.get_user(OP, carol))["username"] == "carol"  # an @any caller: across tenants

    tokens = await auth.login(ANON, "carol", PASSWORD, tenant="globex")
    # carol's id with acme's tenant: no token says so, but a bug that built one finds no carol
    forged = Principal(carol, ("user",), tenant="acme", session=tokens["session_id"])

    async def unchecked(caller: Principal, action: str, resource: Any, fetch: Any) -> dict[str, Any]:
        return {"tenant": caller.tenant}  # a check that never looks at the record

    # Two bugs in the record-level checks: every check lets the tenant admin through (its lookup
    # of the record still runs, confined); no check nor lookup runs at all, so the operation itself
    # meets another tenant's id (reads then return what the broken check made up: not tried).
    checked = access.allowed_on
    for bug in ("require", "unchecked"):
        if bug == "require":
            gate.broken = True
        else:
            monkeypatch.setattr(access, "allowed_on", unchecked)
        reads = [lambda: auth.get_user(TENANT_ADMIN, carol)] if bug == "require" else []
        for call in (*reads,
                     lambda: auth.update_user(TENANT_ADMIN, carol, roles=["tenant-admin"], disabled=True),
                     lambda: auth.delete_user(TENANT_ADMIN, carol),
                     lambda: auth.set_password(TENANT_ADMIN, carol, "a takeover passphrase"),
                     lambda: auth.sessions(TENANT_ADMIN, carol),
                     lambda: auth.revoke_all(TENANT_ADMIN, carol),
                     lambda: auth.mfa_disable(TENANT_ADMIN, carol),
                     lambda: auth.revoke_session(forged, carol, tokens["session_id"]),
                     lambda: auth.me(forged)):
            with pytest.raises(UserNotFound) as err:
                await call()
            assert err.value.status == 404
        reads = [lambda: auth.get_client(TENANT_ADMIN, globex_client)] if bug == "require" else []
        for call in (*reads, lambda: auth.update_client(TENANT_ADMIN, globex_client, disabled=True),
                     lambda: auth.rotate_client_secret(TENANT_ADMIN, globex_client),
                     lambda: auth.delete_client(TENANT_ADMIN, globex_client)):
            with pytest.raises(ClientNotFound):
                await call()
    monkeypatch.setattr(access, "allowed_on", checked)
    # Named tenants: a list of globex's finds nothing, a user made in globex is refused by WITH CHECK.
    assert await auth.list_users(TENANT_ADMIN, tenant="globex") == []
    assert await auth.list_clients(TENANT_ADMIN, tenant="globex") == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await auth.create_user(TENANT_ADMIN, "mallory", PASSWORD, tenant="globex")
    gate.broken = False
    # Nothing of globex's changed: carol as she was, her session open (its revocations rolled
    # back with the transactions that found no carol), her password the same, the client as made.
    after = await auth.get_user(OP, carol)
    assert (after["roles"], after["disabled"]) == (["user"], False)
    assert [s["id"] for s in await auth.sessions(OP, carol)] == [tokens["session_id"]]
    assert "access_token" in await auth.refresh(ANON, tokens["refresh_token"])
    assert "access_token" in await auth.login(ANON, "carol", PASSWORD, tenant="globex")
    assert (await auth.get_client(OP, globex_client))["disabled"] is False
    assert "access_token" in await auth.client_token(ANON, globex_client, made["etl-globex"]["client_secret"])
    assert [u["username"] for u in await auth.list_users(OP, tenant="globex")] == ["carol"]
    # The store layer itself, in a transaction confined to the caller's tenant, finds nothing either.
    scope = access.rls_tenant(TENANT_ADMIN, "auth:user:write", "user")
    assert scope == "acme"
    assert await auth._tx(lambda conn: store.update_user(conn, uuid.UUID(carol), {"disabled": True}),
                          tenant=scope) is None
    assert await auth._tx(lambda conn: store.delete_user(conn, uuid.UUID(carol)), tenant=scope) is False
    assert (await auth.get_user(OP, carol))["disabled"] is False


async def test_a_tenant_scoped_caller_still_manages_its_own_tenant(auth, gate) -> None:
    made = await _people(auth)
    alice, bob = made["alice"]["id"], made["bob"]["id"]
    tokens = await auth.login(ANON, "bob", PASSWORD, tenant="acme")
    assert (await auth.update_user(TENANT_ADMIN, alice, display_name="Alice A."))["display_name"] == "Alice A."
    assert [s["id"] for s in await auth.sessions(TENANT_ADMIN, bob)] == [tokens["session_id"]]
    await auth.set_password(TENANT_ADMIN, alice, "another long passphrase")
    assert await auth.update_user(TENANT_ADMIN, bob, disabled=True)
    assert await auth.sessions(TENANT_ADMIN, bob) == []  # disabling ended them, confined or not
    await auth.delete_user(TENANT_ADMIN, bob)
    # bob's sessions went with him: the cascade runs as the tables' owner, not as the tenant role
    assert await auth.db.fetchval("SELECT count(*) FROM aria_auth.sessions WHERE user_id = $1",
                                  uuid.UUID(bob)) == 0
    acme_client = made["etl-acme"]["client_id"]
    assert (await auth.update_client(TENANT_ADMIN, acme_client, disabled=True))["disabled"] is True
    assert (await auth.rotate_client_secret(TENANT_ADMIN, acme_client))["client_secret"]
    await auth.delete_client(TENANT_ADMIN, acme_client)
    assert [c["tenant"] for c in await auth.list_clients(OP)] == ["globex"]
    assert sorted(u["username"] for u in await auth.list_users(TENANT_ADMIN)) == ["alice"]


async def test_whose_work_runs_confined_to_which_tenant(auth, gate, monkeypatch) -> None:
    made = await _people(auth)
    seen: list[tuple[str, str | None]] = []
    for name in ("user", "user_secrets", "update_user", "delete_user", "begin_mfa", "client", "update_client",
                 "delete_client", "open_sessions", "revoke_sessions"):
        real = getattr(store, name)

        async def call(conn: asyncpg.Connection, *args: Any, _real: Any = real, _name: str = name,
                       **kwargs: Any) -> Any:
            seen.append((_name, await current_tenant(conn)))
            return await _real(conn, *args, **kwargs)

        monkeypatch.setattr(store, name, call)

    async def calls(caller: Principal, user: str, client: str) -> list[tuple[str, str | None]]:
        seen.clear()
        await auth.get_user(caller, user)
        await auth.update_user(caller, user, display_name="x", disabled=True)
        await auth.sessions(caller, user)
        await auth.revoke_all(caller, user)
        await auth.set_password(caller, user, "another long passphrase")
        await auth.update_client(caller, client, disabled=True)
        await auth.delete_client(caller, client)
        await auth.delete_user(caller, user)
        return list(seen)

    # Sessions carry no tenant: ended or read as the service, then the user must be the tenant's.
    assert await calls(TENANT_ADMIN, made["alice"]["id"], made["etl-acme"]["client_id"]) == [
        ("user", "acme"), ("user", "acme"), ("revoke_sessions", None), ("update_user", "acme"),
        ("user", "acme"), ("open_sessions", None), ("user", "acme"), ("user", "acme"),
        ("revoke_sessions", None), ("user", "acme"), ("user", "acme"), ("user_secrets", "acme"),
        ("revoke_sessions", None), ("update_user", "acme"), ("client", "acme"), ("update_client", "acme"),
        ("client", "acme"), ("delete_client", "acme"), ("user", "acme"), ("delete_user", "acme")]
    # An @any caller works across tenants, as the service, as before.
    assert {t for _, t in await calls(OP, made["carol"]["id"], made["etl-globex"]["client_id"])} == {None}
    # A user's own session is confined to the user's tenant too.
    tokens = await auth.login(ANON, "bob", PASSWORD, tenant="acme")
    bob = Principal(made["bob"]["id"], ("user",), tenant="acme", session=tokens["session_id"])
    seen.clear()
    await auth.me(bob)
    await auth.my_sessions(bob)
    await auth.mfa_enroll(bob, bob.subject)
    await auth.revoke_session(bob, bob.subject, tokens["session_id"])
    assert seen == [("user", "acme"), ("open_sessions", None), ("user", "acme"), ("user", "acme"),
                    ("begin_mfa", "acme"), ("revoke_sessions", None), ("user", "acme")]


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

        # The migration (and every later one) goes down and up again as this role.
        folder = Path(aria_actors.auth.__file__).parent / "migrations"  # the versions on disk, not a copy
        since = sorted(int(p.name[:4]) for p in folder.glob("[0-9]*.sql")
                       if not p.name.endswith(".down.sql") and int(p.name[:4]) >= 3)
        async with auth.db.acquire() as conn:
            await migrate_down(conn, "aria_auth", steps=len(since))
            assert not await conn.fetchval("SELECT relrowsecurity FROM pg_class "
                                           "WHERE oid = 'aria_auth.users'::regclass")
            assert not await conn.fetchval("SELECT has_table_privilege('aria_tenant', 'aria_auth.users', "
                                           "'SELECT')")
            assert [a.version for a in await migrate_up(conn, ["aria_auth"])] == since
        assert await auth.db.transaction(count, tenant="globex") == 1
    finally:
        await auth.stop()
