"""API documentation for the UI: the gateway's OpenAPI split per service, and who may call what.

::

    gateway app (every service's router, as aria_coordinate mounts them) ── .openapi()
        └─ split by path: /v1/<svc>/... -> aria_<svc>; the rest (/health, /v1/services, ...) -> aria_coordinate
           each part a complete OpenAPI document (its paths, the component schemas they reference)
    aria_actors.coordinate.permissions.matrix() ── the role table, as JSON rows

Guarantees and caveats
----------------------
- Built from the code, never written by hand: the same app and table as ``/openapi.json`` and
  ``docs/permissions.md``. Built once per process (about a second) and kept: the surface only
  changes with a deployment.
- The WebSocket channel is not an OpenAPI operation; its protocol is described by
  ``GET /v1/interface/topics`` (and listed here under ``websocket``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from aria_actors.interface.errors import UnknownService
from aria_actors.interface.protocol import PATH as WS_PATH
from aria_actors.runtime.registry import SERVICE_MODULES

SYSTEM = "aria_coordinate"
_REF = re.compile(r"#/components/([A-Za-z]+)/([^/\"]+)$")


def service_of_path(path: str) -> str:
    """The service whose router serves ``path`` (the gateway's own routes: aria_coordinate)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "v1" and parts[2] in SERVICE_MODULES:
        return f"aria_{parts[2]}"
    return SYSTEM


def _refs(node: Any, out: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (m := _REF.match(ref)):
            out.add((m.group(1), m.group(2)))
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def split_openapi(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One complete OpenAPI document per service: its paths and every component they reference."""
    components = doc.get("components", {})
    paths: dict[str, dict[str, Any]] = {}
    for path, item in doc.get("paths", {}).items():
        paths.setdefault(service_of_path(path), {})[path] = item
    out = {}
    for service, own in sorted(paths.items()):
        wanted: set[tuple[str, str]] = set()
        _refs(own, wanted)
        done: set[tuple[str, str]] = set()
        while wanted - done:  # schemas reference schemas: close over them
            section, name = (wanted - done).pop()
            done.add((section, name))
            _refs(components.get(section, {}).get(name), wanted)
        used: dict[str, dict[str, Any]] = {}
        for section, name in sorted(done):
            if name in components.get(section, {}):
                used.setdefault(section, {})[name] = components[section][name]
        info = {**doc.get("info", {}), "title": f"{doc.get('info', {}).get('title', 'Aria')}: {service}"}
        out[service] = copy.deepcopy({"openapi": doc.get("openapi", "3.1.0"), "info": info, "paths": own,
                                      **({"components": used} if used else {})})
    return out


def permission_rows(app: Any = None) -> dict[str, Any]:
    """The generated role table (``docs/permissions.md``) as JSON; ``app``: the gateway app to read."""
    # heavy and circular at import time: the table builds the gateway app, which mounts this package's router
    from aria_actors.coordinate.permissions import ROLES, matrix, route_doors, rpc_doors

    doors = tuple(route_doors(app) + rpc_doors()) if app is not None else None
    rows = []
    for door, allowed in matrix(doors):
        spec = door.spec
        rows.append({"door": door.name, "kind": door.kind, "fronts": door.via or None,
                     "permission": spec.describe() if spec else "system",
                     "features": list(spec.features) if spec else [], "job": bool(spec and spec.job),
                     "roles": allowed})
    return {"roles": list(ROLES), "doors": rows}


@dataclass
class DocsIndex:
    """The built documentation: per-service OpenAPI documents and the permission table."""

    documents: dict[str, dict[str, Any]]
    permissions: dict[str, Any]
    version: str = ""
    services: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.services = [{
            "service": name, "paths": len(doc["paths"]),
            "operations": sum(1 for item in doc["paths"].values() for verb in item if verb != "parameters"),
            "tags": sorted({t for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)
                            for t in op.get("tags", ())}),
            "openapi": f"/v1/interface/docs/{name}",
        } for name, doc in self.documents.items()]

    def index(self) -> dict[str, Any]:
        return {"version": self.version, "openapi": "/openapi.json", "browse": "/docs",
                "services": self.services,
                "websocket": {"url": WS_PATH, "protocol": "/v1/interface/topics"},
                "permissions": self.permissions}

    def openapi(self, service: str) -> dict[str, Any]:
        name = service if service.startswith("aria_") else f"aria_{service}"
        doc = self.documents.get(name)
        if doc is None:
            raise UnknownService(f"no service {service[:80]!r} with HTTP routes: one of "
                                 + ", ".join(self.documents), service=service[:80])
        return doc


def build() -> DocsIndex:
    """Build the documentation from the gateway app over no services (the same routes it mounts)."""
    # heavy and circular at import time: as in permission_rows
    from aria_actors.coordinate.permissions import gateway_app

    app = gateway_app()
    doc = app.openapi()
    return DocsIndex(split_openapi(doc), permission_rows(app), version=str(doc.get("info", {}).get("version", "")))
