"""aria_debugger's traces: every process's spans collected, kept, and served as trees.

Lifecycle::

    start   the collector runs every ``[tracing] collect_interval_s``: it opens the ``spans``
            door (runtime/tracing.py) of every service's shell from its cursor, keeps what it got
            in its own memory (the newest ``keep_traces`` traces) and writes it to PostgreSQL
            through aria_data (schema ``aria_debugger``, trace_store.py) when it can
    reads   ``traces`` (recent traces, newest first: filters service, min duration, limit) and
            ``trace`` (one trace's span tree); an unknown id first triggers one collection round
            (at most one a second), so a trace just made is found
    stop    the collector ends; memory is lost, PostgreSQL keeps ``retention_days``

Guarantees and caveats:
- The collection is never traced itself: it runs under ``tracing.untraced()`` (its door calls and
  its writes to PostgreSQL make no span anywhere), so reading spans makes no new ones.
- aria_data down (or its migrations not applied): collection goes on into memory and the reads
  answer from it (``source: "memory"``); the database is tried again each round.
- A span whose parent was never collected (its process died, its ring overflowed) shows as a
  root of the tree with its ``parent_id`` kept; ``missed`` counts spans rings dropped unread.
- Deny by default: both reads need ``debugger:trace:read@any`` (traces span tenants):
  administrators and operators in the built-in roles.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aria_actors.debugger.trace_store import MAX_SPANS_PER_TRACE, TraceStore
from aria_actors.runtime import tracing
from aria_actors.runtime.errors import AriaError, BadRequest, NotFound
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps

log = logging.getLogger("aria.debugger.traces")
if TYPE_CHECKING:
    from aria_actors.debugger.logstore import LogStore

DOOR_TIMEOUT_S = 5.0
PAGE = 2000             # spans read from one process in one door call
PAGES_PER_ROUND = 5     # the rest wait for the next round (one busy process does not starve the others)
MAX_LIMIT = 500
SCAN = 2000             # newest roots considered by a filtered listing
DB_TIMEOUT_S = 5.0
ON_DEMAND_EVERY_S = 1.0


def check_trace_id(value: Any) -> str:
    if not tracing.is_trace_id(value):
        raise BadRequest("a trace id is 32 lowercase hex digits, not all zero (the X-Trace-Id header of a response)",
                         field="trace_id")
    return value


def build_tree(spans: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans as trees: each node the span with its ``children`` (by start time); a span
    whose parent is not among them is a root. Duplicates (same span id) count once."""
    nodes: dict[str, dict[str, Any]] = {}
    for s in spans:
        nodes.setdefault(s["span_id"], {**s, "children": []})
    roots = []
    for node in sorted(nodes.values(), key=lambda n: n["start"]):
        parent = nodes.get(node.get("parent_id") or "")
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent["children"].append(node)
    return roots


def summarize(trace_id: str, spans: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One line of the listing: root name, start, duration (first start to last end), services, errors."""
    start = min(s["start"] for s in spans)
    end = max(s["start"] + s["duration_ms"] / 1000.0 for s in spans)
    roots = [s for s in spans if not s.get("parent_id")]
    root = min(roots, key=lambda s: s["start"]) if roots else min(spans, key=lambda s: s["start"])
    return {"trace_id": trace_id, "root": root["name"], "service": root["service"], "start": start,
            "duration_ms": round((end - start) * 1000.0, 3), "spans": len(spans),
            "services": sorted({s["service"] for s in spans}),
            "errors": sum(1 for s in spans if s.get("status") == "error"),
            "status": root.get("attributes", {}).get("http.response.status_code")}


def select(summaries: Iterable[dict[str, Any]], service: str | None, min_duration_ms: float | None,
           limit: int) -> list[dict[str, Any]]:
    out = [t for t in summaries
           if (service is None or service in t["services"])
           and (min_duration_ms is None or t["duration_ms"] >= min_duration_ms)]
    out.sort(key=lambda t: t["start"], reverse=True)
    return out[:limit]


class TraceBuffer:
    """The newest ``size`` traces in memory, by trace id (the oldest trace goes first), each of at
    most ``MAX_SPANS_PER_TRACE`` spans."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._traces: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()
        self.spans_dropped = 0

    def add(self, spans: Iterable[dict[str, Any]]) -> None:
        for s in spans:
            tid = s["trace_id"]
            trace = self._traces.get(tid)
            if trace is None:
                trace = self._traces[tid] = {}
                while len(self._traces) > self.size:
                    self._traces.popitem(last=False)
            if len(trace) >= MAX_SPANS_PER_TRACE and s["span_id"] not in trace:
                self.spans_dropped += 1
                continue
            trace[s["span_id"]] = s

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        return list(self._traces.get(trace_id, {}).values())

    def summaries(self) -> list[dict[str, Any]]:
        return [summarize(tid, list(spans.values())) for tid, spans in self._traces.items() if spans]

    def __len__(self) -> int:
        return len(self._traces)


class Traces:
    """The tracing part of DebuggerService (a base class of it): collector and reads."""

    settings: Any
    services: tuple[str, ...]
    deps: Deps

    if TYPE_CHECKING:
        async def _store(self, *, wait: bool) -> LogStore: ...  # LogSearch's (logs.py): the shared pool

    def _traces_init(self) -> None:
        cfg = self.settings.tracing
        self.trace_config = cfg
        self.trace_buffer = TraceBuffer(cfg.keep_traces)
        self._cursors: dict[str, tuple[str, int]] = {}  # service -> (boot, next cursor)
        self._trace_store: TraceStore | None = None
        self._trace_store_error: str | None = None
        self._trace_task: asyncio.Task[None] | None = None
        self._trace_lock = asyncio.Lock()
        self._trace_last_round = 0.0
        self.spans_collected = 0
        self.spans_missed = 0
        self._pruned_at = 0.0

    async def _traces_start(self) -> None:
        self._trace_task = periodic(self.trace_config.collect_interval_s, self.collect_spans,
                                    what="collecting spans", log=log)

    async def _traces_stop(self) -> None:
        await stop_task(self._trace_task)
        self._trace_task = None
        self._trace_store = None  # its pool is the log part's, which closes it

    def traces_health(self) -> dict[str, Any]:
        return {"traces": len(self.trace_buffer), "spans_collected": self.spans_collected,
                "spans_missed": self.spans_missed, "trace_store": self._trace_store is not None,
                "trace_store_error": self._trace_store_error}

    # -- collection --------------------------------------------------------------------------------
    async def collect_spans(self) -> int:
        """One round: every service's new spans into memory, then PostgreSQL; the spans got."""
        async with self._trace_lock:
            self._trace_last_round = time.monotonic()
            with tracing.untraced():  # nothing this round does is traced (no feedback loop)
                got = await asyncio.gather(*(self._trace_spans_of(n) for n in self.services))
                spans = [s for batch in got for s in batch]
                self.trace_buffer.add(spans)
                self.spans_collected += len(spans)
                await self._trace_persist(spans)
            return len(spans)

    async def _trace_spans_of(self, service: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        boot, cursor = self._cursors.get(service, ("", 0))
        for _ in range(PAGES_PER_ROUND):
            try:
                got = await self.deps.door(service, "spans", DOOR_TIMEOUT_S, after=cursor, limit=PAGE)
            except Exception as exc:  # down, restarting, or a shell without the door: next round
                log.debug("no spans from %s: %s", service, type(exc).__name__)
                break
            if got["boot"] != boot and cursor:  # another process now: from its first span
                boot, cursor = got["boot"], 0
                continue
            boot, cursor = got["boot"], int(got["next"])
            self.spans_missed += int(got.get("missed", 0))
            out.extend(got["spans"])
            if len(got["spans"]) < PAGE:
                break
        self._cursors[service] = (boot, cursor)
        return out

    async def _trace_store_open(self) -> TraceStore | None:
        """The trace store, on the pool the log part opens through aria_data (one pool and one
        migration run per process, connection retries paced there); None while it cannot be had."""
        if self._trace_store is not None:
            return self._trace_store
        if "aria_data" not in self.deps:
            return None
        try:
            logs = await self._store(wait=False)
        except AriaError as exc:
            self._trace_store_error = exc.type
            return None
        self._trace_store, self._trace_store_error = TraceStore(logs.db), None
        return self._trace_store

    async def _trace_persist(self, spans: list[dict[str, Any]]) -> None:
        store = await self._trace_store_open()
        if store is None:
            return
        try:
            async with asyncio.timeout(DB_TIMEOUT_S):
                await store.add(spans)
                if time.monotonic() - self._pruned_at > 600:
                    self._pruned_at = time.monotonic()
                    await store.prune(self.trace_config.retention_days * 86400.0)
        except Exception as exc:  # kept in memory; the next round writes its own spans
            self._trace_store_error = f"{type(exc).__name__}"
            log.warning("spans not stored in PostgreSQL: %s", type(exc).__name__)

    # -- reads -------------------------------------------------------------------------------------
    async def _trace_from_store(self, trace_ids: Sequence[str] | None) -> list[dict[str, Any]] | None:
        """The spans of ``trace_ids`` (None: of the newest roots) from PostgreSQL; None when it
        cannot answer."""
        store = self._trace_store
        if store is None:
            return None
        try:
            with tracing.untraced():
                async with asyncio.timeout(DB_TIMEOUT_S):
                    ids = list(trace_ids) if trace_ids is not None else await store.recent_trace_ids(SCAN)
                    return await store.spans_of(ids) if ids else []
        except Exception as exc:
            self._trace_store_error = f"{type(exc).__name__}"
            return None

    @rpc("debugger:trace:read", scope="any", feature="tracing")
    async def traces(self, caller: Principal, service: str | None = None, min_duration_ms: float | None = None,
                     limit: int = 20) -> dict[str, Any]:
        """Recent traces, newest first: root span, start, duration, span count, services, errors;
        only those touching ``service`` and lasting at least ``min_duration_ms``."""
        if service is not None:
            service = self._service(service)  # type: ignore[attr-defined]
        if min_duration_ms is not None and (isinstance(min_duration_ms, bool)
                                            or not isinstance(min_duration_ms, int | float)
                                            or not 0 <= min_duration_ms <= 86_400_000):
            raise BadRequest("min_duration_ms must be a number from 0 to 86400000", field="min_duration_ms")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}", field="limit")
        stored = await self._trace_from_store(None)
        if stored is None:
            summaries, source = self.trace_buffer.summaries(), "memory"
        else:
            by_trace: dict[str, list[dict[str, Any]]] = {}
            for s in stored:
                by_trace.setdefault(s["trace_id"], []).append(s)
            summaries, source = [summarize(t, spans) for t, spans in by_trace.items()], "database"
        return {"traces": select(summaries, service, min_duration_ms, limit), "source": source,
                "collected_every_s": self.trace_config.collect_interval_s}

    @rpc("debugger:trace:read", scope="any", feature="tracing")
    async def trace(self, caller: Principal, trace_id: str) -> dict[str, Any]:
        """One trace's spans as a tree: each span's name, service, parent, start, duration, status,
        kind and attributes, children by start time."""
        trace_id = check_trace_id(trace_id)
        spans, source = await self._trace_spans_for(trace_id)
        if not spans and time.monotonic() - self._trace_last_round >= ON_DEMAND_EVERY_S:
            await self.collect_spans()  # made a moment ago: not collected yet
            spans, source = await self._trace_spans_for(trace_id)
        if not spans:
            raise NotFound(f"no trace {trace_id} (not sampled, not collected yet, or past retention)",
                           trace_id=trace_id)
        return {**summarize(trace_id, spans), "source": source, "tree": build_tree(spans)}

    async def _trace_spans_for(self, trace_id: str) -> tuple[list[dict[str, Any]], str]:
        merged = {s["span_id"]: s for s in self.trace_buffer.spans(trace_id)}
        stored = await self._trace_from_store([trace_id])
        for s in stored or ():
            merged.setdefault(s["span_id"], s)
        return list(merged.values()), "memory" if stored is None else "database"
