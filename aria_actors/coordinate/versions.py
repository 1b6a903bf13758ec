"""API versions: which the gateway serves, how a router is mounted under a new one, and the
deprecation headers of a version being retired.

::

    /v1/storage/assets/{name}   (mounted today)        mount_version(app, storage_router, "v2")
    /v2/storage/assets/{name}   (a copy, same handler)  ARIA_COORDINATE_DEPRECATED_VERSIONS='{"v1": "2027-01-31"}'

    GET /v1/storage/assets/a  ->  Deprecation: true
                                  Sunset: Sun, 31 Jan 2027 00:00:00 GMT
                                  Link: </v2/storage/assets/a>; rel="successor-version"
    GET /versions             ->  v1 deprecated (sunset 2027-01-31, successor v2), v2 current

Guarantees and caveats
----------------------
- The versions served are read from the app's routes (the first path segment ``v<N>``), so a
  version exists exactly when a route answers under it; ``/health``, ``/metrics``, ``/versions``
  and the docs are outside every version.
- A deprecated version's every answer (errors included) carries ``Deprecation`` and ``Sunset``;
  ``Link`` to the successor (the next higher version served) only when the successor has the
  same route, so the link never points at a 404.
- ``mount_version`` copies the router's routes (same handlers, dependencies, permissions and
  OpenAPI data) under the new version; after that the two evolve separately: change the copy's
  handlers by mounting a router of its own instead.
- ``Deprecation: true`` is the form the brief and most clients use (draft-ietf-httpapi-deprecation
  before RFC 9745's ``@<epoch>``); the sunset date is midnight UTC of the configured day.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from datetime import time as dtime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from aria_actors.coordinate.config import VERSION
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.http import ServiceRouter

_LEADING = re.compile(r"^/(v[1-9][0-9]*)(?=/|$)")
# What add_api_route takes that a route keeps under the same name (the rest it cannot copy).
_COPIED = tuple(n for n in inspect.signature(APIRouter.add_api_route).parameters
                if n not in ("self", "path", "endpoint", "route_class_override"))


class BadVersion(BadRequest):
    """Not an API version segment: use v1, v2, ..."""

    type = "bad-api-version"


def version_of(path: str) -> str | None:
    """``/v1/storage/x`` -> ``v1``; a path outside every version -> None."""
    m = _LEADING.match(path)
    return m.group(1) if m else None


def retarget(path: str, version: str) -> str:
    """``path`` under ``version``: its leading version segment replaced (or ``/<version>`` prepended)."""
    m = _LEADING.match(path)
    return f"/{version}{path[m.end():]}" if m else f"/{version}{path}"


def _order(version: str) -> int:
    return int(version[1:])


def templates_by_version(routes: Iterable[Any]) -> dict[str, frozenset[str]]:
    """version -> the route templates served under it."""
    out: dict[str, set[str]] = {}
    for route in routes:
        path = getattr(route, "path", "")
        version = version_of(path)
        if version is not None:
            out.setdefault(version, set()).add(path)
    return {v: frozenset(out[v]) for v in sorted(out, key=_order)}


def http_date(day: date) -> str:
    return format_datetime(datetime.combine(day, dtime(), tzinfo=UTC), usegmt=True)


class VersionTable:
    """The versions served and the deprecated ones' headers (refreshed when routes change)."""

    def __init__(self, deprecated: Mapping[str, date] | None = None) -> None:
        self.deprecated = dict(deprecated or {})
        self._sunset = {v: http_date(d).encode("latin-1") for v, d in self.deprecated.items()}
        self.templates: dict[str, frozenset[str]] = {}

    def refresh(self, routes: Iterable[Any]) -> None:
        self.templates = templates_by_version(routes)

    def successor(self, version: str) -> str | None:
        later = [v for v in self.templates if _order(v) > _order(version)]
        return min(later, key=_order) if later else None

    def headers(self, scope: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
        """Headers a response to ``scope`` carries: none unless its version is deprecated."""
        version = version_of(scope["path"])
        if version is None or version not in self.deprecated:
            return []
        out = [(b"deprecation", b"true"), (b"sunset", self._sunset[version])]
        successor = self.successor(version)
        template = getattr(scope.get("route"), "path", None)
        if successor and template and retarget(template, successor) in self.templates[successor]:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            target = retarget(raw.decode("latin-1"), successor)  # raw_path: still percent-encoded
            out.append((b"link", f'<{target}>; rel="successor-version"'.encode("latin-1")))
        return out

    def listing(self) -> dict[str, Any]:
        """What ``GET /versions`` answers."""
        versions = []
        for version, templates in self.templates.items():
            day = self.deprecated.get(version)
            versions.append({"version": version, "status": "deprecated" if day else "current",
                             "sunset": day.isoformat() if day else None,
                             "successor": self.successor(version) if day else None,
                             "routes": len(templates)})
        current = [v["version"] for v in versions if v["status"] == "current"]
        return {"versions": versions, "latest": current[-1] if current else None,
                "deprecated_unserved": sorted(set(self.deprecated) - set(self.templates), key=_order)}


def copy_router(router: APIRouter, version: str) -> APIRouter:
    """A router with ``router``'s routes under ``version`` (same handlers and declarations)."""
    if not VERSION.match(version):
        raise BadVersion(f"{version!r} is not an API version: use v1, v2, ...", version=version)
    prefix = retarget(router.prefix, version) if router.prefix else ""
    out = ServiceRouter(prefix=prefix)
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise BadVersion(f"only API routes can be mounted under another version, not {type(route).__name__} "
                             f"{getattr(route, 'path', '')!r}", version=version)
        sub = route.path[len(router.prefix):] if router.prefix else retarget(route.path, version)
        out.add_api_route(sub, route.endpoint, route_class_override=type(route),
                          **{name: getattr(route, name) for name in _COPIED if hasattr(route, name)})
    return out


def mount_version(app: FastAPI, router: APIRouter, version: str) -> APIRouter:
    """Serve ``router``'s routes under ``version`` too, next to the version they have today.

    The gateway app (``create_app``) re-reads its routes afterwards (``app.state.routes_changed``):
    the versions listed, the successor links, and the routes fronting a public method (no token).
    """
    copy = copy_router(router, version)
    app.include_router(copy)
    changed = getattr(app.state, "routes_changed", None)
    if changed is not None:
        changed()
    return copy
