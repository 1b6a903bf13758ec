"""Distributed tracing of one process, with OpenTelemetry: spans, W3C context across Ray, a ring.

Lifecycle::

    setup(settings, service)   once per process, by its service shell (ServiceHost); off when
                               ``[tracing] enabled`` is false: no tracer, every helper below
                               returns a shared no-op at the cost of one check
    request / serving / calling / query / job
                               the spans: a gateway request (root), an actor call as served
                               (ServiceHost.call) and as made (RayServiceClient.call), a SQL
                               statement or transaction (aria_data's pool), a queue job (root)
    collect(after, limit)      the finished spans in this process's ring after cursor ``after``:
                               the shell's ``spans`` door, opened by aria_debugger only
    shutdown()                 back to off (tests and the bench)

Context crosses a Ray call as a W3C ``traceparent`` string (``00-<trace>-<span>-<flags>``), an
extra argument of ``ServiceHost.call``; a call without one starts a new trace there. Each span is
OpenTelemetry's current span while its block runs, so ``trace.get_current_span()`` names it
(the log records of a call carry its trace id).

Spans are OpenTelemetry API spans (:class:`AriaSpan` implements ``trace.Span``; context is the API's
own contextvars context), made and sampled here rather than by the SDK's ``TracerProvider``: the
SDK's span start and end cost several times more (its attribute validation, locks and processor
chain; bench/tracing.py prints both per span). The SDK serves the OTLP export: an ended span is
handed to its ``BatchSpanProcessor`` as a ``ReadableSpan`` when ``otlp_endpoint`` is set.

Guarantees and caveats:
- Sampling is decided once per trace, at its root (``sample_ratio`` by the trace id's low 64 bits,
  the SDK's TraceIdRatioBased rule), and followed
  by every span below it, in every process (the ``sampled`` flag travels in ``traceparent``).
- Queries and outgoing calls make a span only inside a recorded span: background loops (health
  probes, queue polling) make none, so they cannot flood the ring.
- :func:`untraced` runs a block under an unsampled context: nothing below it is recorded, here
  or in the services it calls. aria_debugger collects spans under it (no feedback loop).
- Attributes are an allow-list (:data:`ALLOWED`): method, route template, status, service and
  method names, SQL statement names, queue and worker names. Never SQL text or parameters,
  bodies, tokens or error messages (an error is its type's name); a value that still looks like
  a secret is masked.
- The ring holds ``ring_size`` finished spans; the oldest go first and a reader told how many it
  missed. A process's spans die with it unless aria_debugger collected them (or OTLP exported
  them: ``otlp_endpoint``, batched in a background thread).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from aria_actors.runtime.errors import BadRequest

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACE_ID = re.compile(r"[0-9a-f]{32}")
MAX_VALUE_CHARS = 200
MAX_COLLECT = 5000      # spans one ``spans`` door answer holds
# The attribute keys a span may carry (anything else is dropped when the span is recorded).
ALLOWED = frozenset({
    "http.request.method", "http.route", "http.response.status_code", "rpc.system", "rpc.service",
    "rpc.method", "db.system", "db.operation.name", "db.statement.name", "messaging.destination.name",
    "aria.job.worker", "aria.job.attempt", "error.type", "peer.service",
})
# values that look like a credential: an Authorization header, a JWT, key=value secrets, a URL's
# password, a long opaque token
_SECRETISH = re.compile(r"(?i)bearer\s|basic\s|eyJ[A-Za-z0-9_-]{6,}\.|(passw\w*|secret|token|api[_-]?key)\s*[=:]|"
                        r"://[^/@\s]*:[^/@\s]*@|[A-Za-z0-9_-]{40,}")
_EMPTY = otel_context.Context()  # the parent of a root (immutable)
_NULL: contextlib.nullcontext[Any] = contextlib.nullcontext()
_LOW64 = (1 << 64) - 1
_SAMPLED, _UNSAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(0)
_bits = random.getrandbits  # ids as the SDK makes them (its RandomIdGenerator)
_NO_ARGS: contextlib.nullcontext[tuple[str, ...]] = contextlib.nullcontext(())


class SpanRing:
    """The last ``size`` finished spans of this process, each with a sequence number (a cursor)."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, Any]] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()  # spans may end in worker threads

    def append(self, record: Any) -> None:
        with self._lock:
            self._seq += 1
            self._items.append((self._seq, record))

    def since(self, after: int, limit: int) -> tuple[list[Any], int, int]:
        """``(spans, next cursor, missed)``: at most ``limit`` spans after cursor ``after``, the
        cursor to ask from next, and how many after ``after`` were dropped before this read."""
        with self._lock:
            items = list(self._items)
            last = self._seq
        if after > last:  # a cursor of an earlier process: start over
            after = 0
        first = items[0][0] if items else last + 1
        missed = max(0, first - after - 1)
        out = [r for s, r in items if s > after][:limit]
        return out, (after + missed + len(out)), missed

    def __len__(self) -> int:
        return len(self._items)


class AriaSpan(trace.Span):
    """A recorded span: OpenTelemetry's ``Span`` interface (so ``trace.get_current_span()`` and
    every OTel API caller see it), kept by this module rather than the SDK's span class, whose
    start and end cost several times more (bench/tracing.py prints both). Ended, it goes to the
    ring as a flat tuple (:func:`record_of` reads it) and, with OTLP configured, to the SDK's
    batch exporter as a ``ReadableSpan``."""

    __slots__ = ("_attrs", "_ctx", "_error", "_kind", "_name", "_parent", "_service", "_sink", "_start")

    def __init__(self, ctx: SpanContext, parent_id: int, name: str, kind: str, service: str,
                 attributes: dict[str, Any], sink: Callable[[tuple[Any, ...]], None]) -> None:
        self._ctx, self._parent, self._name, self._kind, self._service = ctx, parent_id, name, kind, service
        self._attrs, self._sink, self._error = attributes, sink, False
        self._start = time.time_ns()

    def end(self, end_time: int | None = None) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:  # once: a second end is a no-op, as in the SDK
            sink((self._ctx.trace_id, self._ctx.span_id, self._parent, self._name, self._kind, self._start,
                  end_time or time.time_ns(), self._error, tuple(self._attrs.items())))

    def get_span_context(self) -> SpanContext:
        return self._ctx

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._attrs.update(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self._attrs[key] = value

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        return None  # no events are kept

    def update_name(self, name: str) -> None:
        self._name = name

    def is_recording(self) -> bool:
        return self._sink is not None

    def set_status(self, status: Any, description: str | None = None) -> None:
        code = status.status_code if isinstance(status, Status) else status
        if code is StatusCode.ERROR:
            self._error = True

    def record_exception(self, exception: BaseException, attributes: Any = None, timestamp: int | None = None,
                         escaped: bool = False) -> None:
        return None  # an error is its type's name (error.type), never its message


class _State:
    def __init__(self, ring: SpanRing, service: str, ratio: float, exporter: Any = None, resource: Any = None) -> None:
        self.ring = ring
        self.service = service
        # TraceIdRatioBased's rule: sampled when the trace id's low 64 bits are below the bound
        self.bound = round(ratio * (1 << 64))
        self.exporter = exporter  # the SDK's BatchSpanProcessor over OTLP, or None
        self.resource = resource
        self.sink: Callable[[tuple[Any, ...]], None] = ring.append if exporter is None else self._both

    def _both(self, item: tuple[Any, ...]) -> None:
        self.ring.append(item)
        with contextlib.suppress(Exception):  # the exporter's trouble never fails a call
            self.exporter.on_end(readable(item, self.resource))

    def start(self, name: str, kind: str, service: str, attributes: dict[str, Any], parent: Any) -> trace.Span:
        """A span under ``parent`` (a context; None: the current one), sampled as its trace is."""
        pctx = trace.get_current_span(parent).get_span_context()
        if pctx.is_valid:
            trace_id, parent_id, sampled = pctx.trace_id, pctx.span_id, pctx.trace_flags.sampled
        else:
            trace_id, parent_id = _bits(128) or 1, 0
            sampled = (trace_id & _LOW64) < self.bound
        span_id = _bits(64) or 1
        if not sampled:
            return NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=False, trace_flags=_UNSAMPLED))
        attributes["aria.service"] = service
        return AriaSpan(SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED), parent_id, name,
                        kind, service, attributes, self.sink)


_state: _State | None = None
_ring: SpanRing | None = None  # kept across shutdown/setup (the bench's on/off), until the process ends
BOOT = os.urandom(8).hex()  # this process's identity: a cursor belongs to one process


def setup(settings: Any, service: str) -> bool:
    """Set this process's tracer up from ``settings`` (the tree, or its ``tracing`` section);
    False when tracing is off. A second call keeps the first tracer (one process, one ring)."""
    global _state, _ring
    cfg = getattr(settings, "tracing", settings)
    if not cfg.enabled:
        return False
    if _state is not None:
        return True
    if _ring is None:
        _ring = SpanRing(cfg.ring_size)
    exporter = resource = None
    if cfg.otlp_endpoint:
        # heavy: the SDK's exporter (protobuf, requests), only where an OTLP endpoint is configured
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = BatchSpanProcessor(OTLPSpanExporter(endpoint=cfg.otlp_endpoint))
        resource = Resource.create({"service.name": service})
    _state = _State(_ring, service, cfg.sample_ratio, exporter, resource)
    return True


def readable(item: tuple[Any, ...], resource: Any) -> Any:
    """A ring tuple as the SDK's ``ReadableSpan`` (for its OTLP exporter), attributes cleaned."""
    # heavy: the SDK, imported once setup() has configured an exporter
    from opentelemetry.sdk.trace import ReadableSpan

    trace_id, span_id, parent_id, name, kind, start, end, error, _ = item
    parent = SpanContext(trace_id, parent_id, is_remote=False, trace_flags=_SAMPLED) if parent_id else None
    return ReadableSpan(name=name, context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED),
                        parent=parent, resource=resource, attributes=record_of(item)["attributes"],
                        kind=SpanKind[kind], status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
                        start_time=start, end_time=end)


def shutdown() -> None:
    """Tracing off in this process (the ring and what it holds stay)."""
    global _state
    state, _state = _state, None
    if state is not None and state.exporter is not None:
        state.exporter.shutdown()


def enabled() -> bool:
    return _state is not None


# -- W3C trace context ----------------------------------------------------------------------------
def format_traceparent(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(text: Any) -> tuple[int, int, bool] | None:
    """``(trace id, span id, sampled)`` of a version-00 ``traceparent``; None when malformed
    (the all-zero ids are invalid too): the call then starts a trace of its own."""
    if not isinstance(text, str) or len(text) != 55:
        return None
    m = TRACEPARENT.fullmatch(text)
    if m is None:
        return None
    trace_id, span_id = int(m.group(1), 16), int(m.group(2), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, bool(int(m.group(3), 16) & 1)


def outgoing() -> str | None:
    """The ``traceparent`` of the current span, for a call leaving this process; None outside one."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format_traceparent(ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled)


def _remote_context(traceparent: Any) -> Any:
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return _EMPTY  # a root, whatever this task's context holds
    trace_id, span_id, sampled = parsed
    span = NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=True,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0)))
    return trace.set_span_in_context(span, _EMPTY)


def is_trace_id(value: Any) -> bool:
    return isinstance(value, str) and TRACE_ID.fullmatch(value) is not None and int(value, 16) != 0


# -- spans ----------------------------------------------------------------------------------------
class _Span:
    """One span as OpenTelemetry's current span for a ``with`` block (a class, not a generator:
    this runs several times a request). Attributes given at start are the few that vary; the
    constant ones (rpc.system, db.system) are added when the span is read (``record_of``)."""

    __slots__ = ("attributes", "kind", "name", "parent", "service", "span", "state", "token")

    def __init__(self, state: _State, name: str, kind: str, service: str, attributes: dict[str, Any],
                 parent: Any = None) -> None:
        self.state, self.name, self.kind, self.service = state, name, kind, service
        self.attributes, self.parent = attributes, parent

    def __enter__(self) -> Any:
        span = self.span = self.state.start(self.name, self.kind, self.service, self.attributes, self.parent)
        self.token = otel_context.attach(trace.set_span_in_context(span, self.parent))
        return span

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        span = self.span
        if exc is not None and span.is_recording():  # the type's name only: a message may carry data
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", type(exc).__name__)
        otel_context.detach(self.token)
        span.end()


class _CallSpan(_Span):
    """A client span whose ``with`` value is the extra call argument: ``(traceparent,)``."""

    __slots__ = ()

    def __enter__(self) -> Any:
        ctx = super().__enter__().get_span_context()
        return (format_traceparent(ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled),)


_span = _Span


def request(method: str) -> Any:
    """The root span of a gateway request (named ``HTTP <method>`` until its route is known)."""
    state = _state
    if state is None:
        return _NULL
    return _span(state, f"HTTP {method}", "SERVER", "aria_coordinate", {"http.request.method": method},
                 _EMPTY)


def serving(service: str, method: str, traceparent: Any = None) -> Any:
    """The span of a call ``service`` serves, child of the caller's ``traceparent`` (if any)."""
    state = _state
    if state is None:
        return _NULL
    return _span(state, f"{service}.{method}", "SERVER", service, {"rpc.method": method},
                 _remote_context(traceparent))


def calling(service: str, method: str) -> Any:
    """A call made to ``service``: ``with calling(...) as extra:`` then pass ``*extra`` (the
    ``traceparent``, or nothing) as the call's last argument. A span only inside a recorded one;
    outside one (background work, :func:`untraced`) an unsampled context goes with the call, so
    traces start at the gateway and at jobs only, not at every timer of every service."""
    state = _state
    if state is None:
        return _NO_ARGS
    current = trace.get_current_span()
    if not current.is_recording():
        return contextlib.nullcontext((outgoing() or unsampled(),))
    return _CallSpan(state, f"call {service}.{method}", "CLIENT", _service_of(current, state),
                     {"rpc.method": method, "peer.service": service})


def _service_of(current: Any, state: _State) -> str:
    """The service a span under ``current`` belongs to: that of the span it runs in (a process may
    hold several services: the in-process launcher's)."""
    return current._service if isinstance(current, AriaSpan) else state.service


def unsampled() -> str:
    """A fresh ``traceparent`` whose trace is not recorded (random ids, sampled flag off)."""
    ids = int.from_bytes(os.urandom(24), "big")
    return format_traceparent(ids >> 64 or 1, ids & ((1 << 64) - 1) or 1, False)


def query(text: str, name_of: Callable[[str], str | None] | None = None) -> Any:
    """A SQL statement's span (inside a recorded span only), named by its ``.sql`` name."""
    state = _state
    if state is None:
        return _NULL
    current = trace.get_current_span()
    if not current.is_recording():
        return _NULL
    name = (name_of(text) if name_of is not None else None) or statement_summary(text)
    return _span(state, f"db {name}", "CLIENT", _service_of(current, state),
                 {"db.operation.name": operation_of(text), "db.statement.name": name})


def job(queue: str, worker: str, attempt: int) -> Any:
    """The root span of a queue job's attempt."""
    state = _state
    if state is None:
        return _NULL
    return _span(state, f"job {worker}", "CONSUMER", state.service,
                 {"messaging.destination.name": queue, "aria.job.worker": worker, "aria.job.attempt": attempt},
                 _EMPTY)


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Run the block under an unsampled context: nothing in it, nor in what it calls, is traced."""
    if _state is None:
        yield
        return
    ids = int.from_bytes(os.urandom(24), "big")
    span = NonRecordingSpan(SpanContext(ids >> 64 or 1, ids & ((1 << 64) - 1) or 1, is_remote=False,
                                        trace_flags=TraceFlags(0)))
    token = otel_context.attach(trace.set_span_in_context(span, _EMPTY))
    try:
        yield
    finally:
        otel_context.detach(token)


_OPERATION = re.compile(r"\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)")


def operation_of(text: str) -> str:
    """The statement's first keyword (SELECT, INSERT, ...), or ``transaction``."""
    if text.startswith("transaction "):
        return "transaction"
    m = _OPERATION.match(text)
    return m.group(1).upper()[:20] if m else "SQL"


def statement_summary(text: str) -> str:
    """A name for a statement that has no ``.sql`` name: its label (a transaction's body
    function) or its operation, never its text."""
    if text.startswith("transaction "):
        return _printable(text, 120)
    return operation_of(text)


def _printable(text: str, limit: int) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


# -- records --------------------------------------------------------------------------------------
def clean_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The allowed attributes, each a number, a boolean or a short string that looks like no secret."""
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key not in ALLOWED:
            continue
        if isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, str):
            out[key] = "***" if _SECRETISH.search(value) else _printable(value, MAX_VALUE_CHARS)
    return out


def compact(span: Any) -> tuple[Any, ...]:
    """A finished OpenTelemetry span as the ring keeps it (see :func:`record_of`)."""
    ctx, parent = span.context, span.parent
    return (ctx.trace_id, ctx.span_id, parent.span_id if parent is not None else 0, span.name, span.kind.name,
            span.start_time or 0, span.end_time or span.start_time or 0,
            span.status.status_code is StatusCode.ERROR, tuple((span.attributes or {}).items()))


def record_of(span: Any) -> dict[str, Any]:
    """A finished span (an OpenTelemetry span, or its :func:`compact` tuple) as the plain, masked
    record aria_debugger keeps."""
    if not isinstance(span, tuple):
        span = compact(span)
    trace_id, span_id, parent_id, name, kind, start, end, error, items = span
    attrs = dict(items)
    if "rpc.method" in attrs:  # the constants left out at start (see _Span)
        attrs["rpc.system"] = "ray"
        attrs["rpc.service"] = attrs.get("peer.service") or attrs.get("aria.service")
    if "db.statement.name" in attrs:
        attrs["db.system"] = "postgresql"
    return {
        "trace_id": f"{trace_id:032x}", "span_id": f"{span_id:016x}",
        "parent_id": f"{parent_id:016x}" if parent_id else None,
        "name": _printable(name, 200), "service": str(attrs.get("aria.service", "")),
        "kind": kind.lower(), "start": start / 1e9, "duration_ms": round((end - start) / 1e6, 3),
        "status": "error" if error else "ok", "attributes": clean_attributes(attrs),
    }


def collect(after: Any = 0, limit: Any = 1000) -> dict[str, Any]:
    """The ``spans`` door: finished spans after cursor ``after`` (at most ``limit``), the next
    cursor, how many were missed, and ``boot`` (a cursor is only good for the same ``boot``)."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise BadRequest("after must be a cursor (an integer >= 0)", field="after")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_COLLECT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_COLLECT}", field="limit")
    if _ring is None:
        return {"boot": BOOT, "pid": os.getpid(), "enabled": enabled(), "spans": [], "next": 0, "missed": 0}
    spans, cursor, missed = _ring.since(after, limit)
    return {"boot": BOOT, "pid": os.getpid(), "enabled": enabled(), "spans": [record_of(s) for s in spans],
            "next": cursor,
            "missed": missed, "at": time.time()}
