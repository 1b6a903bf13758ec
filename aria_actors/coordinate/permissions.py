"""Who may do what: the table generated from the declared surface (routes and RPC methods).

Nothing here is written by hand: each route names the RPC method it fronts (``permits(...)``),
each method declares its permission (``@rpc``), and the role table is aria_security's. ``aria
services --permissions`` prints it; ``docs/permissions.md`` is this module's Markdown, checked
against the code by a unit test.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aria_actors.coordinate.gateway import MOUNTED_FEATURES, create_app, features_of, flat_routes, route_permits
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import SERVICE_MODULES, client_class
from aria_actors.runtime.rpc import Gate, RpcSpec, surface

ROLES = ("admin", "operator", "editor", "viewer", "user", "service", "anonymous")


@dataclass(frozen=True, slots=True)
class Door:
    """One way in: a gateway route or a service's RPC method, and the declaration it answers to."""

    kind: str      # "route" | "rpc"
    name: str      # "GET /v1/storage/assets/{name}" or "aria_storage.put"
    spec: RpcSpec | None  # None: a system route (discovery, health, metrics, docs)
    via: str = ""  # for a route: the RPC method it fronts


def principal_of(role: str, tenant: str = "t1") -> Principal:
    if role == "anonymous":
        return Principal.anonymous()
    return Principal(f"probe-{role}", (role,), tenant=tenant, kind="service" if role == "service" else "user")


def decide(gate: Gate, spec: RpcSpec | None, role: str) -> bool:
    """Whether ``role`` passes the declaration's check (a system route: public reads only)."""
    if spec is None:
        return True
    try:
        gate.check(spec, principal_of(role))
    except AriaError:
        return False
    return True


def gateway_app() -> Any:
    """The gateway's FastAPI app over no services: enough to read its routes and OpenAPI."""
    class _NoDirectory:
        async def status(self) -> dict[str, Any]:
            return {"phase": "none", "services": [], "counts": {}}

        async def service(self, name: str) -> dict[str, Any]:
            return {}

        def client(self, name: str) -> None:
            return None

    return create_app(_NoDirectory())


def route_doors(app: Any) -> list[Door]:
    doors = []
    for route in flat_routes(app):
        methods = sorted(getattr(route, "methods", None) or ())
        if not methods or not route.path.startswith("/v1/") or route.path.startswith("/v1/services"):
            continue
        permits = route_permits(route)
        if not permits and features_of(route):
            continue  # a system route of the gateway's own (/v1/gateway/...): no RPC method behind it
        for method in methods:
            if method == "HEAD":
                continue
            if len(permits) != 1:
                doors.append(Door("route", f"{method} {route.path}", None, via="UNDECLARED"))
                continue
            p = permits[0]
            doors.append(Door("route", f"{method} {route.path}", p.spec,
                              via=f"{p.proto.__aria_service__}.{p.method}"))
    return doors


@dataclass(frozen=True, slots=True)
class Served:
    """What one gateway route serves: ``service``'s seed ``features`` (see :func:`served`)."""

    verb: str      # "GET"
    path: str      # the route's template, "/v1/storage/assets/{name:path}"
    service: str   # "aria_storage"
    features: tuple[str, ...]
    via: str = ""  # the RPC method fronted, "aria_storage.upload_commit"; "" for a system route


def served(app: Any = None) -> list[Served]:
    """The seed features each gateway route serves, read from the declared surface: a route
    fronting an RPC method serves the features that method declares (``@rpc(feature=...)``) for
    its service, and aria_coordinate's MOUNTED_FEATURES (the gateway routes it through a breaker);
    a system route serves the aria_coordinate features its ``openapi_extra`` declares."""
    out = []
    for route in flat_routes(app or gateway_app()):
        verbs = sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"})
        permits = route_permits(route)
        for verb in verbs:
            if len(permits) == 1:
                p = permits[0]
                via = f"{p.proto.__aria_service__}.{p.method}"
                out.append(Served(verb, route.path, p.proto.__aria_service__, p.spec.features, via))
                out.append(Served(verb, route.path, "aria_coordinate", MOUNTED_FEATURES, via))
            elif features_of(route):
                out.append(Served(verb, route.path, "aria_coordinate", features_of(route)))
    return out


def rpc_doors() -> list[Door]:
    doors = []
    for module in SERVICE_MODULES:
        proto = client_class(f"aria_{module}")
        for name, spec in sorted(surface(proto).items()) if proto else ():
            doors.append(Door("rpc", f"aria_{module}.{name}", spec))
    return doors


@functools.cache
def all_doors() -> tuple[Door, ...]:
    return tuple(route_doors(gateway_app()) + rpc_doors())


def matrix(doors: tuple[Door, ...] | None = None, gate: Gate | None = None) -> list[tuple[Door, dict[str, bool]]]:
    gate = gate or Gate()
    return [(d, {role: decide(gate, d.spec, role) for role in ROLES}) for d in (doors or all_doors())]


def markdown() -> str:
    lines = [
        "# Who may do what",
        "",
        "Generated from the declared surface by `aria_actors.coordinate.permissions` (`aria services",
        "--permissions` prints the same); a unit test fails when this page and the code differ.",
        "A route's permission is that of the RPC method it fronts; the service checks it again inside,",
        "as the caller, so every door (HTTP, another service, a queue job) meets the same check.",
        "`@own`: a role holding the permission only for its own records passes this check and the",
        "method then checks the record; `@any`: only a permission held across tenants grants it.",
        "`job`: a queue job (`service:<svc>.<method>`) may call it, as its enqueuer.",
        "",
        "`features`: the seed features of its service the method serves (`@rpc(feature=...)`).",
        "",
        "| door | fronts | features | permission | job | " + " | ".join(ROLES) + " |",
        "|---|---|---|---|---|" + "---|" * len(ROLES),
    ]
    for door, allowed in matrix():
        spec = door.spec
        perm = spec.describe() if spec else "system"
        job = "yes" if spec and spec.job else ""
        cells = " | ".join("✓" if allowed[r] else "·" for r in ROLES)
        features = ", ".join(spec.features) if spec else ""
        lines.append(f"| `{door.name}` | {door.via or ''} | {features} | `{perm}` | {job} | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
