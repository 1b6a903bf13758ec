"""Per-route request analytics of the gateway, in memory: counts, errors and latency percentiles.

::

    record(method, route template, status, seconds)      one per request (ObserveRequests)
        -> (GET, /v1/storage/assets/{name:path}): count, 4xx, 5xx, ring of the last RESERVOIR
           (time, ms) samples
    snapshot(window_s) -> per route: totals since start, and p50/p95/p99 of the samples inside
                          the window                     (GET /v1/gateway/routes)

Guarantees and caveats
----------------------
- Memory is bounded: at most ``MAX_ROUTES`` (method, template) keys (then one ``other`` key),
  each with a ring of ``RESERVOIR`` samples. Keys are route templates, never raw paths, so a
  scanner probing random paths adds one ``unmatched`` key, and methods outside the HTTP set
  count as ``OTHER``.
- Percentiles are over the newest samples that fall inside the window: at more than
  ``RESERVOIR`` requests per window on one route the window is effectively the last
  ``RESERVOIR`` requests (``window.count`` says how many samples were used).
- Counts are per gateway replica and since its start; a restart or another replica starts at zero.
- Recording is O(1) and lock-free (one event loop); the percentiles are computed on read (numpy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RESERVOIR = 1024
MAX_ROUTES = 512
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(slots=True)
class RouteStats:
    count: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    # Ring of the newest samples: (monotonic time, milliseconds); `next` is the slot to overwrite.
    stamps: list[float] = field(default_factory=list)
    millis: list[float] = field(default_factory=list)
    next: int = 0

    def add(self, status: int, ms: float, now: float) -> None:
        self.count += 1
        if status >= 500:
            self.errors_5xx += 1
        elif status >= 400:
            self.errors_4xx += 1
        if len(self.millis) < RESERVOIR:
            self.stamps.append(now)
            self.millis.append(ms)
        else:
            self.stamps[self.next] = now
            self.millis[self.next] = ms
            self.next = (self.next + 1) % RESERVOIR


class RouteAnalytics:
    """Counts and latency samples per (method, route template); see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.routes: dict[tuple[str, str], RouteStats] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "OTHER", route)
        stats = self.routes.get(key)
        if stats is None:
            if len(self.routes) >= MAX_ROUTES:
                key = ("OTHER", "other")
            stats = self.routes.setdefault(key, RouteStats())
        stats.add(status, seconds * 1000.0, self.clock())

    def snapshot(self, window_s: float) -> dict[str, Any]:
        """Every route, busiest first: totals since start and the window's latency percentiles."""
        import numpy as np  # light: numpy only when the analytics are read, not per request

        now = self.clock()
        routes = []
        for (method, route), s in self.routes.items():
            recent = [ms for t, ms in zip(s.stamps, s.millis, strict=True) if now - t <= window_s]
            window: dict[str, Any] = {"count": len(recent)}
            if recent:
                p50, p95, p99 = np.percentile(np.asarray(recent), [50, 95, 99])
                window.update(p50_ms=round(float(p50), 3), p95_ms=round(float(p95), 3), p99_ms=round(float(p99), 3))
            routes.append({"method": method, "route": route, "count": s.count, "errors_4xx": s.errors_4xx,
                           "errors_5xx": s.errors_5xx, "window": window})
        routes.sort(key=lambda r: (-r["count"], r["route"], r["method"]))
        return {"window_s": window_s, "uptime_s": round(now - self.started, 3),
                "requests": sum(r["count"] for r in routes), "routes": routes}
