"""One service process's own Prometheus series: RED per RPC method, and the process itself.

Every service actor and Serve replica is a process of its own with a registry of its own (the
default registry would also be read by Ray's metrics agent). Its shell counts every RPC call here
and renders the text on the shell's ``exposition`` door, with whatever the service adds
(``Service.exposition``); aria_monitor reads every door and merges the texts into one scrape
(``monitor/exposition.py``), adding ``service="…"``.

Label values are bounded by code, never by a caller: ``method`` is a declared RPC method of the
service (anything else counts as ``other``), ``outcome`` is ``ok``, ``cancelled`` (the caller went
away) or the stable ``type`` of an :class:`~aria_actors.runtime.errors.AriaError` (``internal`` for
anything else).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from prometheus_client import ProcessCollector

from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.metrics_text import Counter, Histogram, Registry

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0)
OTHER = "other"


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):  # the caller went away: not the service's error
        return "cancelled"
    cause = getattr(exc, "cause", None)  # an AriaError raised in another actor arrives wrapped
    if isinstance(cause, AriaError):
        exc = cause
    return exc.type if isinstance(exc, AriaError) else "internal"


class ServiceMetrics:
    """The counters one shell keeps; cheap to update (a dict lookup and a lock per call)."""

    def __init__(self, methods: Iterable[str]) -> None:
        self.methods = frozenset(methods)
        self.registry = Registry()  # metrics_text: rendered within the 1 ms a scrape may cost
        self.calls = Counter("aria_rpc_calls", "RPC calls served, by method and outcome",
                             ["method", "outcome"], registry=self.registry)
        self.seconds = Histogram("aria_rpc_seconds", "Time to serve an RPC call, by method",
                                 ["method"], buckets=BUCKETS, registry=self.registry)
        self.own_errors = Counter("aria_own_series_errors", "Reads of the service's own series that failed or "
                                  "timed out (its RPC and process series were still served)", ["error"],
                                  registry=self.registry)
        self.started = time.time()
        # process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, ...
        ProcessCollector(registry=self.registry)

    def observe(self, method: str, exc: BaseException | None, seconds: float) -> None:
        name = method if method in self.methods else OTHER
        self.calls.labels(name, outcome_of(exc)).inc()
        self.seconds.labels(name).observe(seconds)

    def own_series_failed(self, exc: BaseException) -> None:
        self.own_errors.labels(outcome_of(exc) if not isinstance(exc, TimeoutError) else "timeout").inc()

    def render(self) -> str:
        return self.registry.render()
