"""CORS for the gateway: Starlette's CORSMiddleware built from ``[coordinate]`` settings.

Guarantees and caveats
----------------------
- No origins configured (the default): no middleware, no CORS header on any answer, so browsers
  on other origins cannot read the gateway's answers.
- Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered by the middleware
  before routing and authentication: a browser sends no bearer token with a preflight.
- The headers a browser script may read on an answer include the gateway's own (``X-Request-ID``,
  ``Retry-After``, and the deprecation headers), so a web client can quote a request's id.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from aria_actors.coordinate.config import CoordinateSettings

EXPOSE_HEADERS = ("X-Request-ID", "Retry-After", "Deprecation", "Sunset", "Link")


def policy(settings: CoordinateSettings) -> dict[str, Any]:
    """The CORS policy in effect (``GET /v1/gateway/cors``)."""
    return {"enabled": bool(settings.cors_origins), "origins": list(settings.cors_origins),
            "methods": list(settings.cors_methods), "headers": list(settings.cors_headers),
            "allow_credentials": settings.cors_allow_credentials, "max_age_s": settings.cors_max_age_s,
            "expose_headers": list(EXPOSE_HEADERS)}


def install_cors(app: FastAPI, settings: CoordinateSettings) -> bool:
    """Add the CORS middleware when origins are configured; whether it was added."""
    if not settings.cors_origins:
        return False
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=settings.cors_methods,
                       allow_headers=settings.cors_headers, allow_credentials=settings.cors_allow_credentials,
                       max_age=settings.cors_max_age_s, expose_headers=EXPOSE_HEADERS)
    return True
