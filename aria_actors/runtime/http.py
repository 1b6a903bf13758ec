"""HTTP helpers shared by every service router: problem+json errors and service clients."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from aria_actors.runtime.errors import PROBLEM_BASE, TRACEBACK, AriaError, ServiceUnavailable, brief
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, bind, default_gate, service_of, spec_of
from aria_actors.runtime.service import ServiceClient
from aria_actors.runtime.spec import Status

P = TypeVar("P")

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("aria.http")
# The correlation id of the request being handled: the gateway sets it for each request
# (aria_actors.coordinate.observe) and every problem+json body names it, so a client can quote it.
REQUEST_ID: ContextVar[str | None] = ContextVar("aria_request_id", default=None)

_STATUS_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 409: "conflict", 422: "validation", 501: "not-implemented",
                 503: "service-unavailable"}


def problem_response(doc: dict[str, Any]) -> JSONResponse:
    request_id = REQUEST_ID.get()
    if request_id is not None and "request_id" not in doc:
        doc = {**doc, "request_id": request_id}
    return JSONResponse(doc, status_code=int(doc["status"]), media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app raises leaves as RFC 9457 problem+json with a stable ``type``."""

    @app.exception_handler(AriaError)
    async def _aria(request: Request, exc: AriaError) -> JSONResponse:
        # An error raised inside a Ray actor arrives wrapped; its cause is the service's own error.
        cause = getattr(exc, "cause", None)
        if isinstance(cause, AriaError):
            exc = cause
        doc = exc.problem(instance=request.url.path)
        detail = str(doc.get("detail", ""))
        if TRACEBACK in detail:
            # A message built from an error raised in a Ray actor carries that actor's
            # traceback: it goes to the log, never to the client.
            log.warning("%s on %s: %s", exc.type, request.url.path, detail)
            doc["detail"] = brief(detail) or exc.title
        return problem_response(doc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()
        ]
        return problem_response({
            "type": PROBLEM_BASE + "validation", "title": "Invalid request", "status": 422,
            "detail": "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors),
            "instance": request.url.path, "errors": errors,
        })

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _STATUS_TYPES.get(exc.status_code, f"http-{exc.status_code}")
        return problem_response({
            "type": PROBLEM_BASE + slug, "title": slug.replace("-", " ").capitalize(),
            "status": exc.status_code, "detail": str(exc.detail), "instance": request.url.path,
        })

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # No stack trace leaves the server; it goes to the log.
        log.exception("unhandled error on %s", request.url.path)
        return problem_response({
            "type": PROBLEM_BASE + "internal", "title": "Internal error", "status": 500,
            "detail": f"internal error ({type(exc).__name__}); see the gateway log",
            "instance": request.url.path,
        })


class ServiceRouter(APIRouter):
    """A service's router: a path outside its prefix is no match at once.

    FastAPI tries an included router's routes one by one; with every service mounted that was a
    hundred path regexes per request before the one that matched (a fifth of the gateway's own
    time per request, measured). The prefix test makes it one comparison per service.
    """

    def matches(self, scope: Any) -> Any:
        path = scope.get("path", "")
        if self.prefix and path != self.prefix and not path.startswith(self.prefix + "/"):
            return Match.NONE, {}
        return super().matches(scope)


def transport(request: Request, name: str) -> ServiceClient:
    """The transport to service ``name`` the app was given in ``app.state.clients``.

    The gateway fills ``app.state.clients`` with Ray-backed clients behind circuit breakers; tests
    fill it with :class:`~aria_actors.runtime.local.LocalClient`.
    """
    clients = getattr(request.app.state, "clients", {})
    client = clients.get(name) if isinstance(clients, dict) else clients(name)
    if client is None:
        raise ServiceUnavailable(f"{name} is not reachable from this gateway", service=name)
    return client


def service_client(proto: type[P]) -> Callable[[Request], P]:
    """FastAPI dependency: the typed client ``proto`` (e.g. ``StorageClient``) of its service."""
    name = service_of(proto)

    async def _dep(request: Request) -> P:  # async: FastAPI runs a plain def in a worker thread
        return bind(proto, transport(request, name))

    return _dep


def health_response(health: dict[str, Any]) -> JSONResponse:
    """A service's ``/health`` answer: its probe, 503 while it is failed or still starting."""
    code = 503 if health["status"] in (Status.FAILED, Status.STARTING) else 200
    return JSONResponse(health, status_code=code)


def caller_of(request: Request) -> Principal:
    """The verified caller of this request (set by the gateway's bearer check), else anonymous."""
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    claims = getattr(request.state, "principal", None)
    caller = Principal.from_claims(claims) if claims else Principal.anonymous()
    request.state.caller = caller
    return caller


class Permits:
    """Route dependency: the caller, once it may call the RPC method the route stands for.

    The route declares which declared method it fronts (``permits(StorageClient.put)``), so its
    permission is the method's own, read from the typed client's declaration, and a route the
    permission table cannot name does not exist. The same check runs again inside the service;
    here it runs before the body is validated, so a caller without the right learns nothing from
    validation errors.
    """

    def __init__(self, proto: type, method: str) -> None:
        self.proto = proto
        self.method = method

    @property
    def spec(self) -> RpcSpec:
        return spec_of(self.proto, self.method)

    async def __call__(self, request: Request) -> Principal:
        caller = caller_of(request)
        default_gate().check(self.spec, caller)
        return caller


def permits(method: Callable[..., Any]) -> Any:
    """``Depends(permits(StorageClient.put))``: see :class:`Permits`."""
    module = sys.modules[method.__module__]
    owner_name, _, name = method.__qualname__.rpartition(".")
    return Depends(Permits(getattr(module, owner_name), name))
