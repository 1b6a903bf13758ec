"""/v1/auth through the real gateway app (bearer check, problem+json) over real services."""

from __future__ import annotations

import pytest

from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import admin_headers, assert_problem, bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()


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
    assert_problem(await auth_http.get(f"/v1/auth/users/{bob['id']}", headers=mine), 403, "forbidden")
    assert_problem(await auth_http.post("/v1/auth/users", headers=mine,
                                        json={"username": "eve", "password": PASSWORD}), 403, "forbidden")
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=mine,
                                         json={"roles": ["admin"]}), 403, "forbidden")
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
                                        json={"token": tokens["access_token"]}), 403, "forbidden")
    service = {"Authorization": f"Bearer {await security.issue_service_token(OP, 'aria_coordinate')}"}
    r = await auth_http.post("/v1/auth/introspect", headers=service, json={"token": tokens["access_token"]})
    assert r.json()["active"] is True and r.json()["sid"] == tokens["session_id"]
    assert (await auth_http.delete(f"/v1/auth/sessions/{tokens['session_id']}", headers=bearer(tokens))
            ).status_code == 204
    r = await auth_http.post("/v1/auth/introspect", headers=service, json={"token": tokens["access_token"]})
    assert r.json() == {"active": False}


async def test_service_tokens_and_viewers_cannot_manage_accounts(auth_http, security) -> None:
    alice = await make_alice(auth_http, security)
    service = {"Authorization": f"Bearer {await security.issue_service_token(OP, 'aria_storage')}"}
    assert_problem(await auth_http.post("/v1/auth/users", headers=service,
                                        json={"username": "mallory", "password": PASSWORD, "roles": ["admin"]}),
                   403, "forbidden")
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=service,
                                         json={"roles": ["admin"]}), 403, "forbidden")
    assert_problem(await auth_http.post(f"/v1/auth/users/{alice['id']}/password", headers=service,
                                        json={"new_password": "taken over passphrase"}), 403, "forbidden")
    assert_problem(await auth_http.get("/v1/auth/me", headers=service), 403, "forbidden")
    viewer = {"Authorization": f"Bearer {await security.issue_token(OP, 'v1', {'roles': ['viewer']}, 300)}"}
    assert_problem(await auth_http.get("/v1/auth/users", headers=viewer), 403, "forbidden")
    assert_problem(await auth_http.get(f"/v1/auth/users/{alice['id']}/sessions", headers=viewer),
                   403, "forbidden")
    # and whether a user exists is not told to callers who may not read users
    assert_problem(await auth_http.get("/v1/auth/users/00000000-0000-0000-0000-000000000000", headers=viewer),
                   403, "forbidden")


async def test_a_user_cannot_change_their_own_roles_or_delete_themselves(auth_http, security) -> None:
    alice = await make_alice(auth_http, security)
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    mine = bearer(tokens)
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=mine, json={"roles": ["admin"]}),
                   403, "forbidden")
    assert_problem(await auth_http.delete(f"/v1/auth/users/{alice['id']}", headers=mine), 403, "forbidden")


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_a_machine_client_gets_tokens_with_client_credentials(auth_http, security) -> None:
    admin = await admin_headers(security)
    made = await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "billing", "roles": ["service"]})
    assert made.status_code == 201, made.text
    cid, secret = made.json()["client_id"], made.json()["client_secret"]
    assert all("secret" not in c for c in (await auth_http.get("/v1/auth/clients", headers=admin)).json())
    r = await auth_http.post("/v1/auth/token", headers=FORM, auth=(cid, secret),
                             content="grant_type=client_credentials")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and "refresh_token" not in r.json()
    claims = await security.verify_token(OP, r.json()["access_token"])
    assert claims["sub"] == f"client:{cid}" and claims["roles"] == ["service"]
    # the token opens service routes the role allows, and introspects active until the client is disabled
    assert (await auth_http.post("/v1/auth/introspect", headers=bearer(r.json()),
                                 json={"token": r.json()["access_token"]})).json()["active"] is True
    await auth_http.patch(f"/v1/auth/clients/{cid}", headers=admin, json={"disabled": True})
    assert (await auth_http.post("/v1/auth/introspect", headers=admin,
                                 json={"token": r.json()["access_token"]})).json() == {"active": False}
    refused = await auth_http.post("/v1/auth/token", headers=FORM, auth=(cid, secret),
                                   content="grant_type=client_credentials")
    assert assert_problem(refused, 401, "auth-invalid-client")["error"] == "invalid_client"


async def test_a_rotated_client_secret_replaces_the_old_one(auth_http, security) -> None:
    admin = await admin_headers(security)
    made = (await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "etl"})).json()
    rotated = (await auth_http.post(f"/v1/auth/clients/{made['client_id']}/secret", headers=admin)).json()
    old = await auth_http.post("/v1/auth/token", headers=FORM, content=(
        f"grant_type=client_credentials&client_id={made['client_id']}&client_secret={made['client_secret']}"))
    assert_problem(old, 401, "auth-invalid-client")
    new = await auth_http.post("/v1/auth/token", headers=FORM, content=(
        f"grant_type=client_credentials&client_id={made['client_id']}&client_secret={rotated['client_secret']}"))
    assert new.status_code == 200
    assert (await auth_http.delete(f"/v1/auth/clients/{made['client_id']}", headers=admin)).status_code == 204


async def test_password_and_refresh_grants_and_oauth_errors(auth_http, security) -> None:
    await make_alice(auth_http, security)
    r = await auth_http.post("/v1/auth/token", headers=FORM,
                             content=f"grant_type=password&username=alice&password={PASSWORD.replace(' ', '+')}")
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    r = await auth_http.post("/v1/auth/token", json={"grant_type": "refresh_token",
                                                     "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200 and r.json()["refresh_token"] != tokens["refresh_token"]
    reused = await auth_http.post("/v1/auth/token", headers=FORM,
                                  content=f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}")
    assert assert_problem(reused, 400, "auth-refresh-token-reused")["error"] == "invalid_grant"
    wrong = await auth_http.post("/v1/auth/token", headers=FORM,
                                 content="grant_type=password&username=alice&password=nope")
    assert assert_problem(wrong, 400, "auth-invalid-credentials")["error"] == "invalid_grant"
    odd = await auth_http.post("/v1/auth/token", headers=FORM, content="grant_type=implicit")
    assert assert_problem(odd, 400, "auth-unsupported-grant-type")["error"] == "unsupported_grant_type"


async def test_only_role_granting_admins_make_clients(auth_http, security) -> None:
    for roles in (["service"], ["operator"], ["viewer"]):
        token = await security.issue_token(OP, "someone", {"roles": roles}, 300)
        made = await auth_http.post("/v1/auth/clients", headers={"Authorization": f"Bearer {token}"},
                                    json={"name": "sneaky", "roles": ["admin"]})
        assert_problem(made, 403, "forbidden")
    admin = await admin_headers(security)
    assert_problem(await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "x", "roles": ["root"]}),
                   400, "auth-invalid-user")
    await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "dup"})
    assert_problem(await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "DUP"}),
                   409, "auth-client-exists")
    assert_problem(await auth_http.get("/v1/auth/clients/nope", headers=admin), 404, "auth-client-not-found")
    viewer = {"Authorization": f"Bearer {await security.issue_token(OP, 'v', {'roles': ['viewer']}, 300)}"}
    assert_problem(await auth_http.get("/v1/auth/clients/nope", headers=viewer), 403, "forbidden")


async def test_made_up_client_credentials_on_other_grants_are_refused(auth_http, security) -> None:
    await make_alice(auth_http, security)
    r = await auth_http.post("/v1/auth/token", headers=FORM, auth=("00000000-0000-0000-0000-000000000000", "aria_cs_x"),
                             content=f"grant_type=password&username=alice&password={PASSWORD.replace(' ', '+')}")
    assert assert_problem(r, 401, "auth-invalid-client")["error"] == "invalid_client"
    many = await auth_http.post("/v1/auth/token", headers=FORM, content="&".join(f"f{i}=x" for i in range(30)))
    assert assert_problem(many, 400, "auth-invalid-token-request")["error"] == "invalid_request"


async def test_a_tenant_scoped_assigner_grants_only_roles_it_holds(auth_http, auth, security, monkeypatch) -> None:
    # A deployment's own role table (ARIA_SECURITY_ROLES) may delegate role assignment per
    # tenant; such an assigner must not be able to mint an admin. The gate (gateway and service
    # alike) reads the table from the environment; the running service learnt its role names at
    # start, so the new one is added to them here.
    import json

    from aria_actors.runtime.rpc import default_gate

    monkeypatch.setenv("ARIA_SECURITY_ROLES", json.dumps({"tenant-admin": ["auth:*:*", "storage:*:*"]}))
    default_gate.cache_clear()
    auth.roles = auth.roles | {"tenant-admin"}
    try:
        token = await security.issue_token(OP, "ta", {"roles": ["tenant-admin"], "tenant": "acme"}, 300)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"username": "bob", "password": PASSWORD, "tenant": "acme"}
        refused = assert_problem(await auth_http.post("/v1/auth/users", headers=headers,
                                                      json={**body, "roles": ["admin"]}), 403, "forbidden")
        assert "does not hold: admin" in refused["detail"]
        made = await auth_http.post("/v1/auth/users", headers=headers, json={**body, "roles": ["tenant-admin"]})
        assert made.status_code == 201, made.text
        other = await auth_http.post("/v1/auth/users", headers=headers, json={**body, "tenant": "globex"})
        assert_problem(other, 403, "forbidden")  # not its tenant
        listed = (await auth_http.get("/v1/auth/users", headers=headers)).json()
        assert {u["tenant"] for u in listed} == {"acme"}
        assert_problem(await auth_http.get("/v1/auth/users", headers=headers, params={"tenant": "globex"}),
                       403, "forbidden")
    finally:
        monkeypatch.delenv("ARIA_SECURITY_ROLES")
        default_gate.cache_clear()


@pytest.mark.parametrize("role", ["internal", "anonymous"])
async def test_an_admin_cannot_grant_internal_or_anonymous(auth_http, security, role) -> None:
    admin = await admin_headers(security)
    assert_problem(await auth_http.post("/v1/auth/users", headers=admin,
                                        json={"username": "bob", "password": PASSWORD, "roles": [role]}),
                   400, "auth-invalid-user")
    alice = await make_alice(auth_http, security)
    assert_problem(await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=admin, json={"roles": [role]}),
                   400, "auth-invalid-user")
    assert_problem(await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "x", "roles": [role]}),
                   400, "auth-invalid-user")
    made = (await auth_http.post("/v1/auth/clients", headers=admin, json={"name": "etl"})).json()
    assert_problem(await auth_http.patch(f"/v1/auth/clients/{made['client_id']}", headers=admin,
                                         json={"roles": [role]}), 400, "auth-invalid-user")
