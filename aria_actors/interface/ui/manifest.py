"""The web UI's manifest: its page, its views, and for each view the REST routes and live topics it uses.

``GET /v1/interface/ui`` returns it (``InterfaceService.ui``); a unit test holds it to the truth
both ways: every route named here is a gateway route that fronts a declared RPC method (or is a
gateway system route declaring its features), and every ``/v1/...`` path the page's JavaScript
calls is named here. So the manifest is the UI's whole reach into Aria: the public API, as the
logged-in user, no back door.

Guarantees and caveats
----------------------
- Routes are written ``"METHOD /template"`` exactly as the gateway declares them (path parameters
  by their route names); topics as the channel's patterns (``GET /v1/interface/topics``).
- What a view shows still depends on the user's roles: a route the user may not call is shown
  in the view as "not allowed", never worked around.
"""

from __future__ import annotations

from typing import Any

PAGE = "/"
ASSETS = "/ui/{file}"
# The shell (every view): the session, the live channel, the budget line in the header.
SHELL: dict[str, Any] = {
    "rest": ["POST /v1/auth/login", "POST /v1/auth/login/mfa", "POST /v1/auth/refresh", "POST /v1/auth/logout",
             "GET /v1/interface/limits", "GET /v1/interface/ui"],
    "websocket": "/v1/interface/ws",
    "topics": [],
}
VIEWS: list[dict[str, Any]] = [
    {"view": "login", "hash": "#/login", "title": "Log in", "features": ["web-ui"],
     "rest": ["POST /v1/auth/login", "POST /v1/auth/login/mfa"], "topics": []},
    {"view": "characters", "hash": "#/characters", "title": "Characters", "features": ["web-ui", "character-ui"],
     "rest": ["GET /v1/shape/characters", "GET /v1/shape/templates", "POST /v1/shape/characters"], "topics": []},
    {"view": "character", "hash": "#/characters/<id>", "title": "A character",
     "features": ["web-ui", "character-ui", "collaboration"],
     "rest": ["GET /v1/shape/characters/{character_id}", "GET /v1/shape/characters/{character_id}/versions",
              "POST /v1/shape/characters/{character_id}/versions", "POST /v1/shape/characters/portrait",
              "DELETE /v1/shape/characters/{character_id}",
              "GET /v1/engine/characters/{character}/decision",
              "GET /v1/engine/characters/{character}/decision/history",
              "GET /v1/interpret/characters/{character_id}/recommended-traits"],
     "topics": ["character:<id>", "presence:character:<id>"]},
    {"view": "dashboard", "hash": "#/dashboard", "title": "Dashboard", "features": ["web-ui", "monitoring-dashboard"],
     "rest": ["GET /v1/services", "GET /metrics", "GET /v1/gateway/routes", "GET /v1/queue/queues",
              "GET /v1/storage/stats", "GET /v1/debugger/graph.svg"],
     "topics": ["services"]},
    {"view": "monitor", "hash": "#/monitor", "title": "Monitor", "features": ["web-ui", "monitoring-dashboard"],
     "rest": ["GET /v1/monitor/dashboards", "GET /v1/monitor/dashboards/{name}"], "topics": []},
    {"view": "docs", "hash": "#/docs", "title": "API docs", "features": ["web-ui"],
     "rest": ["GET /v1/interface/docs", "GET /v1/interface/docs/{service}", "GET /v1/interface/topics",
              "GET /openapi.json"], "topics": []},
]
FEATURES = ("web-ui", "character-ui", "monitoring-dashboard", "collaboration", "rest")


def routes() -> set[str]:
    """Every ``"METHOD /template"`` the UI calls."""
    return {r for v in [SHELL, *VIEWS] for r in v["rest"]}


def manifest() -> dict[str, Any]:
    return {
        "page": PAGE, "assets": ASSETS, "features": list(FEATURES),
        "shell": SHELL, "views": VIEWS,
        "security": {"auth": "bearer token of the logged-in user (sessionStorage); WebSocket subprotocols "
                             "['bearer', <token>]",
                     "csp": "default-src 'self'; script-src 'self' (no inline script, no eval)",
                     "data": "inserted as text only (textContent), never as markup"},
        "docs": "docs/interface-ui.md",
    }
