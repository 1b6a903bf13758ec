"""What the gateway does around every HTTP request, in one pure-ASGI layer: a correlation id, the
deadline, deprecation headers, Prometheus metrics, route analytics and the access log.

::

    request ──> X-Request-ID: the client's (if ^[A-Za-z0-9._:-]{1,64}$) or a new uuid4 hex
                  │  runtime.http.REQUEST_ID = id     (problem+json bodies carry it as request_id)
                  ▼
                the app, under its deadline (deadline.Deadlines, DeadlineWatch) until the response starts
                  │  no response by then      -> 504 gateway-timeout problem+json
                  │  an unhandled exception   -> 500 problem+json (then re-raised, as before)
                  ▼
    response <── X-Request-ID echoed; Deprecation/Sunset/Link for a deprecated version (versions)
                  └─> metrics, RouteAnalytics.record, one "aria.gateway.access" log line

Guarantees and caveats
----------------------
- One layer, not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs the app in a
  separate task with a memory stream between them, about a millisecond a request here, which is
  most of what the gateway adds over a bare endpoint. The contextvar is set in the request's own
  task, so the handlers and problem handlers below see it.
- The deadline no longer applies once the response starts (a stream or a long download runs as
  long as it needs) and counts from the last request-body chunk received (a large upload is not cut while
  it is still arriving). WebSocket and lifespan scopes pass through untouched. A handler blocked in
  a worker thread (a plain ``def`` endpoint) is answered only when its thread returns: the
  gateway's routes are all ``async``.
- The access line: ``id=... method=GET route=/v1/x/{id} status=200 ms=1.234 sub=alice`` (``sub``
  only when authenticated), the same fields as ``extra`` attributes for structured handlers. Route
  templates, never raw paths, so no path parameter (a user id, an asset name) reaches the log.
- Behind Ray Serve's proxy (``echo=False``): the proxy gives every request an ``X-Request-ID``
  before the gateway sees it (a dashed uuid4 when the client sent none) and echoes it on the
  response itself, so the gateway does not add a second one. The id the gateway logs and puts in
  problem bodies is that one, except where the client's fails the pattern: the proxy echoes the
  client's as sent, the gateway uses a new one.
- Methods outside the HTTP set are counted as ``OTHER``, so a client cannot grow the metrics'
  label sets or the analytics without bound.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from aria_actors.coordinate.analytics import METHODS, RouteAnalytics
from aria_actors.coordinate.deadline import Deadlines, DeadlineWatch, GatewayTimeout, Watched
from aria_actors.coordinate.metrics import GatewayMetrics
from aria_actors.coordinate.versions import VersionTable
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import REQUEST_ID, problem_response

access = logging.getLogger("aria.gateway.access")
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
HEADER = b"x-request-id"


def new_id() -> str:
    """A random UUID version 4, as 32 hex digits: ``uuid.uuid4().hex`` without building the UUID
    object (the bytes and bits uuid4 sets; a third of its cost, on every request)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is a safe token (it goes into logs and headers), else a new one."""
    for key, value in headers:
        if key == HEADER:
            text = value.decode("latin-1")
            return text if _VALID_ID.fullmatch(text) else new_id()
    return new_id()


def subject_of(scope: dict[str, Any]) -> str | None:
    """The authenticated caller's subject, from the bearer check's claims (or a set caller)."""
    state = scope.get("state") or {}
    claims = state.get("principal")
    if isinstance(claims, dict) and claims.get("sub"):
        return str(claims["sub"])
    caller = state.get("caller")
    return caller.subject if caller is not None and getattr(caller, "authenticated", False) else None


class ObserveRequests:
    """The gateway's per-request layer (see the module docstring)."""

    def __init__(self, app: Any, metrics: GatewayMetrics, analytics: RouteAnalytics | None = None,
                 versions: VersionTable | None = None, deadlines: Deadlines | None = None,
                 access_log: bool = True, echo: bool = True) -> None:
        self.app = app
        self.echo = echo
        self.metrics = metrics
        self.analytics = analytics
        self.versions = versions
        self.deadlines = deadlines
        self.watch = DeadlineWatch.for_deadlines(deadlines) if deadlines is not None else None
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        token = REQUEST_ID.set(request_id)
        echo = [(HEADER, request_id.encode("latin-1"))] if self.echo else []
        versions = self.versions if self.versions is not None and self.versions.deprecated else None
        status = 500
        started = False
        watched: Watched | None = None  # the deadline, while it runs

        async def observed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                nonlocal status, started
                status, started = message["status"], True
                if watched is not None:
                    DeadlineWatch.extend(watched, math.inf)  # a started response (a stream) is never cut
                headers = [*message.get("headers", ()), *echo]
                if versions is not None:
                    headers += versions.headers(scope)
                message = {**message, "headers": headers}
            await send(message)

        try:
            deadline = self.deadlines.for_path(scope["path"]) if self.deadlines is not None else None
            if deadline is None or self.watch is None:
                await self.app(scope, receive, observed_send)
            else:
                watched = entry = self.watch.watch(deadline)

                async def timed_receive() -> dict[str, Any]:
                    message = await receive()
                    if watched is not None and message["type"] == "http.request":
                        DeadlineWatch.extend(watched, deadline)  # counts from the last body chunk
                    return message

                try:
                    await self.app(scope, timed_receive, observed_send)
                except asyncio.CancelledError:
                    # Ours, and no one else's (a client that went away cancels too): answered below.
                    if not entry.expired or entry.task.cancelling() > 1:
                        raise
                finally:
                    self.watch.release(entry)
                    watched = None
                if entry.expired:
                    entry.task.uncancel()  # answered here (also when the app swallowed the cancel)
                if entry.expired and not started:
                    doc = GatewayTimeout(f"no response within {deadline:.0f}s; the request was cancelled",
                                         deadline_s=deadline).problem(instance=scope["path"])
                    await problem_response(doc)(scope, receive, observed_send)
        except Exception as exc:
            if not started:
                # The last handler (ServerErrorMiddleware's) answers outside this layer, without
                # the id; answer here and re-raise, so it still logs and sends nothing more.
                doc = AriaError(f"internal error ({type(exc).__name__}); see the gateway log").problem(
                    instance=scope["path"])
                await problem_response(doc)(scope, receive, observed_send)
            raise
        finally:
            self._record(scope, status, time.perf_counter() - start, request_id)
            REQUEST_ID.reset(token)

    def _record(self, scope: dict[str, Any], status: int, elapsed: float, request_id: str) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        if self.analytics is not None:
            self.analytics.record(method, route, status, elapsed)
        if self.access_log and access.isEnabledFor(logging.INFO):
            subject = subject_of(scope)
            ms = round(elapsed * 1000, 3)
            access.info("id=%s method=%s route=%s status=%d ms=%.3f%s", request_id, method, route, status, ms,
                        f" sub={subject}" if subject else "",
                        extra={"request_id": request_id, "http_method": method, "route": route,
                               "status": status, "duration_ms": ms, "subject": subject})
