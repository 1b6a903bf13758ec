"""Resource grants and the decision API through the real gateway app (real aria_auth, aria_security,
PostgreSQL): sharing, revoking, groups, explanations, bad input, and replicas noticing changes."""

from __future__ import annotations

import pytest

from tests.fixtures.auth import admin_headers, assert_problem, bearer, start_auth
from tests.integration.auth.test_api import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def make_user(http, admin: dict, name: str, roles: tuple[str, ...] = ("user",)) -> tuple[str, dict]:
    r = await http.post("/v1/auth/users", headers=admin, json={"username": name, "password": PASSWORD,
                                                               "roles": list(roles)})
    assert r.status_code == 201, r.text
    tokens = (await http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})).json()
    return r.json()["id"], bearer(tokens)


async def decide(http, headers: dict, action: str, rid: str = "42", **extra) -> dict:
    r = await http.post("/v1/auth/decisions", headers=headers,
                        json={"action": action, "kind": "character", "resource_id": rid, **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def share(http, headers: dict, subject: str, relation: str, rid: str = "42", **extra):
    return await http.post(f"/v1/auth/resources/character/{rid}/grants", headers=headers,
                           json={"subject": subject, "relation": relation, **extra})


@pytest.fixture
async def world(auth_http, security) -> dict:
    admin = await admin_headers(security)
    alice, alice_h = await make_user(auth_http, admin, "alice")
    bob, bob_h = await make_user(auth_http, admin, "bob")
    r = await auth_http.post("/v1/auth/resources", headers=admin,
                             json={"kind": "character", "id": "42", "owner": alice})
    assert r.status_code == 201, r.text
    assert r.json()["owner"] == alice and r.json()["created"] is True
    return {"admin": admin, "alice": alice, "alice_h": alice_h, "bob": bob, "bob_h": bob_h}


async def test_owner_shares_a_character_as_viewer_then_revokes(auth_http, world) -> None:
    alice_h, bob, bob_h = world["alice_h"], world["bob"], world["bob_h"]
    assert (await decide(auth_http, alice_h, "delete"))["because"] == "owner of character:42"
    denied = await decide(auth_http, bob_h, "read")
    assert denied == {"allowed": False, "because": "no role or grant allows read on character:42", "via": []}

    r = await share(auth_http, alice_h, f"user:{bob}", "viewer")
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["relation"] == "viewer" and grant["created_by"] == world["alice"]
    allowed = await decide(auth_http, bob_h, "read")
    assert allowed["allowed"] and allowed["because"] == f"grant viewer to user:{bob} on character:42"
    assert not (await decide(auth_http, bob_h, "write"))["allowed"]
    assert (await decide(auth_http, bob_h, "shape:character:list"))["allowed"]
    # a viewer may not share, nor see the grants
    assert_problem(await share(auth_http, bob_h, f"user:{bob}", "editor"), 403, "forbidden")
    assert_problem(await auth_http.get("/v1/auth/resources/character/42/grants", headers=bob_h), 403, "forbidden")
    listed = (await auth_http.get("/v1/auth/resources/character/42/grants", headers=alice_h)).json()
    assert [g["id"] for g in listed] == [grant["id"]]
    # granting the same thing twice is one grant
    assert (await share(auth_http, alice_h, f"user:{bob}", "viewer")).json()["id"] == grant["id"]

    r = await auth_http.delete(f"/v1/auth/resources/character/42/grants/{grant['id']}", headers=alice_h)
    assert r.status_code == 204, r.text
    assert not (await decide(auth_http, bob_h, "read"))["allowed"]
    assert_problem(await auth_http.delete(f"/v1/auth/resources/character/42/grants/{grant['id']}", headers=alice_h),
                   404, "auth-grant-not-found")


async def test_group_grant_and_the_explanation(auth_http, world) -> None:
    admin, alice_h, bob_h = world["admin"], world["alice_h"], world["bob_h"]
    carol, carol_h = await make_user(auth_http, admin, "carol")
    r = await auth_http.post("/v1/auth/groups", headers=admin, json={"name": "designers"})
    assert r.status_code == 201, r.text
    group = r.json()
    assert (await auth_http.put(f"/v1/auth/groups/{group['id']}/members/{carol}", headers=admin)).status_code == 204
    members = (await auth_http.get(f"/v1/auth/groups/{group['id']}/members", headers=admin)).json()
    assert [m["username"] for m in members] == ["carol"]
    assert (await share(auth_http, alice_h, f"group:{group['id']}", "editor")).status_code == 201

    d = await decide(auth_http, carol_h, "write")
    assert d["allowed"] and d["because"] == "grant editor to group:designers on character:42"
    assert not (await decide(auth_http, carol_h, "delete"))["allowed"]
    assert not (await decide(auth_http, bob_h, "write"))["allowed"]
    # an editor may not grant (owner least of all)
    assert_problem(await share(auth_http, carol_h, f"user:{world['bob']}", "owner"), 403, "forbidden")

    # asking about someone else needs auth:grant:read (an administrator has it)
    body = {"action": "write", "kind": "character", "resource_id": "42", "subject": carol}
    assert_problem(await auth_http.post("/v1/auth/decisions", headers=bob_h, json=body), 403, "forbidden")
    r = await auth_http.post("/v1/auth/decisions/explain", headers=admin, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["allowed"] and out["subject"] == {"id": carol, "roles": ["user"], "tenant": ""}
    assert out["via"] == ["grant editor to group:designers on character:42"]
    assert out["looked_at"] == [f"user:{carol}", "group:designers", "tenant:(default)"]
    assert out["resource"]["owner"] == world["alice"] and out["index_version"] > 0

    # a deny for carol beats the group's allow
    assert (await share(auth_http, alice_h, f"user:{carol}", "editor", effect="deny")).status_code == 201
    d = await decide(auth_http, carol_h, "write")
    assert not d["allowed"] and d["because"] == f"deny grant editor to user:{carol} on character:42"
    # out of the group, deleting the group: its grants go with it
    assert (await auth_http.delete(f"/v1/auth/groups/{group['id']}", headers=admin)).status_code == 204
    kinds = {g["subject"].split(":")[0] for g in
             (await auth_http.get("/v1/auth/resources/character/42/grants", headers=alice_h)).json()}
    assert kinds == {"user"}


async def test_tenant_grant_and_the_admin(auth_http, world) -> None:
    assert (await share(auth_http, world["alice_h"], "tenant:", "viewer")).status_code == 201
    d = await decide(auth_http, world["bob_h"], "read")
    assert d["because"] == "grant viewer to tenant:(default) on character:42"
    assert (await decide(auth_http, world["admin"], "delete"))["because"] == "role admin allows by *:*:*@any"
    assert_problem(await share(auth_http, world["alice_h"], "tenant:globex", "viewer"), 400, "auth-invalid-grant")


async def test_bad_input_is_a_problem_not_a_500(auth_http, world) -> None:
    admin, alice_h = world["admin"], world["alice_h"]
    assert_problem(await auth_http.post("/v1/auth/resources", headers=admin,
                                        json={"kind": "spaceship", "id": "1"}), 422, "validation")
    assert_problem(await auth_http.post("/v1/auth/resources", headers=admin,
                                        json={"kind": "character", "id": "bad id!"}), 400, "auth-invalid-grant")
    assert_problem(await auth_http.post("/v1/auth/resources", headers=admin,
                                        json={"kind": "character", "id": "7",
                                              "owner": "00000000-0000-0000-0000-000000000000"}),
                   400, "auth-grant-subject-not-found")
    assert_problem(await share(auth_http, alice_h, "user:00000000-0000-0000-0000-000000000000", "viewer"),
                   400, "auth-grant-subject-not-found")
    assert_problem(await share(auth_http, alice_h, "group:00000000-0000-0000-0000-000000000000", "viewer"),
                   400, "auth-grant-subject-not-found")
    assert_problem(await share(auth_http, alice_h, "robot:1", "viewer"), 400, "auth-invalid-grant")
    assert_problem(await share(auth_http, alice_h, f"user:{world['bob']}", "superuser"), 422, "validation")
    assert_problem(await auth_http.get("/v1/auth/resources/spaceship/42/grants", headers=alice_h),
                   400, "auth-invalid-grant")
    assert_problem(await auth_http.get("/v1/auth/resources/character/42/grants?limit=5000", headers=alice_h),
                   422, "validation")
    assert_problem(await auth_http.get("/v1/auth/resources/character/42/grants?after=nope", headers=alice_h),
                   400, "auth-invalid-grant")
    assert_problem(await auth_http.delete("/v1/auth/resources/character/42/grants/nope", headers=alice_h),
                   400, "auth-invalid-grant")
    # another owner for a registered resource; an unregistered one (told only to who could act on it)
    assert_problem(await auth_http.post("/v1/auth/resources", headers=admin,
                                        json={"kind": "character", "id": "42", "owner": world["bob"]}),
                   409, "auth-resource-exists")
    assert_problem(await share(auth_http, admin, f"user:{world['bob']}", "viewer", rid="nope"),
                   404, "auth-resource-not-found")
    assert_problem(await share(auth_http, alice_h, f"user:{world['bob']}", "viewer", rid="nope"), 403, "forbidden")
    # a user may not register a resource for someone else, nor a character
    assert_problem(await auth_http.post("/v1/auth/resources", headers=alice_h,
                                        json={"kind": "character", "id": "8", "owner": world["bob"]}),
                   403, "forbidden")
    assert_problem(await auth_http.post("/v1/auth/resources", headers=alice_h, json={"kind": "character", "id": "8"}),
                   403, "forbidden")
    r = await auth_http.post("/v1/auth/decisions", headers=alice_h,
                             json={"action": "fly", "kind": "character", "resource_id": "42"})
    assert_problem(r, 400, "auth-invalid-grant")
    assert_problem(await auth_http.post("/v1/auth/decisions", json={"action": "read", "kind": "character",
                                                                    "resource_id": "42"}), 401, "invalid-token")


async def test_only_the_owning_service_or_an_administrator_registers_resources(auth_http, auth, security,
                                                                                  world) -> None:
    from aria_actors.runtime.principal import Principal

    alice, alice_h, bob, bob_h = world["alice"], world["alice_h"], world["bob"], world["bob_h"]
    # alice may write her own assets in aria_storage (storage:asset:write@own), yet may not claim
    # an asset id here: it may be bob's, and she would own it for every decision
    assert_problem(await auth_http.post("/v1/auth/resources", headers=alice_h, json={"kind": "asset", "id": "b7"}),
                   403, "forbidden")
    assert_problem(await auth_http.post("/v1/auth/resources", headers=alice_h,
                                        json={"kind": "asset", "id": "b7", "owner": alice}), 403, "forbidden")
    assert_problem(await auth_http.get("/v1/auth/resources/asset/b7", headers=world["admin"]),
                   404, "auth-resource-not-found")
    # nor may a service token (it is not the service itself)
    service_token = await security.issue_token(Principal.operator(), "svc-token", {"roles": ["service"]}, 300)
    assert_problem(await auth_http.post("/v1/auth/resources", headers={"Authorization": f"Bearer {service_token}"},
                                        json={"kind": "asset", "id": "b7", "owner": bob}), 403, "forbidden")
    # the owning service registers it for its owner, who then shares it
    storage = Principal.internal("aria_storage")
    registered = await auth.register_resource(storage, "asset", "b7", owner=bob)
    assert registered["owner"] == bob and registered["created"] is True
    r = await auth_http.post("/v1/auth/resources/asset/b7/grants", headers=bob_h,
                             json={"subject": f"user:{alice}", "relation": "viewer"})
    assert r.status_code == 201, r.text
    # a tenant's editor is no administrator either
    _, editor_h = await make_user(auth_http, world["admin"], "eddie", ("editor",))
    assert_problem(await auth_http.post("/v1/auth/resources", headers=editor_h,
                                        json={"kind": "character", "id": "9"}), 403, "forbidden")


async def test_grant_pages(auth_http, world) -> None:
    admin, alice_h = world["admin"], world["alice_h"]
    ids = []
    for name in ("u1", "u2", "u3"):
        uid, _ = await make_user(auth_http, admin, name)
        ids.append((await share(auth_http, alice_h, f"user:{uid}", "viewer")).json()["id"])
    first = (await auth_http.get("/v1/auth/resources/character/42/grants?limit=2", headers=alice_h)).json()
    rest = (await auth_http.get(f"/v1/auth/resources/character/42/grants?limit=2&after={first[-1]['id']}",
                                headers=alice_h)).json()
    assert [g["id"] for g in first + rest] == sorted(ids)


async def test_another_replica_notices_changes_and_cascades(auth_http, auth, auth_database, security, world,
                                                            tmp_path) -> None:
    from aria_actors.runtime.principal import Principal

    other = await start_auth(auth_database, security, tmp_path, grants_poll_s=300)
    try:
        bob = Principal(world["bob"], ("user",))
        assert not (await other.may(bob, "read", "character", "42"))["allowed"]
        version = other._grant_index.version
        assert (await share(auth_http, world["alice_h"], f"user:{world['bob']}", "viewer")).status_code == 201
        assert not (await other.may(bob, "read", "character", "42"))["allowed"]  # not polled yet
        await other._poll_grants()
        assert (await other.may(bob, "read", "character", "42"))["allowed"]
        assert other._grant_index.version > version
        # deleting the user deletes its grants (a cascade: the trigger bumps the version too)
        r = await auth_http.delete(f"/v1/auth/users/{world['bob']}", headers=world["admin"])
        assert r.status_code == 204, r.text
        await other._poll_grants()
        assert not (await other.may(bob, "read", "character", "42"))["allowed"]
        assert other._grant_index.stats()["grants"] == 0
    finally:
        await other.stop()


async def test_another_replica_is_woken_by_notify(auth_http, auth_database, security, world, tmp_path) -> None:
    import asyncio

    from aria_actors.runtime.principal import Principal

    other = await start_auth(auth_database, security, tmp_path, grants_poll_s=300)  # polls too rarely to matter
    try:
        assert other._grants_listener is not None
        bob = Principal(world["bob"], ("user",))
        assert (await share(auth_http, world["alice_h"], f"user:{world['bob']}", "editor")).status_code == 201
        for _ in range(400):  # the NOTIFY arrives asynchronously; a poll would take 300 s
            if (await other.may(bob, "write", "character", "42"))["allowed"]:
                break
            await asyncio.sleep(0.025)
        assert (await other.may(bob, "write", "character", "42"))["allowed"]
    finally:
        await other.stop()


async def test_a_user_deleted_in_a_tenant_transaction_takes_its_grants(auth_http, auth, security) -> None:
    import uuid

    from aria_actors.auth import store

    admin = await admin_headers(security)
    ids = {}
    for name in ("ann", "ben"):
        r = await auth_http.post("/v1/auth/users", headers=admin,
                                 json={"username": name, "password": PASSWORD, "tenant": "acme"})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    r = await auth_http.post("/v1/auth/resources", headers=admin,
                             json={"kind": "asset", "id": "a1", "owner": ids["ann"]})
    assert r.status_code == 201 and r.json()["tenant"] == "acme", r.text
    r = await auth_http.post("/v1/auth/resources/asset/a1/grants", headers=admin,
                             json={"subject": f"user:{ids['ben']}", "relation": "editor"})
    assert r.status_code == 201, r.text
    version = auth._grant_index.version
    # what a tenant-scoped administrator's delete_user runs: confined to acme (role aria_tenant)
    assert await auth._tx(lambda conn: store.delete_user(conn, uuid.UUID(ids["ben"])), tenant="acme")
    await auth._poll_grants()
    assert auth._grant_index.version > version and auth._grant_index.stats()["grants"] == 0


async def test_replicas_writing_at_once_converge(auth, auth_database, security, world, tmp_path) -> None:
    import asyncio

    from aria_actors.runtime.principal import Principal

    other = await start_auth(auth_database, security, tmp_path, grants_poll_s=300, grants_listen=False)
    try:
        admin = Principal.operator()
        users = [await auth.create_user(admin, f"w{i}", PASSWORD) for i in range(6)]
        await asyncio.gather(*(replica.grant(admin, "character", "42", f"user:{u['id']}", "viewer")
                               for replica, u in zip([auth, other] * 3, users, strict=True)))
        await auth._poll_grants()
        await other._poll_grants()
        for replica in (auth, other):
            assert replica._grant_index.stats()["grants"] == 6
            for u in users:
                assert (await replica.may(Principal(u["id"], ("user",)), "read", "character", "42"))["allowed"]
        assert auth._grant_index.version == other._grant_index.version
    finally:
        await other.stop()
