"""Built means reachable: every seed feature a service counts as built (``SPEC.capabilities``) is
served by a gateway route that a CLI command calls.

Derived from the declared surface, not from the tuple ``capabilities`` is built from:

- an RPC method names the features it serves (``@rpc(..., feature="sessions")``, copied into the
  typed client), and a route names the method it fronts (``permits(XClient.method)``);
  ``aria_actors.coordinate.permissions.served`` joins the two; aria_coordinate's system routes
  declare theirs (``gateway.serves``);
- a CLI command reaches a route when its source (``aria_actors/<svc>/cli.py`` and the shared
  ``aria_actors/cli/``) calls it: an HTTP verb and a path literal (or f-string) in one call, or a
  method of an SDK section (``client.storage.put(...)``), whose route the SDK declares.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from aria_actors.coordinate.permissions import Served, served
from aria_actors.runtime.registry import SERVICE_MODULES, all_specs, client_class
from aria_actors.runtime.rpc import surface
from aria_actors.runtime.spec import ServiceSpec
from aria_actors.sdk.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aria_actors"
HTTP_VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
ANY = "\x00"  # what a formatted value of a path becomes: it matches one path parameter

# Built features not reachable yet, with why: each entry must still be counted as built and still
# be unreachable (the test fails when one becomes reachable, so the list only shrinks).
KNOWN_UNREACHABLE: dict[str, dict[str, str]] = {}

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


def calls_in(source: str) -> Iterator[tuple[str, str]]:
    """``(verb, path)`` of every gateway call in a module's source (path parameters as ANY)."""
    tree = ast.parse(source)
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
              for t in n.targets if isinstance(t, ast.Name)}
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
        paths = [p for p in (_render(a, consts) for a in node.args) if p and p.startswith("/")]
        verb = verbs[0] if verbs else "GET" if "get" in _func_name(node).lower() else None
        for path in paths if verb else ():
            yield verb, path.split("?", 1)[0]


def _matches(template: str, path: str) -> bool:
    pattern = "".join(
        (".+" if part.endswith(":path}") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", template))
    return re.fullmatch(pattern, path) is not None


def cli_sources(service: str) -> list[Path]:
    """The service's command group and the shared commands; every group goes through the gateway
    (aria_coordinate), so all of them count for it."""
    shared = sorted((PACKAGE / "cli").glob("*.py"))
    if service == "aria_coordinate":
        return sorted(PACKAGE.glob("*/cli.py")) + shared
    own = PACKAGE / service.removeprefix("aria_") / "cli.py"
    return ([own] if own.exists() else []) + shared


@cache
def cli_calls(service: str) -> frozenset[tuple[str, str]]:
    return frozenset(c for path in cli_sources(service) for c in calls_in(path.read_text()))


def cli_reaches(service: str, door: Served) -> bool:
    return any(verb == door.verb and _matches(door.path, path) for verb, path in cli_calls(service))


@cache
def doors() -> tuple[Served, ...]:
    return tuple(served())


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
'''
    found = set(calls_in(source))
    assert ("PATCH", f"/v1/auth/users/{ANY}") in found and ("POST", "/v1/engine/plan") in found
    assert ("GET", "/v1/services") in found and ("PUT", f"/v1/storage/assets/{ANY}") in found
    assert not any(p == "/v1/queue/jobs" for _, p in found)
    assert _matches("/v1/auth/users/{user_id}", f"/v1/auth/users/{ANY}")
    assert not _matches("/v1/auth/users/{user_id}", f"/v1/auth/users/{ANY}/sessions")
    assert _matches("/v1/security/secrets/{path:path}", f"/v1/security/secrets/{ANY}")
