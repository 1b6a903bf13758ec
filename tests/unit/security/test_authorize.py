"""``authorize(caller, principal, action, resource)``: malformed bodies are 400/422 at every door,
and the audit record names the caller as its actor, never the subject the body names."""

from __future__ import annotations

import json

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.security.api import router
from aria_actors.security.audit import AuditLog, Lockout
from aria_actors.security.client import SecurityClient
from aria_actors.security.rbac import Authorizer
from aria_actors.security.service import SecurityService
from aria_actors.security.testing import InProcessSecurity

VIC = Principal("vic", ("viewer",), tenant="t1")
AUTH = Principal.internal("aria_auth")


@pytest.fixture
def service(tmp_path):
    """The real service's ``authorize`` over its real audit log, RBAC and lockout (no OpenBao)."""
    svc = SecurityService(AriaSettings(home=tmp_path))
    svc._secrets = object()  # "started": authorize needs no OpenBao
    svc._audit = AuditLog(tmp_path / "security" / "audit.log")
    svc._authz = Authorizer()
    svc._lockout = Lockout(threshold=3, window_s=60, lockout_s=60)
    yield svc
    svc._audit.close()


def _records(svc) -> list[dict]:
    return [json.loads(x) for x in svc._audit.path.read_text().splitlines()]


BAD_PRINCIPALS = [
    {"sub": "a", "roles": 5}, {"sub": "a", "roles": [[1]]}, {"sub": "a", "roles": {"a": 1}},
    {"sub": 5, "roles": ["admin"]}, {"sub": "a", "roles": ["user"], "tenant": ["t1"]}, "alice", None,
]


@pytest.mark.parametrize("principal", BAD_PRINCIPALS)
async def test_rpc_refuses_a_malformed_principal_with_400(service, principal) -> None:
    client = bind(SecurityClient, LocalClient(service))
    with pytest.raises(BadRequest) as refused:
        await client.authorize(VIC, principal, "storage:asset:read", {"tenant": "t1"})
    assert refused.value.status == 400
    last = _records(service)[-1]
    assert (last["actor"], last["op"], last["outcome"]) == ("vic", "authorize", "error:bad-request")


@pytest.mark.parametrize("resource", [{"owner": 5}, {"tenant": ["t1"]}, ["x"], "asset"])
async def test_rpc_refuses_a_malformed_resource_with_400(service, resource) -> None:
    with pytest.raises(BadRequest):
        await bind(SecurityClient, LocalClient(service)).authorize(
            VIC, {"sub": "alice", "roles": ["user"]}, "storage:asset:read", resource)


@pytest.mark.parametrize("principal", BAD_PRINCIPALS)
async def test_in_process_security_refuses_the_same(principal) -> None:
    fake = InProcessSecurity.started()
    with pytest.raises(BadRequest):
        await bind(SecurityClient, LocalClient(fake)).authorize(VIC, principal, "storage:asset:read", {})


async def test_the_audit_actor_is_the_caller_not_the_subject_asked_about(service) -> None:
    client = bind(SecurityClient, LocalClient(service))
    forged = {"sub": "root-admin", "roles": ["admin"]}
    assert await client.authorize(VIC, forged, "security:secret:read", {"type": "secret"})
    assert not await client.authorize(VIC, {"sub": "bob", "roles": ["user"], "tenant": "t1"},
                                      "security:secret:read", {})
    first, second = _records(service)[-2:]
    assert first == {**first, "actor": "vic", "op": "authorize", "subject": "root-admin",
                     "target": "security:secret:read secret", "outcome": "ok"}
    assert (second["actor"], second["subject"], second["outcome"]) == ("vic", "bob", "denied")
    assert not any(r["actor"] in ("root-admin", "bob") for r in _records(service))


async def test_lockout_records_name_the_deciding_service_as_actor(service) -> None:
    client = bind(SecurityClient, LocalClient(service))
    mallory = {"sub": "mallory", "roles": ["viewer"], "tenant": "t1"}
    for _ in range(3):
        assert not await client.authorize(AUTH, mallory, "security:secret:read", {})
    assert not await client.authorize(AUTH, mallory, "storage:asset:read", {})  # locked out
    records = _records(service)
    alert = next(r for r in records if r["op"] == "lockout")
    assert (alert["actor"], alert["subject"], alert["outcome"]) == ("svc:aria_auth", "mallory", "alert")
    assert (records[-1]["actor"], records[-1]["subject"], records[-1]["outcome"]) == (
        "svc:aria_auth", "mallory", "locked_out")
    assert all(r["actor"] == "svc:aria_auth" for r in records)


# -- the route validates before the service runs ----------------------------------------------
def _http(caller: Principal = VIC):
    from fastapi.testclient import TestClient

    fake = InProcessSecurity.started()
    return TestClient(api_app(router, clients={"aria_security": LocalClient(fake)}, caller=caller))


@pytest.mark.parametrize("principal", [
    {"sub": "a", "roles": 5}, {"sub": "a", "roles": [[1]]}, {"sub": "a", "roles": {"a": 1}},
    {"sub": "a", "roles": [1]}, {"sub": 5, "roles": ["user"]}, {"sub": ["a"]}, {"sub": ""},
    {"roles": ["user"]}, {"sub": "a", "tenant": 5}, {"sub": "a", "tenant": ["t1"]},
    {"sub": "a", "roles": [f"r{i}" for i in range(65)]}, {"sub": "a", "roles": ["r" * 300]},
    {"sub": "a" * 300}, {"sub": "a", **{f"c{i}": 1 for i in range(40)}}, "alice", [1], None,
])
def test_route_refuses_a_malformed_principal_with_422(principal) -> None:
    r = _http().post("/v1/security/authorize", json={"principal": principal, "action": "storage:asset:read"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("resource", [{"owner": 5}, {"tenant": ["t1"]}, {"type": {}}, {"bogus": 1},
                                      ["x"], "asset"])
def test_route_refuses_a_malformed_resource_with_422(resource) -> None:
    body = {"principal": {"sub": "a", "roles": ["user"]}, "action": "storage:asset:read", "resource": resource}
    assert _http().post("/v1/security/authorize", json=body).status_code == 422


def test_route_decides_on_well_formed_bodies_and_ignores_other_claims() -> None:
    http = _http()
    claims = {"sub": "alice", "roles": ["user"], "tenant": "t1", "iss": "aria", "exp": 1, "sid": "s"}
    own = {"type": "asset", "owner": "alice", "tenant": "t1"}
    r = http.post("/v1/security/authorize", json={"principal": claims, "action": "storage:asset:write",
                                                  "resource": own})
    assert r.status_code == 200 and r.json() == {"allowed": True}
    r = http.post("/v1/security/authorize", json={"principal": claims, "action": "storage:asset:write",
                                                  "resource": {**own, "owner": "bob"}})
    assert r.json() == {"allowed": False}
    r = http.post("/v1/security/authorize", json={"principal": {"sub": "x"}, "action": "storage:asset:read"})
    assert r.json() == {"allowed": False}


@pytest.mark.parametrize("raised,expected", [("VaultDown", 503), ("Forbidden", 403), ("InvalidRequest", 400)])
async def test_every_operation_turns_openbao_failures_into_typed_errors(service, raised, expected) -> None:
    """``_run`` maps what OpenBao raises for every operation (the CA, the CRL and seal called
    OpenBao without their own wrapper: a sealed server made them a 500)."""
    import hvac.exceptions as hx

    from aria_actors.runtime.errors import AriaError

    class SealedPki:
        def __getattr__(self, name):
            raise getattr(hx, raised)("sealed")

    service._client = SealedPki()
    for call in (service.ca_certificate, service.crl, service.seal):
        with pytest.raises(AriaError) as err:
            await call(Principal.operator())
        assert err.value.status == expected
    assert _records(service)[-1]["outcome"] != "ok"
