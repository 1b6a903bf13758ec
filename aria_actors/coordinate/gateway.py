"""The HTTP gateway: one FastAPI app that fronts every service.

Routes: ``/health``, ``/v1/services``, ``/v1/services/{name}``, ``/metrics``, OpenAPI at ``/docs``,
and each built service's own router under ``/v1/<service>/...``. Errors leave as RFC 9457
problem+json. The app only knows a :class:`ServiceDirectory`, so it runs the same in-process
(tests) and on Ray Serve (``aria_actors.coordinate.service``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from aria_actors import __version__
from aria_actors.coordinate.directory import ServiceDirectory
from aria_actors.coordinate.metrics import GatewayMetrics
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import Permits, install_problem_handlers
from aria_actors.runtime.registry import service_submodules
from aria_actors.security.middleware import BearerAuth

log = logging.getLogger("aria.gateway")
NOT_UP = {"failed", "pending", "starting", "stopped"}
# Read-only system routes anyone who can reach the gateway may use; every service route needs a
# bearer token. Discovery is public so that `curl /v1/services` works, as for Ray's dashboard.
PUBLIC_PATHS = frozenset({"/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/redoc", "/v1/services", "/v1/security/jwks"})
PUBLIC_PREFIXES = ("/v1/services/",)
# The seed features of aria_coordinate each system route serves (a service route serves those its
# RPC method declares); every mounted service route is routed by the gateway through that
# service's circuit breaker, so it serves MOUNTED_FEATURES too. Read by ``features_of``.
FEATURES_KEY = "x-aria-features"
MOUNTED_FEATURES = ("routing", "circuit-breakers")


def serves(*features: str) -> dict[str, Any]:
    """``openapi_extra`` of a system route that serves ``features`` of aria_coordinate."""
    return {FEATURES_KEY: list(features)}


def features_of(route: Any) -> tuple[str, ...]:
    """The aria_coordinate features a system route declares with :func:`serves`."""
    return tuple((getattr(route, "openapi_extra", None) or {}).get(FEATURES_KEY, ()))


def is_public(request: Request, routes: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()) -> bool:
    """System reads, and routes fronting an RPC method declared ``public`` (a login)."""
    path = request.url.path
    template = getattr(request.scope.get("route"), "path", None)
    if (request.method, template) in routes:
        return True
    return request.method in ("GET", "HEAD") and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))


def route_permits(route: Any) -> list[Any]:
    """The :class:`~aria_actors.runtime.http.Permits` checks a route's dependencies make."""
    found, stack = [], [getattr(route, "dependant", None)]
    while stack:
        dep = stack.pop()
        if dep is None:
            continue
        if isinstance(dep.call, Permits):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of ``app``, those of included routers too (FastAPI 0.16x keeps an included
    router as one ``_IncludedRouter`` entry of ``app.routes``; a request's ``scope["route"]`` is
    still the original route)."""
    try:  # compat: FastAPI before 0.16x has no iter_route_contexts
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI copies included routes into app.routes
        return list(app.routes)
    return [ctx.original_route for ctx in iter_route_contexts(app.routes)]


def public_routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """``(method, path template)`` of every route whose RPC method is declared public."""
    out = set()
    for route in flat_routes(app):
        if any(p.spec.public for p in route_permits(route)):
            out.update((m, route.path) for m in getattr(route, "methods", ()) or ())
    return out


def authentication(public_routes: set[tuple[str, str]]) -> Any:
    """The gateway-wide dependency: aria_security's bearer check on everything but public routes."""
    bearer = BearerAuth(exempt=())

    async def _authenticate(request: Request) -> dict[str, Any] | None:
        return None if is_public(request, public_routes) else await bearer(request)

    return _authenticate


def mount_service_routers(app: FastAPI, public_routes: set[tuple[str, str]] | None = None) -> list[str]:
    """Include ``aria_actors.<svc>.api.router`` for every service that has one.

    Routes fronting a method declared ``public`` (the body is the credential, as in aria_auth's
    login) are added to ``public_routes``: they need no bearer token.
    """
    mounted = []
    for module, api in service_submodules("api"):
        app.include_router(api.router)
        mounted.append(module)
    if public_routes is not None:
        public_routes.update(public_routes_of(app))
    return mounted


class ObserveRequests:
    """Counts and times every request by route template (pure ASGI).

    Not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs the app in a separate
    task with a memory stream between them, about a millisecond a request here, which is most
    of what the gateway adds over a bare endpoint.
    """

    def __init__(self, app: Any, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def observed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - start)


def create_app(directory: ServiceDirectory, require_auth: bool = True) -> FastAPI:
    public_routes: set[tuple[str, str]] = set()  # filled when the service routers are mounted
    app = FastAPI(
        title="Aria", version=__version__,
        description="Runtime for AI-driven characters: the fourteen services behind one gateway.",
        dependencies=[Depends(authentication(public_routes))] if require_auth else [],
    )
    install_problem_handlers(app)
    metrics = GatewayMetrics()
    app.state.directory = directory
    app.state.clients = directory.client
    app.state.metrics = metrics

    app.add_middleware(ObserveRequests, metrics=metrics)

    @app.get("/health", tags=["system"], summary="Gateway liveness and a summary of every service",
             openapi_extra=serves("health-monitoring"))
    async def health() -> JSONResponse:
        try:
            status = await directory.status()
        except AriaError as exc:
            return JSONResponse({"status": "unavailable", "gateway": "up", "detail": exc.message},
                                status_code=503)
        counts = status["counts"]
        overall = "degraded" if any(counts.get(s) for s in NOT_UP | {"degraded"}) else "ok"
        return JSONResponse({"status": overall, "gateway": "up", "phase": status["phase"],
                             "counts": counts, "version": __version__})

    @app.get("/v1/services", tags=["system"], summary="Every service with its status",
             openapi_extra=serves("service-discovery", "health-monitoring"))
    async def services() -> dict[str, Any]:
        return await directory.status()

    @app.get("/v1/services/{name}", tags=["system"], summary="One service's status",
             openapi_extra=serves("service-discovery", "health-monitoring"))
    async def service(name: str) -> dict[str, Any]:
        return await directory.service(name)

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics",
             openapi_extra=serves("health-monitoring", "circuit-breakers"))
    async def prometheus() -> Response:
        try:
            metrics.observe_services(await directory.status(), getattr(directory, "breakers", {}))
        except AriaError as exc:
            log.warning("metrics without service status: %s", exc.message)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.state.mounted = mount_service_routers(app, public_routes)
    return app
