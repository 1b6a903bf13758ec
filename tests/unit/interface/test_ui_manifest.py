"""The web UI's manifest (``GET /v1/interface/ui``) against the truth, both ways: every REST route it
names is a real gateway route that fronts a declared RPC method (or a gateway system route that
declares its features), every topic is one the channel serves, and every ``/v1/...`` path the
page's JavaScript calls is in the manifest (the UI uses the public API, no back door). Then the
manifest and the caller's rate-limit budget (``GET /v1/interface/limits``) inside the real
gateway app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from aria_actors.coordinate.gateway import flat_routes
from aria_actors.coordinate.permissions import gateway_app, served
from aria_actors.interface.client import InterfaceClient
from aria_actors.interface.presence import describe as presence_describe
from aria_actors.interface.spec import SPEC
from aria_actors.interface.topics import catalogue
from aria_actors.interface.ui import STATIC
from aria_actors.interface.ui.manifest import FEATURES, VIEWS, manifest, routes
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import client_class
from aria_actors.runtime.rpc import surface
from tests.unit.interface.apps import Gateway

FASTAPI_OWN = {"GET /openapi.json"}  # FastAPI's document of the whole API (public, no RPC behind it)
# a path literal in the page's JavaScript: "/v1/...", '/v1/...' or `/v1/...${x}...`
JS_PATH = re.compile(r"""["'`](/v1/[^"'`\s]*)["'`]""")


def gateway_routes() -> dict[str, list[str]]:
    """``"METHOD /template"`` -> what it fronts (``aria_x.method``, or ``""`` for a system route)."""
    out: dict[str, list[str]] = {}
    for s in served():
        out.setdefault(f"{s.verb} {s.path}", []).append(s.via)
    for route in flat_routes(gateway_app()):
        for verb in set(getattr(route, "methods", None) or ()) - {"HEAD"}:
            out.setdefault(f"{verb} {route.path}", [])
    return out


def test_every_route_of_the_manifest_is_a_gateway_route_fronting_a_declared_method() -> None:
    known = gateway_routes()
    for route in sorted(routes()):
        assert route in known, f"{route} is not a gateway route"
        if route in FASTAPI_OWN:
            continue
        fronts = known[route]
        assert fronts, f"{route} neither fronts an RPC method nor declares the features it serves"
        for via in filter(None, fronts):  # a service's route: its method is declared on the service's client
            service, method = via.split(".")
            proto = client_class(service)
            assert proto is not None and method in surface(proto), f"{route} fronts an undeclared {via}"


def test_every_topic_of_the_manifest_is_served_by_the_channel() -> None:
    patterns = {t["pattern"] for t in catalogue()} | set(presence_describe()["topics"])
    for view in VIEWS:
        assert set(view["topics"]) <= patterns, view


def js_paths() -> dict[str, set[str]]:
    """Every ``/v1/...`` path literal in the static JavaScript, by file (``${...}`` as one segment)."""
    out: dict[str, set[str]] = {}
    for path in sorted(STATIC.glob("*.js")):
        for literal in JS_PATH.findall(path.read_text()):
            out.setdefault(path.name, set()).add(literal.split("?", 1)[0].split("${query}")[0])
    return out


def _matches(template: str, path: str) -> bool:
    pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                      for part in re.split(r"(\{[^}]+\})", template))
    concrete = re.sub(r"\$\{[^}]*\}", "x", path)
    return re.fullmatch(pattern, concrete) is not None


def test_the_javascript_calls_no_v1_path_missing_from_the_manifest() -> None:
    found = js_paths()
    assert found, "no /v1 path found in the static JavaScript: the scan is broken"
    templates = {r.split(" ", 1)[1] for r in routes()} | {"/v1/interface/ws"}
    stray = {f"{name}: {p}" for name, paths in found.items() for p in paths
             if not any(_matches(t, p) for t in templates)}
    assert not stray, f"the UI calls paths its manifest does not name: {sorted(stray)}"
    # and the scan sees what the page really calls
    flat = {p for paths in found.values() for p in paths}
    assert "/v1/shape/characters" in flat and "/v1/interface/limits" in flat


def test_the_manifest_declares_only_features_of_the_service() -> None:
    assert set(FEATURES) <= set(SPEC.features)
    assert set(surface(InterfaceClient)["ui"].features) == set(FEATURES)
    assert surface(InterfaceClient)["limits"].features == ("rate-limiting",)
    for view in VIEWS:
        assert set(view["features"]) <= set(FEATURES), view


# -- through the gateway app --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(gateway.app) as c:
        yield c


def test_the_manifest_route_answers_an_authenticated_caller_only(client: TestClient, gateway: Gateway) -> None:
    assert client.get("/v1/interface/ui").status_code == 401
    got = client.get("/v1/interface/ui", headers=gateway.bearer("someone"))
    assert got.status_code == 200, got.text
    assert got.json() == manifest()


def test_the_limits_route_tells_the_callers_own_budget_going_down(client: TestClient, gateway: Gateway) -> None:
    me, other = gateway.bearer("budget-user"), gateway.bearer("another-user")
    for _ in range(3):
        assert client.get("/v1/interface/topics", headers=me).status_code == 200
    client.get("/v1/interface/topics", headers=other)
    first = client.get("/v1/interface/limits", headers=me).json()
    assert first["enabled"] and first["limited"] and first["subject"] == "budget-user"
    row = {r["route"]: r for r in first["routes"]}["GET /v1/interface/topics"]
    assert row["limit"] == first["default"]["limit"] == 600 and row["used"] == 3
    assert row["remaining"] == row["limit"] - 3
    assert 0 < row["reset_s"] <= 61  # above 64 a window counts in W/64 buckets: a bucket end may pass W
    client.get("/v1/interface/topics", headers=me)
    again = {r["route"]: r for r in client.get("/v1/interface/limits", headers=me).json()["routes"]}
    assert again["GET /v1/interface/topics"]["remaining"] == row["remaining"] - 1
    assert again["GET /v1/interface/limits"]["used"] == 2  # the budget asks count too
    # the other user's traffic is not shown; an admin is not limited
    assert all(r["used"] <= 4 for r in again.values())
    admin = client.get("/v1/interface/limits", headers=gateway.bearer("root", ("admin",))).json()
    assert admin["limited"] is False and admin["routes"] == []


def test_the_limits_rpc_tells_the_configured_rules(gateway: Gateway) -> None:
    got = asyncio.run(gateway.interface.limits(Principal(subject="u", roles=("editor",))))
    assert got["limited"] and got["default"] == {"limit": 600, "window_s": 60.0}
    assert got["credential_routes"]["POST /v1/auth/login"] == {"limit": 10, "window_s": 60.0}
