"""The SDK's typed sections: every gateway route reachable, sync and async, same error classes."""

from __future__ import annotations

import inspect
import json
import re
import typing

import httpx
import pytest
from fastapi.testclient import TestClient

from aria_actors.auth.oauth import basic_credentials
from aria_actors.engine.api import router as engine_router
from aria_actors.engine.config import EngineConfig
from aria_actors.engine.errors import UnknownDomainError
from aria_actors.engine.service import EngineService
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.sdk import AriaClient, AsyncAriaClient
from aria_actors.sdk.section import _fill, routes_of
from aria_actors.sdk.sections import SECTIONS

CONFIG = EngineConfig(domains={"workshop": "python:tests.unit.engine.workshop:make_domain"},
                      gtpyhop_examples=False, max_nodes=100_000)
WORKSHOP = {"domain": "workshop", "state": {"name": "s", "vars": {"done": {}, "made": {}}},
            "todo": [["craft", "me", "box"]]}
BOX_PLAN = [["use", "me", "hammer"], ["use", "me", "saw"], ["finish", "me", "box"]]


# -- coverage -----------------------------------------------------------------------------------
def gateway_routes() -> set[tuple[str, str]]:
    """Every (method, path) of the gateway under /v1/, less the gateway's own pages (/v1/services,
    /v1/gateway: AriaClient.services() and the `aria coordinate` commands read them)."""
    from aria_actors.coordinate.gateway import flat_routes  # FastAPI 0.16x nests included routers
    from aria_actors.coordinate.permissions import gateway_app

    out = set()
    for route in flat_routes(gateway_app()):
        path = getattr(route, "path", "")
        if not path.startswith("/v1/") or path.startswith(("/v1/services", "/v1/gateway/")):
            continue
        out |= {(m, path) for m in getattr(route, "methods", None) or () if m != "HEAD"}
    return out


def sdk_routes() -> dict[tuple[str, str], str]:
    return {r: f"{name}.{cls.__name__}" for name, cls in SECTIONS.items() for r in routes_of(cls)}


# Routes a browser follows, not a program: the OpenID provider's login/consent pages and its
# RP-initiated logout, and the relying party's redirects to and back from an outside provider.
BROWSER_ONLY = frozenset({
    ("GET", "/v1/auth/oidc/authorize"), ("POST", "/v1/auth/oidc/authorize"),
    ("POST", "/v1/auth/oidc/authorize/login"), ("POST", "/v1/auth/oidc/authorize/mfa"),
    ("POST", "/v1/auth/oidc/authorize/consent"), ("GET", "/v1/auth/oidc/logout"), ("POST", "/v1/auth/oidc/logout"),
    ("POST", "/v1/auth/oidc/logout/confirm"),
    ("POST", "/v1/auth/oidc/userinfo"),  # the same as GET, for clients that must POST
    ("GET", "/v1/auth/sso/{provider}/login"), ("GET", "/v1/auth/sso/{provider}/callback"),
})


def test_every_gateway_route_is_reachable_from_the_sdk() -> None:
    gateway, sdk = gateway_routes(), sdk_routes()
    assert gateway, "the gateway mounted no service routes"
    assert gateway >= BROWSER_ONLY, sorted(BROWSER_ONLY - gateway)
    gateway -= BROWSER_ONLY
    missing = sorted(gateway - sdk.keys())
    assert not missing, f"routes without an SDK method: {missing}"
    stale = sorted(r for r in sdk.keys() - gateway)
    assert not stale, f"SDK methods for routes the gateway does not have: {stale}"


def test_sections_are_under_their_own_prefix_and_fill_every_path_parameter() -> None:
    for name, cls in SECTIONS.items():
        for attr, fn in inspect.getmembers(cls, inspect.isfunction):
            if not hasattr(fn, "__aria_route__"):
                continue
            _method, path = fn.__aria_route__
            assert path.startswith(f"/v1/{name}/"), (attr, path)
            params = set(inspect.signature(fn.__wrapped__).parameters)
            for placeholder in re.findall(r"{(\w+)(?::path)?}", path):
                assert placeholder in params, f"{cls.__name__}.{attr} cannot fill {{{placeholder}}}"
            assert fn.__doc__ is None or fn.__doc__.strip(), attr


def test_both_clients_have_a_typed_attribute_per_section() -> None:
    for client in (AriaClient, AsyncAriaClient):
        hints = typing.get_type_hints(client)  # the annotations of its bases too
        assert {k: v for k, v in hints.items() if k in SECTIONS} == SECTIONS
    aria = AriaClient(http=httpx.Client(base_url="http://aria"))
    assert all(isinstance(getattr(aria, name), cls) for name, cls in SECTIONS.items())


# -- path quoting and request shapes --------------------------------------------------------------
def test_path_parameters_are_quoted() -> None:
    assert _fill("/v1/engine/domains/{name}", {"name": "a b/c?d"}) == "/v1/engine/domains/a%20b%2Fc%3Fd"
    assert _fill("/v1/security/secrets/{path:path}", {"path": "team/a b/x#1"}) \
        == "/v1/security/secrets/team/a%20b/x%231"
    # dot segments would be removed by httpx (another resource than the one named): quoted too
    assert _fill("/v1/security/secrets/{path:path}", {"path": "a/../b"}) == "/v1/security/secrets/a/%2E%2E/b"
    assert _fill("/v1/auth/users/{user_id}", {"user_id": ".."}) == "/v1/auth/users/%2E%2E"
    assert _fill("/v1/storage/assets/{name:path}/versions/{version}", {"name": "x/y.bin", "version": 3}) \
        == "/v1/storage/assets/x/y.bin/versions/3"
    with pytest.raises(TypeError):
        _fill("/v1/engine/domains/{name}", {})


class Recorder:
    """An httpx transport that records requests and answers ``{}`` (or ``reply``)."""

    def __init__(self, reply: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.reply or httpx.Response(200, json={})


def recording_client(reply: httpx.Response | None = None) -> tuple[AriaClient, Recorder]:
    rec = Recorder(reply)
    return AriaClient(http=httpx.Client(base_url="http://aria", transport=httpx.MockTransport(rec))), rec


def test_requests_have_the_shape_the_routes_read() -> None:
    aria, rec = recording_client()
    aria.storage.put("models/a b.bin", b"\x00\x01", content_type="application/x-bin", tags=["x", "y"],
                     metadata={"k": 1})
    put = rec.requests[-1]
    assert put.method == "PUT" and put.url.raw_path.startswith(b"/v1/storage/assets/models/a%20b.bin?")
    assert put.content == b"\x00\x01" and json.loads(put.headers["x-aria-metadata"]) == {"k": 1}
    assert put.url.params["tags"] == "x,y" and put.url.params["content_type"] == "application/x-bin"

    aria.storage.read_range("a", 10, 20, version=2)
    assert rec.requests[-1].headers["range"] == "bytes=10-19"
    assert rec.requests[-1].url.params["version"] == "2"

    aria.security.get_secret("team/../db")
    assert rec.requests[-1].url.raw_path == b"/v1/security/secrets/team/%2E%2E/db"  # not /secrets/db

    aria.auth.token("client_credentials", client_id="c1", client_secret="s+3%")
    tok = rec.requests[-1]
    assert basic_credentials(tok.headers["authorization"]) == ("c1", "s+3%")  # as aria_auth reads it
    assert tok.headers["content-type"] == "application/x-www-form-urlencoded"
    assert tok.content == b"grant_type=client_credentials"

    aria.queue.list_jobs(state="retryable")  # None filters are left out of the query
    assert dict(rec.requests[-1].url.params) == {"state": "retryable", "after_id": "0", "limit": "100"}

    aria.auth.mfa_disable("u1")  # DELETE with a (required) JSON body
    assert rec.requests[-1].method == "DELETE" and json.loads(rec.requests[-1].content) == {}


def test_raw_routes_return_bytes_and_empty_answers_none() -> None:
    aria, _ = recording_client(httpx.Response(200, content=b"# HELP x\n", headers={"content-type": "text/plain"}))
    assert aria.queue.metrics() == b"# HELP x\n"
    aria, _ = recording_client(httpx.Response(204))
    assert aria.storage.delete_version("a", 1) is None


def test_a_problem_without_a_json_object_body_is_still_an_aria_error() -> None:
    aria, _ = recording_client(httpx.Response(500, json=["not", "a", "problem"]))
    with pytest.raises(AriaError, match="HTTP 500"):
        aria.queue.queues()


# -- behaviour over a real in-process engine ------------------------------------------------------
@pytest.fixture
async def engine(tmp_path):
    svc = EngineService(AriaSettings(home=tmp_path), config=CONFIG)
    await svc.start(Deps())
    yield svc
    await svc.stop()


@pytest.fixture
def app(engine):
    return api_app(engine_router, clients={"aria_engine": LocalClient(engine)})


def test_sync_client_plans_and_raises_the_services_errors(app) -> None:
    aria = AriaClient(http=TestClient(app))
    assert "workshop" in [d["name"] for d in aria.engine.list_domains()]
    assert aria.engine.describe_domain("workshop")
    result = aria.engine.plan(**WORKSHOP)
    assert result["status"] == "found" and result["plan"] == BOX_PLAN
    [many] = aria.engine.plan_many([WORKSHOP])
    assert many["plan"] == BOX_PLAN

    with pytest.raises(UnknownDomainError) as err:
        aria.engine.plan("chess", problem="p1")
    assert err.value.fields["domain"] == "chess" and err.value.http_status == 404
    with pytest.raises(UnknownDomainError) as err:
        aria.engine.describe_domain("no such.domain x")  # quoted in the path, unquoted by the server
    assert err.value.fields["domain"] == "no such.domain x"
    with pytest.raises(AriaError) as bad:
        aria.engine.plan("workshop")  # neither a problem nor a state and todo
    assert bad.value.http_status == 422


def test_health_answers_even_when_failing(app, engine) -> None:
    aria = AriaClient(http=TestClient(app))
    assert aria.engine.health()["status"] == "ready"
    engine.registry.register("aria-health", engine.registry.get("workshop"))  # breaks the probe
    assert aria.engine.health()["status"] == "failed"  # a 503 with the health, not an exception


@pytest.mark.asyncio(loop_scope="session")
async def test_async_client_is_the_same_surface(app) -> None:
    async with AsyncAriaClient(transport=httpx.ASGITransport(app=app)) as aria:
        call = aria.engine.list_domains()
        assert inspect.isawaitable(call)
        assert "workshop" in [d["name"] for d in await call]
        result = await aria.engine.plan(**WORKSHOP)
        assert result["plan"] == BOX_PLAN
        with pytest.raises(UnknownDomainError) as err:
            await aria.engine.describe_domain("..")
        assert err.value.fields["domain"] == ".."  # not /v1/engine/domains
        with pytest.raises(UnknownDomainError):
            await aria.engine.plan("chess", problem="p1")
