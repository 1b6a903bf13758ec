"""The HTTP gateway: one FastAPI app that fronts every service.

Routes: ``/health``, ``/versions``, ``/v1/services``, ``/v1/services/{name}``, ``/v1/gateway/routes``,
``/v1/gateway/cors``, ``/metrics``, OpenAPI at ``/docs``, and each built service's own router under
``/v1/<service>/...``. Errors leave as RFC 9457 problem+json (with the request's ``request_id``, and
``Retry-After`` on a 503). The app only knows a :class:`ServiceDirectory`, so it runs the same
in-process (tests) and on Ray Serve (``aria_actors.coordinate.service``).

::

    request -> ObserveRequests (id, deadline, deprecation headers, metrics, analytics, access log)
            -> CORS (when origins are set) -> protection (login accounts, denial audit: ``protection``)
            -> [rate limit] -> routing, bearer check (+ revoked sessions refused)
            -> route -> transport(name) = Availability.client (503 at once if down)
                     -> GuardedClient (circuit breaker) -> the service

Guarantees and caveats
----------------------
- One pure-ASGI layer does the per-request work (see ``observe``): no BaseHTTPMiddleware.
- The system pages answer partially when part of the system is down (``degrade``): which
  services are down, which circuits are open, and the last known status if the boot actor is
  unreachable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from aria_actors import __version__
from aria_actors.coordinate.analytics import RouteAnalytics
from aria_actors.coordinate.balance import load_balancing
from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.cors import install_cors
from aria_actors.coordinate.cors import policy as cors_policy
from aria_actors.coordinate.deadline import Deadlines
from aria_actors.coordinate.degrade import DEFAULT_RETRY_AFTER_S, NOT_UP, Availability, Tally, retry_after_s
from aria_actors.coordinate.directory import ServiceDirectory
from aria_actors.coordinate.metrics import GatewayMetrics
from aria_actors.coordinate.observe import ObserveRequests
from aria_actors.coordinate.protection import Protection, install_protection, refuse_foreign, token_lockout
from aria_actors.coordinate.ratelimit import bearer_verify, install_rate_limits
from aria_actors.coordinate.traced import install_tracing
from aria_actors.coordinate.versions import VersionTable
from aria_actors.interface.ui import routes as ui_routes
from aria_actors.monitor.client import MonitorClient
from aria_actors.runtime.errors import AriaError, NotFound, ServiceUnavailable
from aria_actors.runtime.http import Permits, install_problem_handlers, service_client
from aria_actors.runtime.registry import service_submodules, spec_by_name
from aria_actors.security.middleware import BearerAuth

log = logging.getLogger("aria.gateway")
# Read-only system routes anyone who can reach the gateway may use; every service route needs a
# bearer token. Discovery is public so that `curl /v1/services` works, as for Ray's dashboard.
PUBLIC_PATHS = frozenset({"/health", "/versions", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/redoc", "/v1/services", "/v1/security/jwks",
                          "/"})  # the web UI's page (aria_actors/interface/ui): no data, it logs in itself
PUBLIC_PREFIXES = ("/v1/services/", "/ui/")  # /ui/: the web UI's static files
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


def authentication(public_routes: set[tuple[str, str]], bearer: BearerAuth | None = None) -> Any:
    """The gateway-wide dependency: aria_security's bearer check on everything but public routes,
    then the app's endpoint protection (``app.state.protection``): an OpenID Connect client's
    token is refused but on UserInfo, and a revoked session's or client's token is refused."""
    bearer = bearer or BearerAuth(exempt=())

    async def _authenticate(request: Request) -> dict[str, Any] | None:
        if is_public(request, public_routes):
            return None
        claims = await bearer(request)
        protection: Protection | None = getattr(request.app.state, "protection", None)
        if protection is not None:
            await protection.admit(claims, request.scope)
        else:
            refuse_foreign(claims, request.scope)
        return claims

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


def retry_after_headers(app: FastAPI) -> None:
    """A 503 (or 429) problem carries ``Retry-After``: the error's ``retry_after_s`` (an open
    breaker's remaining cooldown, a service-down's wait), else a default for a 503."""
    problem = app.exception_handlers[AriaError]

    async def _with_retry_after(request: Request, exc: Exception) -> Response:
        response = await problem(request, exc)
        seconds = retry_after_s(exc)
        if seconds is not None and "retry-after" not in response.headers:
            response.headers["Retry-After"] = str(seconds)
        return response

    app.add_exception_handler(AriaError, _with_retry_after)


def call_timeout_of(directory: ServiceDirectory) -> Callable[[str], float | None]:
    """The gateway's timeout for one call to a service: the directory's, else the service's spec."""
    own = getattr(directory, "timeout_of", None)
    if own is not None:
        return own

    def from_spec(name: str) -> float | None:
        try:
            return spec_by_name(name).call_timeout_s
        except NotFound:
            return None

    return from_spec


def create_app(directory: ServiceDirectory, require_auth: bool = True,
               settings: CoordinateSettings | None = None, echo_request_id: bool = True,
               quota: Any = None) -> FastAPI:
    """The gateway app over ``directory``; ``settings``: ``[coordinate]`` (default: read them);
    ``echo_request_id``: False behind a proxy that echoes ``X-Request-ID`` itself (Ray Serve's);
    ``quota``: where rate-limit shares come from (default: all of each limit, in this process)."""
    settings = settings if settings is not None else CoordinateSettings()
    public_routes: set[tuple[str, str]] = set()  # filled when the service routers are mounted
    # one: the rate limiter reads the keys it has fetched; invalid tokens lock an address out (protection)
    bearer = BearerAuth(exempt=(), lockout=token_lockout(settings))
    app = FastAPI(
        title="Aria", version=__version__,
        description="Runtime for AI-driven characters: the fourteen services behind one gateway.",
        dependencies=[Depends(authentication(public_routes, bearer))] if require_auth else [],
    )
    install_problem_handlers(app)
    retry_after_headers(app)
    metrics = GatewayMetrics()
    availability = Availability(directory)
    analytics = RouteAnalytics()
    versions = VersionTable(settings.deprecated_versions)
    app.state.directory = directory
    app.state.availability = availability
    app.state.clients = availability.client  # a down service's routes answer 503 at once
    app.state.metrics = metrics
    app.state.analytics = analytics
    app.state.versions = versions
    app.state.settings = settings
    app.state.bearer = bearer  # the WebSocket channel checks its handshake's token with it (and its lockout)

    def breakers() -> dict[str, Any]:
        return getattr(directory, "breakers", {})

    @app.get("/health", tags=["system"], summary="Gateway liveness, and which services are down",
             openapi_extra=serves("health-monitoring", "graceful-degradation"))
    async def health() -> JSONResponse:
        try:
            status, stale = await availability.read_or_last()
        except AriaError as exc:
            return JSONResponse({"status": "unavailable", "gateway": "up", "detail": exc.message, "down": [],
                                 "circuits_open": availability.summary({}, breakers())["circuits_open"]},
                                status_code=503, headers={"Retry-After": str(DEFAULT_RETRY_AFTER_S)})
        counts = status["counts"]
        part = availability.summary(status, breakers())
        overall = "degraded" if part["circuits_open"] or any(counts.get(s) for s in NOT_UP | {"degraded"}) else "ok"
        body = {"status": overall, "gateway": "up", "phase": status["phase"], "counts": counts,
                "version": __version__, **part}
        if stale is None:
            return JSONResponse(body)
        # The boot actor does not answer: what was last known, and a 503 (the system cannot be assessed).
        return JSONResponse({**body, "status": "unavailable", "detail": stale["detail"], "stale": stale},
                            status_code=503, headers={"Retry-After": str(DEFAULT_RETRY_AFTER_S)})

    @app.get("/v1/services", tags=["system"], summary="Every service with its status, and which are down",
             openapi_extra=serves("service-discovery", "health-monitoring", "graceful-degradation"))
    async def services() -> dict[str, Any]:
        status, stale = await availability.read_or_last()
        body = {**status, **availability.summary(status, breakers())}
        if stale is not None:
            body["stale"] = stale
        return body

    @app.get("/v1/services/{name}", tags=["system"], summary="One service's status and load balancing",
             openapi_extra=serves("service-discovery", "health-monitoring", "load-balancing"))
    async def service(name: str) -> dict[str, Any]:
        stale = None
        try:
            async with asyncio.timeout(availability.read_timeout_s):
                svc = await directory.service(name)
        except (ServiceUnavailable, TimeoutError) as exc:
            known = [s for s in (availability.last or {}).get("services", ()) if s["name"] == name]
            if not known:
                raise ServiceUnavailable(f"status of {name} unavailable: {getattr(exc, 'message', exc)}",
                                         service=name) from None
            svc, stale = known[0], {"age_s": round(availability.clock() - availability.read_at, 3),
                                    "detail": getattr(exc, "message", "no answer")}
        tally = availability.tallies.get(name) or Tally()
        count_replicas = getattr(directory, "replicas", None)
        replicas = await count_replicas(name) if svc.get("kind") == "deployment" and count_replicas else None
        breaker = breakers().get(name)
        body = {**svc, "load_balancing": load_balancing(svc, replicas, tally.in_flight, tally.calls),
                "circuit": breaker.snapshot() if breaker is not None else None}
        if stale is not None:
            body["stale"] = stale
        return body

    @app.get("/versions", tags=["system"], summary="The API versions served, current or deprecated",
             openapi_extra=serves("api-versioning"))
    async def api_versions() -> dict[str, Any]:
        return versions.listing()

    @app.get("/v1/gateway/routes", tags=["system"], summary="Per-route request counts, errors and latency",
             openapi_extra=serves("request-logging"))
    async def gateway_routes() -> dict[str, Any]:
        return {**analytics.snapshot(settings.analytics_window_s), "access_log": settings.access_log}

    @app.get("/v1/gateway/cors", tags=["system"], summary="The CORS policy in effect",
             openapi_extra=serves("cors"))
    async def gateway_cors() -> dict[str, Any]:
        return cors_policy(settings)

    full_scrape = Permits(MonitorClient, "scrape")
    monitor_client = service_client(MonitorClient)

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics",
             openapi_extra=serves("health-monitoring", "circuit-breakers"))
    async def prometheus(request: Request) -> Response:
        if require_auth and "authorization" in request.headers:
            # A scraper with a token (Prometheus's `authorization` setting): every service's series
            # in one scrape, read by aria_monitor as that caller (monitor:metrics:read@any: metrics
            # span tenants). Without a token: the gateway's own series, public as before.
            claims = await bearer(request)
            protection: Protection | None = getattr(request.app.state, "protection", None)
            if protection is not None:
                await protection.admit(claims, request.scope)
            else:
                refuse_foreign(claims, request.scope)
            caller = await full_scrape(request)
            text = await (await monitor_client(request)).scrape(caller)
            return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
        try:
            metrics.observe_services(await directory.status(), breakers())
        except AriaError as exc:
            log.warning("metrics without service status: %s", exc.message)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.state.mounted = mount_service_routers(app, public_routes)
    app.include_router(ui_routes.router)  # the web UI: GET / and /ui/<file> (public: no data, it logs in itself)

    def routes_changed() -> None:
        """Re-read the routes (after ``versions.mount_version``): versions, public routes."""
        versions.refresh(flat_routes(app))
        public_routes.update(public_routes_of(app))

    routes_changed()
    app.state.routes_changed = routes_changed

    # Middleware, innermost first (each one added wraps the ones before it).
    # Rate limits innermost: inside CORS (a 429 carries CORS headers a browser can read) and inside
    # ObserveRequests (a 429 gets its request id, an access-log line and counts in the analytics).
    app.state.limiter = install_rate_limits(app, settings, quota,
                                            verify=bearer_verify(bearer) if require_auth else None)
    # Outside the rate limits: it audits their 429s too, and checks a login's account before them.
    app.state.protection = install_protection(app, settings, metrics.registry)
    install_cors(app, settings)
    deadlines = Deadlines.for_services(settings.request_timeout_s, app.state.mounted, call_timeout_of(directory))
    app.add_middleware(ObserveRequests, metrics=metrics, analytics=analytics, versions=versions,
                       deadlines=deadlines, access_log=settings.access_log, echo=echo_request_id)
    install_tracing(app)  # outermost: the request's trace spans every layer (coordinate/traced.py)
    return app
