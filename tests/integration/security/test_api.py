"""The /v1/security router and the bearer-auth dependency, over the real service."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import Depends, FastAPI

from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.security.api import router
from aria_actors.security.middleware import BearerAuth
from aria_actors.security.tokens import JwtVerifier

OPS = Principal.operator()


def make_app(service) -> FastAPI:
    app = FastAPI(dependencies=[Depends(BearerAuth())])
    install_problem_handlers(app)
    app.include_router(router)

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    app.state.clients = {"aria_security": LocalClient(service)}
    return app


@pytest.fixture
async def http(security):
    transport = httpx.ASGITransport(app=make_app(security))
    async with httpx.AsyncClient(transport=transport, base_url="http://aria") as client:
        yield client


async def bearer(security, roles, sub="alice", tenant="t1") -> dict[str, str]:
    token = await security.issue_token(OPS, sub, {"roles": roles, "tenant": tenant}, 300)
    return {"Authorization": f"Bearer {token}"}


async def test_health_and_jwks_need_no_token(http) -> None:
    assert (await http.get("/health")).status_code == 200
    jwks = (await http.get("/v1/security/jwks")).json()
    assert jwks["keys"] and jwks["keys"][0]["alg"] == "EdDSA"


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not-a-jwt", "Bearer a.b.c",
                                    "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA"])
async def test_malformed_or_missing_jwt_is_401_problem_without_trace(http, header) -> None:
    headers = {"Authorization": header} if header else {}
    r = await http.get("/v1/security/list", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/invalid-token")
    assert "Traceback" not in r.text and "File \"" not in r.text


async def test_admin_secret_round_trip_and_unknown_path_404(http, security) -> None:
    admin = await bearer(security, ["admin"], sub="root-admin")
    r = await http.put("/v1/security/secrets/services/aria_tune/api", json={"data": {"k": "v"}},
                       headers=admin)
    assert r.status_code == 200 and r.json()["version"] >= 1
    r = await http.get("/v1/security/secrets/services/aria_tune/api", headers=admin)
    assert r.json()["data"] == {"k": "v"}
    r = await http.get("/v1/security/secrets/services/aria_tune/missing", headers=admin)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/secret-not-found")
    r = await http.get("/v1/security/list", params={"prefix": "services/aria_tune"}, headers=admin)
    assert "api" in r.json()["keys"]
    assert (await http.delete("/v1/security/secrets/services/aria_tune/api", headers=admin)
            ).status_code == 204
    r = await http.get("/v1/security/secrets/services/aria_tune/bad%20path", headers=admin)
    assert r.status_code == 400


@pytest.mark.parametrize("roles", [["viewer"], ["operator"], ["editor"], ["user"], ["service"]])
async def test_only_admins_read_secrets(http, security, roles) -> None:
    who = await bearer(security, roles, sub="victor")
    r = await http.get("/v1/security/secrets/services/aria_tune/api", headers=who)
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")


async def test_issue_and_verify_token_over_http(http, security) -> None:
    admin = await bearer(security, ["admin", "viewer"], sub="root-admin")
    r = await http.post("/v1/security/tokens", json={"subject": "root-admin", "ttl_s": 60,
                                                     "claims": {"roles": ["viewer"]}}, headers=admin)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    r = await http.post("/v1/security/tokens/verify", json={"token": token}, headers=admin)
    claims = r.json()["claims"]
    assert claims["sub"] == "root-admin" and claims["roles"] == ["viewer"] and claims["tenant"] == "t1"
    r = await http.post("/v1/security/tokens/verify", json={"token": token + "x"}, headers=admin)
    assert r.status_code == 401


@pytest.mark.parametrize("body", [
    {"subject": "alice", "claims": {"roles": ["admin"]}},                 # the escalation of issue 16
    {"subject": "alice", "claims": {"roles": ["user"]}},                  # no role grants minting
])
async def test_a_user_cannot_mint_tokens(http, security, body) -> None:
    alice = await bearer(security, ["user"], sub="alice")
    r = await http.post("/v1/security/tokens", json=body, headers=alice)
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")


@pytest.mark.parametrize("body", [
    {"subject": "someone-else", "claims": {"roles": ["admin"]}},
    {"subject": "root-admin", "claims": {"roles": ["admin", "operator"]}},
    {"subject": "root-admin", "claims": {"roles": ["internal"]}},
    {"subject": "root-admin", "claims": {"tenant": "t2"}},
    {"subject": "root-admin", "claims": {"svc": "aria_storage"}},
    {"subject": "root-admin", "claims": {"sid": "00000000-0000-0000-0000-000000000000"}},
])
async def test_an_admin_mints_no_token_beyond_its_own(http, security, body) -> None:
    admin = await bearer(security, ["admin"], sub="root-admin")
    r = await http.post("/v1/security/tokens", json=body, headers=admin)
    assert r.status_code == 403, r.text
    records = security._audit.path.read_text().splitlines()
    assert any('"actor": "root-admin", "op": "issue_token"' in line and "denied" in line
               for line in records[-5:])


async def test_the_operator_mints_admin_tokens(security) -> None:
    token = await security.issue_token(OPS, "operator", {"roles": ["admin"]}, 60)
    assert JwtVerifier(await security.jwks(OPS)).verify(token)["roles"] == ["admin"]


async def test_client_sending_invalid_tokens_is_locked_out(security) -> None:
    from aria_actors.security.audit import Lockout

    app = FastAPI(dependencies=[Depends(BearerAuth(lockout=Lockout(threshold=3, window_s=60,
                                                                    lockout_s=60)))])
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_security": LocalClient(security)}
    good = await bearer(security, ["admin"], sub="root-admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://aria") as http:
        assert (await http.get("/v1/security/list", headers=good)).status_code == 200
        for _ in range(3):
            r = await http.get("/v1/security/list", headers={"Authorization": "Bearer x.y.z"})
            assert r.status_code == 401
        r = await http.get("/v1/security/list", headers=good)
        assert r.status_code == 429 and r.json()["type"].endswith("/locked-out")
        assert (await http.get("/v1/security/jwks")).status_code == 200  # public stays public


def _reheaded(token: str, header) -> str:
    from aria_actors.security.tokens import b64url

    _, body, sig = token.split(".")
    return f"{b64url(json.dumps(header).encode())}.{body}.{sig}"


@pytest.mark.parametrize("header", [{"alg": "EdDSA", "kid": [1]}, {"alg": "EdDSA", "kid": {"a": 1}},
                                    {"alg": {"EdDSA": 1}, "kid": [1]}, [1], {"alg": "EdDSA", "kid": None}])
async def test_a_malformed_kid_is_401_at_the_gateway_and_at_verify(http, security, header) -> None:
    admin = await bearer(security, ["admin"], sub="root-admin")
    bad = _reheaded(admin["Authorization"].split(" ", 1)[1], header)
    r = await http.get("/v1/security/list", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token"), r.text
    r = await http.post("/v1/security/tokens/verify", json={"token": bad}, headers=admin)
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token"), r.text


@pytest.mark.parametrize("principal", [{"sub": "a", "roles": 5}, {"sub": "a", "roles": [[1]]},
                                       {"sub": "a", "roles": {"a": 1}}, {"sub": 5}, {"sub": "a", "tenant": [1]}])
async def test_authorize_route_refuses_malformed_principals(http, security, principal) -> None:
    viewer = await bearer(security, ["viewer"], sub="vic")
    r = await http.post("/v1/security/authorize", headers=viewer,
                        json={"principal": principal, "action": "storage:asset:read"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text


async def test_authorize_is_audited_as_the_caller_not_the_subject_in_the_body(http, security) -> None:
    viewer = await bearer(security, ["viewer"], sub="vic")
    forged = {"sub": "root-admin", "roles": ["admin"]}
    r = await http.post("/v1/security/authorize", headers=viewer,
                        json={"principal": forged, "action": "security:secret:read",
                              "resource": {"type": "secret"}})
    assert r.status_code == 200 and r.json() == {"allowed": True}
    last = [json.loads(x) for x in security._audit.path.read_text().splitlines()
            if '"op": "authorize"' in x][-1]
    assert last["actor"] == "vic" and last["subject"] == "root-admin"
    assert (last["target"], last["outcome"]) == ("security:secret:read secret", "ok")


async def test_audit_roles_metrics_and_ca_routes(http, security) -> None:
    admin = await bearer(security, ["admin"], sub="audit-admin")
    operator = await bearer(security, ["operator"], sub="audit-operator")
    viewer = await bearer(security, ["viewer"], sub="audit-viewer")
    # a denial the subject asked about itself counts toward its lockout; it is in the trail
    r = await http.post("/v1/security/authorize", headers=viewer, json={
        "principal": {"sub": "audit-viewer", "roles": ["viewer"], "tenant": "t1"},
        "action": "security:secret:read"})
    assert r.json() == {"allowed": False}
    r = await http.get("/v1/security/audit", params={"actor": "audit-viewer", "op": "authorize"}, headers=operator)
    assert r.status_code == 200, r.text
    (entry,) = r.json()[:1]
    assert entry["outcome"] == "denied" and entry["subject"] == "audit-viewer"
    newest = (await http.get("/v1/security/audit", params={"limit": 1}, headers=admin)).json()
    assert len(newest) == 1 and newest[0]["op"] == "audit_read" and newest[0]["actor"] == "audit-operator"
    assert (await http.get("/v1/security/audit", headers=viewer)).status_code == 403
    assert (await http.get("/v1/security/audit", params={"limit": 0}, headers=admin)).status_code == 422
    assert (await http.get("/v1/security/audit", params={"op": "a\x01"}, headers=admin)).status_code == 422

    table = (await http.get("/v1/security/roles", headers=viewer)).json()
    assert table["admin"] == ["*:*:*@any"] and "viewer" in table

    text = (await http.get("/v1/security/metrics", headers=operator)).text
    assert "aria_security_authorizations_total" in text and "aria_security_operations_total" in text
    assert (await http.get("/v1/security/metrics", headers=viewer)).status_code == 403

    pem = (await http.get("/v1/security/ca", headers=viewer)).text
    assert pem.startswith("-----BEGIN CERTIFICATE-----")


async def test_seal_and_unseal_routes(http, security) -> None:
    admin = await bearer(security, ["admin"], sub="seal-admin")
    operator = await bearer(security, ["operator"], sub="seal-operator")
    viewer = await bearer(security, ["viewer"], sub="seal-viewer")
    assert (await http.post("/v1/security/seal", headers=viewer)).status_code == 403
    assert (await http.post("/v1/security/seal", headers=operator)).json() == {"sealed": True}
    try:
        r = await http.get("/v1/security/list", headers=admin)
        assert r.status_code == 503, r.text  # sealed: every secret call fails
        assert (await security.health()).details["sealed"] is True
    finally:
        r = await http.post("/v1/security/unseal", headers=operator)  # with the key SoftHSM unwraps
    assert r.json() == {"sealed": False}
    assert (await http.get("/v1/security/list", headers=admin)).status_code == 200


async def test_a_service_token_reaches_only_that_service_s_paths(http, security) -> None:
    import hvac

    admin = await bearer(security, ["admin"], sub="zt-admin")
    await http.put("/v1/security/secrets/services/aria_storage/zt", json={"data": {"k": "s"}}, headers=admin)
    await http.put("/v1/security/secrets/services/aria_auth/zt", json={"data": {"k": "a"}}, headers=admin)
    r = await http.post("/v1/security/services/aria_storage/token", headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["policies"] and got["ttl_s"] > 0
    bao = hvac.Client(got["url"], token=got["token"])
    own = bao.secrets.kv.v2.read_secret_version("services/aria_storage/zt", mount_point="secret",
                                                 raise_on_deleted_version=True)
    assert own["data"]["data"] == {"k": "s"}
    with pytest.raises(hvac.exceptions.Forbidden):  # OpenBao's policy refuses another service's path
        bao.secrets.kv.v2.read_secret_version("services/aria_auth/zt", mount_point="secret",
                                              raise_on_deleted_version=True)
    operator = await bearer(security, ["operator"], sub="zt-operator")
    assert (await http.post("/v1/security/services/aria_storage/token", headers=operator)).status_code == 403
    assert (await http.post("/v1/security/services/aria_nope/token", headers=admin)).status_code == 403
    assert (await http.post("/v1/security/services/..%2Fx/token", headers=admin)).status_code in (404, 422)


async def test_services_write_their_refusals_into_the_audit_log_as_themselves(http, security) -> None:
    n = await security.record_events(Principal.internal("aria_auth"), [
        {"op": "oidc-invalid-redirect-uri", "target": "client 7", "outcome": "denied", "subject": "alice"}])
    assert n == 1
    last = json.loads(security._audit.path.read_text().splitlines()[-1])
    assert (last["actor"], last["op"], last["subject"], last["outcome"]) == (
        "svc:aria_auth", "oidc-invalid-redirect-uri", "alice", "denied")
    # the actor is the caller, whatever an event says; a malformed batch writes nothing
    before = security._audit.records
    for bad in ([{"op": "Bad Op"}], [{"op": "x", "outcome": "granted"}], [{"op": "x", "actor": "root"}], [],
                [{"op": "x"}, {"op": "lockout", "outcome": "alert", "subject": "bob"}]):
        with pytest.raises(Exception) as refused:
            await security.record_events(Principal.internal("aria_auth"), bad)
        assert getattr(refused.value, "status", None) == 400
    assert security._audit.records == before
    # a service token and a viewer may not write; an administrator may, as itself
    for roles in (["service"], ["viewer"]):
        r = await http.post("/v1/security/audit", headers=await bearer(security, roles, sub="w"),
                            json={"events": [{"op": "x"}]})
        assert r.status_code == 403, r.text
    r = await http.post("/v1/security/audit", headers=await bearer(security, ["admin"], sub="ann"),
                        json={"events": [{"op": "drill", "target": "t"}]})
    assert r.status_code == 200 and r.json() == {"written": 1}
    assert json.loads(security._audit.path.read_text().splitlines()[-1])["actor"] == "ann"
    # ... never as one of aria_security's own records (a fake intrusion alert, a fake decision)
    alerts = len(await security.audit(Principal.operator(), 1000, op="lockout"))
    for op in ("lockout", "authorize", "kv_get"):
        r = await http.post("/v1/security/audit", headers=await bearer(security, ["admin"], sub="ann"),
                            json={"events": [{"op": op, "outcome": "alert", "subject": "victim"}]})
        assert r.status_code == 400, r.text
    assert len(await security.audit(Principal.operator(), 1000, op="lockout")) == alerts
