"""Built means reachable: every seed feature a service counts as built (``SPEC.capabilities``) is
served by a gateway route that a CLI command calls, and that an integration or end-to-end test
calls through the gateway.

Derived from the declared surface, not from the tuple ``capabilities`` is built from:

- an RPC method names the features it serves (``@rpc(..., feature="sessions")``, copied into the
  typed client), and a route names the method it fronts (``permits(XClient.method)``);
  ``aria_actors.coordinate.permissions.served`` joins the two; aria_coordinate's system routes
  declare theirs (``gateway.serves``);
- a CLI command reaches a route when its source (``aria_actors/<svc>/cli.py``, ``cli_<part>.py`` and the shared
  ``aria_actors/cli/``) calls it: an HTTP verb and a path literal (or f-string) in one call, or a
  method of an SDK section (``client.storage.put(...)``), whose route the SDK declares;
- a test (``tests/integration``, ``tests/e2e``) calls a route through the gateway when it calls it
  the same way (a leading base URL, ``f"{url}/v1/..."``, dropped) and reaches the gateway: it
  takes a fixture that is a running ``aria up`` (yields a ``RunningAria``) or builds the gateway
  app (``create_app``), or depends on one, or builds that app itself. A service's router mounted
  alone (``api_app``, a bare ``FastAPI`` with ``include_router``) does not count: no gateway auth,
  no breaker, no routing. The calls of a test are those of its body and of the module's functions
  it calls; the calls a ``aria ...`` subprocess makes are not seen.
- a WebSocket route (which ``served`` cannot see: it has no HTTP method and no ``permits``
  dependency) counts when its endpoint names the RPC method it stands for
  (``endpoint.__aria_permits__ = Permits(XClient, "method")``, as ``/v1/interface/ws`` does): its
  verb is ``WS``, and a CLI command or test reaches it by a call whose name has ``connect`` in it
  (``websockets.connect(f"{base}/v1/interface/ws")``, ``client.websocket_connect(...)``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from starlette.routing import WebSocketRoute

from aria_actors.coordinate.gateway import flat_routes
from aria_actors.coordinate.permissions import Served, gateway_app, served
from aria_actors.runtime.registry import SERVICE_MODULES, all_specs, client_class
from aria_actors.runtime.rpc import surface
from aria_actors.runtime.spec import ServiceSpec
from aria_actors.sdk.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aria_actors"
HTTP_VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
WS = "WS"  # the verb of a WebSocket route
ANY = "\x00"  # what a formatted value of a path becomes: it matches one path parameter

# Built features not reachable yet, with why: each entry must still be counted as built and still
# be unreachable (the test fails when one becomes reachable, so the list only shrinks).
KNOWN_UNREACHABLE: dict[str, dict[str, str]] = {}
# Built features no integration or e2e test calls through the gateway yet, with why; the same
# rule: each entry must still be built and still untested (the list only shrinks).
KNOWN_UNTESTED: dict[str, dict[str, str]] = {}

SPECS = {s.name: s for s in all_specs()}
BUILT = [s for s in all_specs() if s.capabilities]


# -- what the CLI calls ------------------------------------------------------------------------
def _render(node: ast.AST, consts: dict[str, str]) -> str | None:
    """A path expression as text, each formatted value (or unknown name) as ANY; None: not text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            text = _render(value, consts) if isinstance(value, ast.Constant) else None
            if isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                text = consts.get(value.value.id)
            parts.append(ANY if text is None else text)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _render(node.left, consts)
        return None if left is None else left + (_render(node.right, consts) or ANY)
    return None


def _func_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _sample(template: str) -> str:
    """A route template as a called path: each parameter one ANY."""
    return re.sub(r"\{[^}]+\}", ANY, template)


def _consts(body: list[ast.stmt]) -> dict[str, str]:
    return {t.id: n.value.value for n in body if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets if isinstance(t, ast.Name)}


def calls_in(source: str) -> Iterator[tuple[str, str]]:
    """``(verb, path)`` of every gateway call in a module's source (path parameters as ANY)."""
    tree = ast.parse(source)
    yield from _calls(tree, _consts(tree.body))


def _calls(tree: ast.AST, consts: dict[str, str]) -> Iterator[tuple[str, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and f.value.attr in SECTIONS:
            route = getattr(getattr(SECTIONS[f.value.attr], f.attr, None), "__aria_route__", None)
            if route:  # client.storage.put(...): the SDK section's declared route
                yield route[0], _sample(route[1])
            continue
        verbs = [a.value for a in node.args if isinstance(a, ast.Constant) and a.value in HTTP_VERBS]
        paths = [p for p in (_drop_base(_render(a, consts)) for a in node.args) if p and p.startswith("/")]
        name = _func_name(node)
        verb = verbs[0] if verbs else name.upper() if name.upper() in HTTP_VERBS else (
            "GET" if "get" in name.lower() else WS if "connect" in name.lower() else None)
        for path in paths if verb else ():
            yield verb, path.split("?", 1)[0]


def _drop_base(path: str | None) -> str | None:
    """``f"{url}/v1/x"`` -> ``/v1/x``: a formatted value before the first slash is the base URL."""
    if path and path.startswith(ANY) and path.lstrip(ANY).startswith("/"):
        return path.lstrip(ANY)
    return path


def _matches(template: str, path: str) -> bool:
    pattern = "".join(
        (".+" if part.endswith(":path}") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", template))
    return re.fullmatch(pattern, path) is not None


def cli_sources(service: str) -> list[Path]:
    """The service's command group (``cli.py`` and the groups of its parts, ``cli_<part>.py``) and the
    shared commands; every group goes through the gateway (aria_coordinate), so all count for it."""
    shared = sorted((PACKAGE / "cli").glob("*.py"))
    if service == "aria_coordinate":
        return sorted(PACKAGE.glob("*/cli.py")) + sorted(PACKAGE.glob("*/cli_*.py")) + shared
    package = PACKAGE / service.removeprefix("aria_")
    return sorted(package.glob("cli.py")) + sorted(package.glob("cli_*.py")) + shared


@cache
def cli_calls(service: str) -> frozenset[tuple[str, str]]:
    return frozenset(c for path in cli_sources(service) for c in calls_in(path.read_text()))


def cli_reaches(service: str, door: Served) -> bool:
    return any(verb == door.verb and _matches(door.path, path) for verb, path in cli_calls(service))


def websocket_doors(app: object) -> list[Served]:
    """The gateway's WebSocket routes that name the RPC method they stand for (``__aria_permits__``)."""
    out = []
    for route in flat_routes(app):
        permits = getattr(getattr(route, "endpoint", None), "__aria_permits__", None)
        if isinstance(route, WebSocketRoute) and permits is not None:
            service = permits.proto.__aria_service__
            out.append(Served(WS, route.path, service, permits.spec.features, f"{service}.{permits.method}"))
    return out


@cache
def doors() -> tuple[Served, ...]:
    app = gateway_app()
    return tuple(served(app)) + tuple(websocket_doors(app))


def reachable(spec: ServiceSpec) -> dict[str, list[Served]]:
    """Each feature of ``spec`` a route serves -> those routes (CLI-reached or not)."""
    out: dict[str, list[Served]] = {}
    for door in doors():
        if door.service == spec.name:
            for feature in door.features:
                out.setdefault(feature, []).append(door)
    return out


def gaps(spec: ServiceSpec) -> dict[str, str]:
    """Built features not reachable through a route the CLI calls, with what is missing."""
    routes = reachable(spec)
    out = {}
    for feature in spec.capabilities:
        via = routes.get(feature, [])
        if not via:
            out[feature] = "no route fronts a method declaring it (@rpc(feature=...))"
        elif not any(cli_reaches(spec.name, d) for d in via):
            names = sorted({f"{d.verb} {d.path}" for d in via})
            more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
            out[feature] = "no CLI command calls " + ", ".join(names[:4]) + more
    return out


# -- what the tests call through the gateway -----------------------------------------------------
TESTS = ROOT / "tests"
TEST_DIRS = (TESTS / "integration", TESTS / "e2e")
GATEWAY_APP = "create_app"  # aria_actors.coordinate.gateway.create_app: the gateway, in-process
RUNNING_ARIA = "RunningAria"  # tests/fixtures/aria_up.py: a real `aria up`


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module's functions and its classes' methods (tests may be grouped in classes)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            yield from (n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _is_fixture(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in fn.decorator_list)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = fn.args
    return {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}


def _called_names(fn: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _reached(fn: ast.FunctionDef | ast.AsyncFunctionDef,
             local: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]) -> list[ast.AST]:
    """``fn`` and the module functions it calls, directly or through others."""
    seen, todo = {fn.name: fn}, [fn]
    while todo:
        for name in _called_names(todo.pop()) & set(local) - set(seen):
            seen[name] = local[name]
            todo.append(local[name])
    return list(seen.values())


def _builds_gateway(nodes: list[ast.AST]) -> bool:
    return any(GATEWAY_APP in _called_names(n) for n in nodes)


Functions = dict[str, ast.FunctionDef | ast.AsyncFunctionDef]


def _split(tree: ast.Module) -> tuple[Functions, Functions, set[str]]:
    """A module's fixtures, its other functions, and the fixtures that put the gateway in front
    themselves: yield a running `aria up` or build the gateway app (with the module's helpers)."""
    functions = list(_functions(tree))
    fixtures = {fn.name: fn for fn in functions if _is_fixture(fn)}
    local = {fn.name: fn for fn in functions if not _is_fixture(fn)}
    gateway = {name for name, fn in fixtures.items()
               if RUNNING_ARIA in ast.unparse(fn.returns or ast.Constant(None))
               or _builds_gateway(_reached(fn, local))}
    return fixtures, local, gateway


@cache
def _shared_fixtures() -> tuple[Functions, frozenset[str]]:
    """The fixtures of tests/fixtures and the conftest files, and those that are the gateway."""
    fixtures: Functions = {}
    gateway: set[str] = set()
    for path in sorted((TESTS / "fixtures").glob("*.py")) + sorted(TESTS.rglob("conftest.py")):
        found, _, theirs = _split(ast.parse(path.read_text()))
        fixtures.update(found)
        gateway |= theirs
    return fixtures, frozenset(gateway)


def gateway_calls_in(source: str) -> Iterator[tuple[str, str, str]]:
    """``(test, verb, path)`` of every call a test of the module makes through the gateway."""
    tree = ast.parse(source)
    consts = _consts(tree.body)
    own, local, gateway = _split(tree)
    shared, shared_gateway = _shared_fixtures()
    fixtures = {**shared, **own}  # the module's own fixtures override shared ones of that name
    gateway |= shared_gateway - set(own)
    while grown := {name for name, fn in fixtures.items() if _params(fn) & gateway} - gateway:
        gateway |= grown  # a fixture built on one that is the gateway
    for fn in _functions(tree):
        if not fn.name.startswith("test") or _is_fixture(fn):
            continue
        reached = _reached(fn, local)
        if not (_params(fn) & gateway or _builds_gateway(reached)):
            continue
        for node in reached:
            # a path a test names once, `url = f"{base}/v1/data/health"`, then calls
            here = {**consts, **{t.id: text for n in ast.walk(node) if isinstance(n, ast.Assign)
                                 for t in n.targets if isinstance(t, ast.Name)
                                 if (text := _render(n.value, consts)) is not None}}
            for verb, path in _calls(node, here):
                yield fn.name, verb, path


@cache
def calls_through_gateway() -> dict[tuple[str, str], frozenset[str]]:
    """``(verb, path)`` -> the tests (``file::name``) that call it through the gateway."""
    out: dict[tuple[str, str], set[str]] = {}
    for path in sorted(p for d in TEST_DIRS for p in d.rglob("test_*.py")):
        for test, verb, called in gateway_calls_in(path.read_text()):
            out.setdefault((verb, called), set()).add(f"{path.relative_to(ROOT)}::{test}")
    return {k: frozenset(v) for k, v in out.items()}


def callers_of(door: Served) -> set[str]:
    return {t for (verb, path), tests in calls_through_gateway().items()
            if verb == door.verb and _matches(door.path, path) for t in tests}


def untested(spec: ServiceSpec) -> dict[str, str]:
    """Built features no integration or e2e test exercises through the gateway, with the routes
    a test could call."""
    routes = reachable(spec)
    out = {}
    for feature in spec.capabilities:
        via = routes.get(feature, [])
        if via and not any(callers_of(d) for d in via):
            names = sorted({f"{d.verb} {d.path}" for d in via})
            more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
            out[feature] = "no test calls " + ", ".join(names[:4]) + more + " through the gateway"
    return out


# -- the checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", BUILT, ids=lambda s: s.name)
def test_each_built_feature_is_reachable_through_a_route_and_the_cli(spec: ServiceSpec) -> None:
    known = KNOWN_UNREACHABLE.get(spec.name, {})
    missing = {f: why for f, why in gaps(spec).items() if f not in known}
    assert not missing, (f"{spec.name} counts as built what no route and CLI command reach; add the "
                         f"route and command, or drop the feature from SPEC.capabilities: {missing}")


@pytest.mark.parametrize("name", sorted(KNOWN_UNREACHABLE))
def test_known_unreachable_lists_only_built_unreachable_features(name: str) -> None:
    spec = SPECS[name]
    assert set(KNOWN_UNREACHABLE[name]) <= set(spec.capabilities), "not built: drop it from KNOWN_UNREACHABLE"
    now = set(KNOWN_UNREACHABLE[name]) - set(gaps(spec))
    assert not now, f"reachable now, so remove from KNOWN_UNREACHABLE: {sorted(now)}"


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_declared_features_are_seed_features_counted_as_built(module: str) -> None:
    spec = SPECS[f"aria_{module}"]
    proto = client_class(spec.name)
    declared = {f: name for name, rpc_spec in (surface(proto).items() if proto else ())
                for f in rpc_spec.features}
    unknown = {f: m for f, m in declared.items() if f not in spec.features}
    assert not unknown, f"not a seed feature of {spec.name} (SPEC.features): {unknown}"
    routed = set(reachable(spec)) - set(gaps(spec))
    assert routed <= set(spec.capabilities), (
        f"{spec.name}: reachable through a route and the CLI but not counted as built: "
        f"{sorted(routed - set(spec.capabilities))}")


@pytest.mark.parametrize("spec", BUILT, ids=lambda s: s.name)
def test_each_built_feature_is_exercised_through_the_gateway_by_a_test(spec: ServiceSpec) -> None:
    known = KNOWN_UNTESTED.get(spec.name, {})
    missing = {f: why for f, why in untested(spec).items() if f not in known}
    assert not missing, (f"{spec.name} counts as built what no test in tests/integration or tests/e2e "
                         f"calls through the gateway (a running `aria up`, or the gateway app); add "
                         f"one (tests/e2e/test_features_<service>.py): {missing}")


@pytest.mark.parametrize("name", sorted(KNOWN_UNTESTED))
def test_known_untested_lists_only_built_untested_features(name: str) -> None:
    spec = SPECS[name]
    assert set(KNOWN_UNTESTED[name]) <= set(spec.capabilities), "not built: drop it from KNOWN_UNTESTED"
    now = set(KNOWN_UNTESTED[name]) - set(untested(spec))
    assert not now, f"tested through the gateway now, so remove from KNOWN_UNTESTED: {sorted(now)}"


def test_websocket_routes_that_name_their_method_are_doors() -> None:
    [ws] = [d for d in doors() if d.verb == WS and d.path == "/v1/interface/ws"]
    assert ws.service == "aria_interface" and ws.via == "aria_interface.topics" and "websocket" in ws.features
    assert cli_reaches("aria_interface", ws)


def test_system_routes_declare_coordinate_features() -> None:
    coordinate = SPECS["aria_coordinate"]
    system = [d for d in doors() if not d.via]
    assert {d.path for d in system} >= {"/health", "/v1/services", "/metrics"}
    for door in doors():
        if door.service == "aria_coordinate":
            assert set(door.features) <= set(coordinate.features), door


def test_the_cli_scan_finds_literal_fstring_constant_and_sdk_calls() -> None:
    source = '''
ASSET = "/v1/storage/assets/{name:path}"
def a(token, user, name):
    gateway_call(token, "PATCH", f"/v1/auth/users/{_user_id(user)}", json={})
    _remote("POST", "/v1/engine/plan?x=1", body)
    client.get_json("/v1/services")
    other("/v1/queue/jobs")  # no verb: not a call of a route
    client.storage.put(name, data)
    websockets.connect(f"{base}/v1/interface/ws", additional_headers={})
'''
    found = set(calls_in(source))
    assert (WS, "/v1/interface/ws") in found
    assert ("PATCH", f"/v1/auth/users/{ANY}") in found and ("POST", "/v1/engine/plan") in found
    assert ("GET", "/v1/services") in found and ("PUT", f"/v1/storage/assets/{ANY}") in found
    assert not any(p == "/v1/queue/jobs" for _, p in found)
    assert _matches("/v1/auth/users/{user_id}", f"/v1/auth/users/{ANY}")
    assert not _matches("/v1/auth/users/{user_id}", f"/v1/auth/users/{ANY}/sessions")
    assert _matches("/v1/security/secrets/{path:path}", f"/v1/security/secrets/{ANY}")


def test_the_test_scan_counts_only_calls_through_the_gateway() -> None:
    source = '''
import pytest
from aria_actors.coordinate.gateway import create_app

@pytest.fixture
def gateway_http(auth, security):
    return make_client(create_app(directory(auth, security)))

@pytest.fixture
def signed_in(gateway_http):
    return gateway_http

@pytest.fixture
def router_http(service):
    return make_client(api_app(router, clients={"aria_queue": service}))

def _plan(http, url):
    return http.post(f"{url}/v1/engine/plan", json={})

def test_up(running_aria):
    url = f"{running_aria.url}/v1/data/health"
    httpx.get(url)
    _plan(httpx, running_aria.url)

def test_app(signed_in):
    signed_in.put(f"/v1/storage/assets/{name}", content=b"x")

def test_builds_the_gateway(auth):
    http = make_client(create_app(directory(auth)))
    http.delete("/v1/auth/sessions/s1")

class TestGrouped:
    def test_sdk(self, shared_aria):
        client.queue.enqueue("w", {})

def test_bare_router(router_http):
    router_http.post("/v1/queue/jobs", json={})

def test_no_gateway(service):
    service_http.get("/v1/queue/health")
'''
    found = {(t, v, p) for t, v, p in gateway_calls_in(source)}
    assert found == {
        ("test_up", "GET", "/v1/data/health"), ("test_up", "POST", "/v1/engine/plan"),
        ("test_app", "PUT", f"/v1/storage/assets/{ANY}"),
        ("test_builds_the_gateway", "DELETE", "/v1/auth/sessions/s1"),
        ("test_sdk", "POST", "/v1/queue/jobs")}, found


def test_routers_mounted_alone_do_not_count_as_the_gateway() -> None:
    # These integration tests reach their service's router without the gateway (api_app,
    # TestClient over a bare router): their calls must not be counted.
    for path in ("integration/storage/test_api.py", "integration/queue/test_service.py",
                 "integration/data/test_service.py", "integration/security/test_api.py"):
        assert not list(gateway_calls_in((TESTS / path).read_text())), path
    # aria_auth's tests go through the gateway app (create_app in the auth_http fixture).
    assert list(gateway_calls_in((TESTS / "integration/auth/test_api.py").read_text()))
