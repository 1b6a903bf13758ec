"""The web UI's routes: the page at ``GET /`` and its assets at ``GET /ui/<file>``, nothing else.

::

    GET /            static/index.html  (the single-page app's shell; views are #/characters, ...)
    GET /ui/<file>   static/<file>      (app.js, app.css, ...: one flat folder, listed once)

The router is a plain ``APIRouter`` without a prefix (the page belongs at the site's root), so it is
included in the gateway app itself, not in aria_interface's ``/v1/interface`` router (whose prefix
test would never match ``/``). Both paths are public on the gateway: they hold no data.

Guarantees and caveats
----------------------
- Only the files of ``static/`` present at the first request are served, looked up by exact name
  in that listing: no path from a request ever reaches the file system, so ``..``, encoded
  slashes, absolute paths and hidden files are a 404 (``interface-ui-not-found``).
- Every response carries a strict Content-Security-Policy (scripts, styles and fonts from this
  origin only; no inline script or style, no ``eval``; ``connect-src`` this origin and its
  ``ws:``/``wss:`` twin for the channel; images from this origin and ``blob:`` for portraits),
  ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``
  and ``Referrer-Policy: no-referrer``.
- The ``ws:``/``wss:`` source names the request's ``Host`` only when it is a plain host[:port];
  anything else leaves ``connect-src 'self'`` (enough for browsers that follow CSP 3).
- Assets carry an ``ETag`` (a hash of their bytes) and ``Cache-Control: no-cache``: a browser
  revalidates (304) instead of running yesterday's JavaScript after an upgrade.
- Files are read once per process; a changed file needs a restart of the gateway.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

from aria_actors.interface.ui import STATIC
from aria_actors.runtime.errors import NotFound

router = APIRouter(tags=["ui"], include_in_schema=False)
PAGE = "index.html"
ASSET_PREFIX = "/ui/"
# What a browser may be sent, by suffix; anything else in static/ (a README, a licence) is
# served as text so that it is never interpreted.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+")
HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*"
                  r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


class AssetNotFound(NotFound):
    """No such file of the web UI; the page is ``/`` and its assets are what it links to."""

    type = "interface-ui-not-found"
    title = "No such UI file"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def assets(folder: Path = STATIC) -> dict[str, Asset]:
    """Every plain file of ``folder`` (not hidden, not in a subfolder) by name, read once."""
    out = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink() or not NAME.fullmatch(path.name):
            continue
        body = path.read_bytes()
        out[path.name] = Asset(body, TYPES.get(path.suffix.lower(), "text/plain; charset=utf-8"),
                               '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return out


def content_security_policy(host: str | None) -> str:
    """The page's policy; ``host``: the request's Host header, named in ``connect-src`` when plain."""
    connect = "'self'"
    if host and HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "font-src 'self'",
        f"connect-src {connect}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def security_headers(request: Request) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(request.headers.get("host")),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "geolocation=(), payment=(), usb=()",
    }


def serve(request: Request, name: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise AssetNotFound(f"no UI file {name[:80]!r}; open / for the web UI", name=name[:80])
    headers = {**security_headers(request), "ETag": asset.etag, "Cache-Control": "no-cache"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    headers["Content-Length"] = str(len(asset.body))
    return Response(body, media_type=asset.media_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"], summary="The web UI")
async def page(request: Request) -> Response:
    return serve(request, PAGE)


@router.api_route(ASSET_PREFIX + "{name:path}", methods=["GET", "HEAD"], summary="A file of the web UI")
async def asset(request: Request, name: str) -> Response:
    return serve(request, name)
