"""aria_security's RPC boundary: who may call what, tokens never stronger than their minter,
KV/transit scoped by the calling service, and the router and middleware over the typed client."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from aria_actors.runtime.errors import AriaError, BadRequest, Forbidden, Unauthorized
from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, invoke, rpc_spec, surface
from aria_actors.runtime.testing import api_app
from aria_actors.security.api import router
from aria_actors.security.errors import SecretAccessDenied
from aria_actors.security.policies import service_scope
from aria_actors.security.rbac import DEFAULT_ROLES
from aria_actors.security.service import SecurityService
from aria_actors.security.testing import InProcessSecurity
from aria_actors.security.tokens import mintable_claims

OPS = Principal.operator()
AUTH = Principal.internal("aria_auth")
ROOT = Principal("root", ("admin",), tenant="t1")
ALICE = Principal("alice", ("user",), tenant="t1")
ROLES = ("admin", "operator", "editor", "viewer", "user", "service", "anonymous")


def _as(role: str) -> Principal:
    if role == "anonymous":
        return Principal.anonymous()
    return Principal(f"{role}-1", (role,), tenant="t1", kind="service" if role == "service" else "user")


# -- who may call which method (the declared surface against the default role table) ---------
ALLOWED = {
    "kv_get": {"admin"}, "kv_put": {"admin"}, "kv_list": {"admin"}, "kv_delete": {"admin"},
    "kv_undelete": {"admin"}, "kv_destroy": {"admin"}, "kv_versions": {"admin"},
    "encrypt": {"admin"}, "decrypt": {"admin"}, "rewrap": {"admin"}, "datakey": {"admin"},
    "rotate_key": {"admin"}, "rotate_jwt_key": {"admin"}, "service_token": {"admin"},
    "issue_token": {"admin"}, "issue_service_token": {"admin"},
    "db_creds": {"admin"}, "db_static_creds": {"admin"},
    "issue_certificate": {"admin"}, "revoke_certificate": {"admin"},
    "seal": {"admin", "operator"}, "unseal": {"admin", "operator"},
    "authorize": {"admin", "operator", "viewer"}, "roles": {"admin", "operator", "viewer"},
    "audit": {"admin", "operator"}, "record_events": {"admin"}, "metrics_text": {"admin", "operator"},
    "verify_token": set(ROLES) - {"anonymous"}, "ca_certificate": set(ROLES) - {"anonymous"},
    "crl": set(ROLES) - {"anonymous"},
    "jwks": set(ROLES),
}


def test_the_table_covers_the_whole_surface() -> None:
    assert set(ALLOWED) == set(surface(SecurityService))
    assert not any(spec.job for spec in surface(SecurityService).values())  # no queue job mints


@pytest.mark.parametrize("method", sorted(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_each_default_role_against_each_method(method: str, role: str) -> None:
    gate = Gate(DEFAULT_ROLES)
    spec = surface(SecurityService)[method]
    try:
        gate.check(spec, _as(role))
        allowed = True
    except (Forbidden, Unauthorized):
        allowed = False
    assert allowed is (role in ALLOWED[method]), f"{role} -> {method}"


def test_internal_and_operator_callers_pass_every_check() -> None:
    gate = Gate(DEFAULT_ROLES)
    for spec in surface(SecurityService).values():
        gate.check(spec, OPS)
        gate.check(spec, AUTH)


# -- minting ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("caller", "subject", "claims"), [
    (ROOT, "someone-else", None),                               # another subject
    (ROOT, "root", {"roles": ["admin", "operator"]}),           # a role it does not hold
    (ALICE, "alice", {"roles": ["admin"]}),                     # the escalation of issue 16
    (ROOT, "root", {"roles": ["internal"]}),                    # never minted
    (OPS, "x", {"roles": ["internal"]}),                        # not even by the operator
    (AUTH, "x", {"roles": "internal"}),                         # nor by a service
    (ROOT, "root", {"tenant": "t2"}),                           # another tenant
    (Principal("nt", ("admin",)), "nt", {"tenant": "t1"}),      # a tenant it has not
    (ROOT, "root", {"svc": "aria_storage"}),                    # would make it a service
    (ROOT, "root", {"client_id": "c"}),
    (ROOT, "root", {"sid": "someone's session"}),
    (ROOT, "root", {"amr": ["mfa"]}),                           # only roles, tenant, aud
])
def test_minting_beyond_your_own_claims_is_forbidden(caller, subject, claims) -> None:
    with pytest.raises(Forbidden) as err:
        mintable_claims(caller, subject, claims)
    assert err.value.status == 403


def test_what_may_be_minted() -> None:
    assert mintable_claims(ROOT, "root", {"roles": ["admin"], "aud": "aria"}) == {
        "roles": ["admin"], "aud": "aria", "tenant": "t1"}  # the tenant is never dropped
    assert mintable_claims(ALICE, "alice", None) == {"tenant": "t1"}
    assert mintable_claims(OPS, "operator", {"roles": ["admin"]}) == {"roles": ["admin"]}
    claims = {"roles": ["editor"], "sid": "s1", "tenant": "t9", "amr": ["pwd"]}
    assert mintable_claims(AUTH, "user-7", claims) == claims  # aria_auth signs its users' tokens
    with pytest.raises(BadRequest):
        mintable_claims(ROOT, "root", {"roles": [1]})


async def test_issue_token_through_the_boundary() -> None:
    fake = InProcessSecurity.started()
    client = LocalClient(fake)
    # a queue job runs as its enqueuer, so this is what alice's job would get too
    with pytest.raises(Forbidden):
        await client.call("issue_token", ALICE, "alice", {"roles": ["admin"]}, 60)
    assert rpc_spec(SecurityService.issue_token).job is False
    with pytest.raises(Forbidden):
        await client.call("issue_token", ROOT, "someone-else", {"roles": ["admin"]}, 60)
    token = await client.call("issue_token", OPS, "operator", {"roles": ["admin"]}, 3600)
    assert (await client.call("verify_token", ALICE, token))["roles"] == ["admin"]
    with pytest.raises(AriaError):  # the lifetime stays capped
        await client.call("issue_token", OPS, "operator", {"roles": ["admin"]}, 10**6)


async def test_a_role_granted_minting_still_mints_only_its_own_claims() -> None:
    gate = Gate({**DEFAULT_ROLES, "user": (*DEFAULT_ROLES["user"], "security:token:issue@own")})
    fake = InProcessSecurity.started()

    async def mint(subject: str, claims: dict) -> str:
        return await invoke(fake, "issue_token", (ALICE, subject, claims, 60), {}, gate)

    claims = await fake.verify_token(OPS, await mint("alice", {"roles": ["user"]}))
    assert (claims["sub"], claims["roles"], claims["tenant"]) == ("alice", ["user"], "t1")
    for subject, bad in [("alice", {"roles": ["admin"]}), ("bob", {"roles": ["user"]}),
                         ("alice", {"tenant": "t2"}), ("alice", {"roles": ["internal"]})]:
        with pytest.raises(Forbidden):
            await mint(subject, bad)


# -- KV/transit scoped by the calling service ---------------------------------------------------
def test_service_scope() -> None:
    storage = Principal.internal("aria_storage")
    assert service_scope(storage, None) == "aria_storage"
    assert service_scope(storage, "aria_storage") == "aria_storage"
    with pytest.raises(SecretAccessDenied):
        service_scope(storage, "aria_queue")
    assert service_scope(ROOT, None) is None  # an administrator: the admin token
    assert service_scope(ROOT, "aria_queue") == "aria_queue"  # ... which service= narrows
    assert service_scope(Principal.internal("aria_security"), None) is None
    # a token can never be internal, whatever it claims
    assert service_scope(Principal.from_claims({"sub": "svc:aria_storage", "roles": ["internal"],
                                                "svc": "aria_storage"}), None) is None


async def test_a_service_reads_only_its_own_secrets_without_saying_who_it_is() -> None:
    client = LocalClient(InProcessSecurity.started())
    storage, queue = Principal.internal("aria_storage"), Principal.internal("aria_queue")
    await client.call("kv_put", storage, "services/aria_storage/s3", {"k": "v"})
    assert await client.call("kv_get", storage, "services/aria_storage/s3") == {"k": "v"}
    with pytest.raises(SecretAccessDenied):
        await client.call("kv_get", queue, "services/aria_storage/s3")
    with pytest.raises(SecretAccessDenied):
        await client.call("kv_get", queue, "services/aria_storage/s3", service="aria_storage")
    assert await client.call("kv_get", ROOT, "services/aria_storage/s3") == {"k": "v"}
    ct = await client.call("encrypt", storage, "aria_storage-chunks", b"x")
    with pytest.raises(SecretAccessDenied):
        await client.call("decrypt", queue, "aria_storage-chunks", ct)


# -- the router, over the typed client ------------------------------------------------------------
def _http(caller: Principal, fake: InProcessSecurity | None = None) -> TestClient:
    fake = fake or InProcessSecurity.started()
    return TestClient(api_app(router, clients={"aria_security": LocalClient(fake)}, caller=caller))


@pytest.mark.parametrize(("caller", "body"), [
    (ALICE, {"subject": "alice", "claims": {"roles": ["admin"]}}),
    (ALICE, {"subject": "alice"}),
    (ROOT, {"subject": "svc:aria_queue", "claims": {"roles": ["service"]}}),
    (ROOT, {"subject": "root", "claims": {"roles": ["internal"]}}),
    (ROOT, {"subject": "root", "claims": {"roles": ["operator"]}}),
    (ROOT, {"subject": "root", "claims": {"tenant": "t2"}}),
    (ROOT, {"subject": "root", "claims": {"svc": "aria_queue"}}),
])
def test_post_tokens_refuses_a_stronger_token(caller: Principal, body: dict) -> None:
    r = _http(caller).post("/v1/security/tokens", json=body)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/forbidden")


def test_post_tokens_for_yourself_and_for_the_operator() -> None:
    fake = InProcessSecurity.started()
    r = _http(ROOT, fake).post("/v1/security/tokens", json={"subject": "root", "claims": {"roles": ["admin"]}})
    assert r.status_code == 200, r.text
    r = _http(OPS, fake).post("/v1/security/tokens", json={"subject": "ops", "claims": {"roles": ["admin"]}})
    assert r.status_code == 200
    claims = _http(ALICE, fake).post("/v1/security/tokens/verify", json={"token": r.json()["token"]}).json()
    assert claims["claims"]["roles"] == ["admin"]


def test_bad_bodies_are_4xx_before_the_service_runs() -> None:
    http = _http(ROOT)
    assert http.post("/v1/security/tokens", json={"subject": "root", "extra": 1}).status_code == 422
    assert http.post("/v1/security/tokens", json={"subject": ""}).status_code == 422
    assert http.put("/v1/security/secrets/a/b", json={"data": {}}).status_code == 422
    assert http.post("/v1/security/certificates", json={"common_name": "x", "ttl": "forever"}).status_code == 422
    assert http.get("/v1/security/secrets/a//b").json()["type"].endswith("/invalid-secret-path")
    assert http.get("/v1/security/secrets/" + "a" * 2000).status_code == 422
    assert http.post("/v1/security/keys/a.b/rotate").status_code == 422
    # no permission, no validation details: the check comes first
    r = _http(ALICE).put("/v1/security/secrets/a/b", json={"bogus": True})
    assert r.status_code == 403


def test_secret_routes_are_for_admins_and_jwks_for_everyone() -> None:
    fake = InProcessSecurity.started()
    assert _http(ROOT, fake).put("/v1/security/secrets/shared/x", json={"data": {"k": "v"}}).status_code == 200
    assert _http(ROOT, fake).get("/v1/security/secrets/shared/x").json()["data"] == {"k": "v"}
    for who in (_as("viewer"), _as("operator"), ALICE, _as("service")):
        assert _http(who, fake).get("/v1/security/secrets/shared/x").status_code == 403
    assert _http(Principal.anonymous(), fake).get("/v1/security/jwks").json()["keys"]
    assert _http(Principal.anonymous(), fake).post("/v1/security/tokens/verify",
                                                   json={"token": "a.b.c"}).status_code == 401


def test_seal_is_for_operators_not_editors() -> None:
    spec = rpc_spec(SecurityService.seal)
    Gate(DEFAULT_ROLES).check(spec, Principal("ops", ("operator",), tenant="t1"))
    with pytest.raises(Forbidden):
        Gate(DEFAULT_ROLES).check(spec, Principal("ed", ("editor",), tenant="t1"))


# -- the bearer check over the typed client ---------------------------------------------------
def test_bearer_auth_fetches_the_jwks_through_the_typed_client() -> None:
    from aria_actors.security.middleware import BearerAuth

    fake = InProcessSecurity.started()
    app = FastAPI(dependencies=[Depends(BearerAuth())])
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_security": LocalClient(fake)}

    http = TestClient(app)
    assert http.get("/v1/security/jwks").status_code == 200  # exempt
    assert http.get("/v1/security/list").status_code == 401
    import asyncio

    token = asyncio.run(fake.issue_token(OPS, "alice", {"roles": ["user"], "tenant": "t1"}, 60))
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get("/v1/security/list", headers=bearer).status_code == 403  # verified, not allowed
