"""The gateway's request span: the root of each request's trace, and its id on the response.

::

    request ──> TraceRequests (outermost pure-ASGI layer): span "HTTP <method>", OpenTelemetry's
                current span while the app runs, so each service call below is its child
                (runtime/tracing.py carries it across Ray as ``traceparent``)
    response <── traceparent: 00-<trace id>-<span id>-01 and X-Trace-Id: <trace id> (sampled only)
                 the span renamed "<method> <route template>", with the status

Guarantees and caveats
----------------------
- The trace is always a new one: a client's ``traceparent`` is not continued, so no client
  decides what is sampled or joins its spans to another caller's trace.
- Attributes: the method, the route *template* (never the raw path: an asset name or a user id is
  not recorded) and the status code. A 5xx marks the span an error; a 4xx does not.
- Tracing off (``[tracing] enabled = false``) or this request not sampled: no header, and one
  check per request.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Status, StatusCode

from aria_actors.coordinate.analytics import METHODS
from aria_actors.runtime import tracing

TRACEPARENT = b"traceparent"
TRACE_ID = b"x-trace-id"


class TraceRequests:
    """See the module docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        with tracing.request(method) as span:
            recording = span is not None and span.is_recording()
            extra: list[tuple[bytes, bytes]] = []
            if recording:
                ctx = span.get_span_context()
                extra = [(TRACEPARENT, tracing.format_traceparent(ctx.trace_id, ctx.span_id, True).encode()),
                         (TRACE_ID, f"{ctx.trace_id:032x}".encode())]
            status = 500

            async def traced_send(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if extra:
                        message = {**message, "headers": [*message.get("headers", ()), *extra]}
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            finally:
                if recording:
                    route = getattr(scope.get("route"), "path", None) or "unmatched"
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))


def install_tracing(app: Any) -> None:
    """Add :class:`TraceRequests` to ``app``, outside every other layer (it times them all)."""
    app.add_middleware(TraceRequests)
