"""/v1/auth through the real gateway app (bearer check, problem+json) over real services."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"


async def admin_headers(security) -> dict[str, str]:
    token = await security.issue_token("root-admin", {"roles": ["admin"]}, 300)
    return {"Authorization": f"Bearer {token}"}


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def make_alice(auth_http, security) -> dict:
    r = await auth_http.post("/v1/auth/users", headers=await admin_headers(security),
                             json={"username": "alice", "password": PASSWORD, "roles": ["user"]})
    assert r.status_code == 201, r.text
    return r.json()


async def test_login_is_public_and_the_token_opens_the_rest(auth_http, security) -> None:
    user = await make_alice(auth_http, security)
    r = await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    tokens = r.json()
    me = (await auth_http.get("/v1/auth/me", headers=bearer(tokens))).json()
    assert me["id"] == user["id"] and "password_hash" not in me
    sessions = (await auth_http.get("/v1/auth/sessions", headers=bearer(tokens))).json()
    assert [s["id"] for s in sessions] == [tokens["session_id"]]
    refreshed = (await auth_http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert (await auth_http.post("/v1/auth/logout", json={"refresh_token": refreshed["refresh_token"]})
            ).status_code == 204


async def test_errors_are_problems_with_stable_types(auth_http, security) -> None:
    await make_alice(auth_http, security)
    assert_problem(await auth_http.post("/v1/auth/login", json={"username": "alice", "password": "wrong one!"}),
                   401, "auth-invalid-credentials")
    assert_problem(await auth_http.post("/v1/auth/login", json={"username": "alice"}), 422, "validation")
    assert_problem(await auth_http.post("/v1/auth/login", json={"username": "a", "password": "x", "admin": True}),
                   422, "validation")
    assert_problem(await auth_http.get("/v1/auth/me"), 401, "invalid-token")
    assert_problem(await auth_http.post("/v1/auth/refresh", json={"refresh_token": "aria_rt_nope"}),
                   401, "auth-invalid-refresh-token")
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    await auth_http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(await auth_http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
                   401, "auth-refresh-token-reused")
    admin = await admin_headers(security)
    assert_problem(await auth_http.post("/v1/auth/users", headers=admin,
                                        json={"username": "alice", "password": PASSWORD}), 409, "auth-user-exists")
    assert_problem(await auth_http.post("/v1/auth/users", headers=admin,
                                        json={"username": "bob", "password": "short"}), 400, "auth-weak-password")
    assert_problem(await auth_http.get("/v1/auth/users/not-a-uuid", headers=admin), 400, "auth-invalid-user")
    assert_problem(await auth_http.get("/v1/auth/users/00000000-0000-0000-0000-000000000000", headers=admin),
                   404, "auth-user-not-found")


async def test_lockout_is_429(auth_http, auth, security) -> None:
    await make_alice(auth_http, security)
    for _ in range(auth.config.max_failed_logins - 1):
        await auth_http.post("/v1/auth/login", json={"username": "alice", "password": "wrong one!"})
    body = assert_problem(await auth_http.post("/v1/auth/login", json={"username": "alice", "password": "wrong!"}),
                          429, "auth-account-locked")
    assert body["retry_after_s"] > 0


async def test_users_manage_themselves_and_only_admins_manage_others(auth_http, security) -> None:
    alice = await make_alice(auth_http, security)
    admin = await admin_headers(security)
    bob = (await auth_http.post("/v1/auth/users", headers=admin,
                                json={"username": "bob", "password": PASSWORD})).json()
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    mine = bearer(tokens)
    assert (await auth_http.get(f"/v1/auth/users/{alice['id']}", headers=mine)).status_code == 200
    assert_problem(await auth_http.get(f"/v1/auth/users/{bob['id']}", headers=mine), 403, "permission-denied")
    assert_problem(await auth_http.post("/v1/auth/users", headers=mine,
                                        json={"username": "eve", "password": PASSWORD}), 403, "permission-denied")
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=mine,
                                         json={"roles": ["admin"]}), 403, "permission-denied")
    # own password: the current one is required
    assert_problem(await auth_http.post(f"/v1/auth/users/{alice['id']}/password", headers=mine,
                                        json={"new_password": "a brand new passphrase"}),
                   401, "auth-invalid-credentials")
    # an administrator changes roles; the session picks them up at its next refresh
    r = await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=admin, json={"roles": ["user", "editor"]})
    assert r.status_code == 200 and r.json()["roles"] == ["user", "editor"]
    refreshed = (await auth_http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert refreshed["roles"] == ["user", "editor"]
    r = await auth_http.post(f"/v1/auth/users/{bob['id']}/password", headers=admin,
                             json={"new_password": "a brand new passphrase"})
    assert r.status_code == 204
    listed = (await auth_http.get("/v1/auth/users", headers=admin)).json()
    assert [u["username"] for u in listed] == ["alice", "bob"]


async def test_introspection_needs_a_permission_and_sees_revocation(auth_http, security) -> None:
    await make_alice(auth_http, security)
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    assert_problem(await auth_http.post("/v1/auth/introspect", headers=bearer(tokens),
                                        json={"token": tokens["access_token"]}), 403, "permission-denied")
    service = {"Authorization": f"Bearer {await security.issue_service_token('aria_coordinate')}"}
    r = await auth_http.post("/v1/auth/introspect", headers=service, json={"token": tokens["access_token"]})
    assert r.json()["active"] is True and r.json()["sid"] == tokens["session_id"]
    assert (await auth_http.delete(f"/v1/auth/sessions/{tokens['session_id']}", headers=bearer(tokens))
            ).status_code == 204
    r = await auth_http.post("/v1/auth/introspect", headers=service, json={"token": tokens["access_token"]})
    assert r.json() == {"active": False}


async def test_service_tokens_and_viewers_cannot_manage_accounts(auth_http, security) -> None:
    alice = await make_alice(auth_http, security)
    service = {"Authorization": f"Bearer {await security.issue_service_token('aria_storage')}"}
    assert_problem(await auth_http.post("/v1/auth/users", headers=service,
                                        json={"username": "mallory", "password": PASSWORD, "roles": ["admin"]}),
                   403, "permission-denied")
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=service,
                                         json={"roles": ["admin"]}), 403, "permission-denied")
    assert_problem(await auth_http.post(f"/v1/auth/users/{alice['id']}/password", headers=service,
                                        json={"new_password": "taken over passphrase"}), 403, "permission-denied")
    assert_problem(await auth_http.get("/v1/auth/me", headers=service), 403, "forbidden")
    viewer = {"Authorization": f"Bearer {await security.issue_token('v1', {'roles': ['viewer']}, 300)}"}
    assert_problem(await auth_http.get("/v1/auth/users", headers=viewer), 403, "permission-denied")
    assert_problem(await auth_http.get(f"/v1/auth/users/{alice['id']}/sessions", headers=viewer),
                   403, "permission-denied")
    # and whether a user exists is not told to callers who may not read users
    assert_problem(await auth_http.get("/v1/auth/users/00000000-0000-0000-0000-000000000000", headers=viewer),
                   403, "permission-denied")


async def test_a_user_cannot_change_their_own_roles_or_delete_themselves(auth_http, security) -> None:
    alice = await make_alice(auth_http, security)
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    mine = bearer(tokens)
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=mine, json={"roles": ["admin"]}),
                   403, "permission-denied")
    assert_problem(await auth_http.delete(f"/v1/auth/users/{alice['id']}", headers=mine), 403, "permission-denied")
