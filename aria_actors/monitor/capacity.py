"""aria_monitor's cost insights and capacity planning: what each service uses against what it
reserves, and where the recorded growth leads.

    costs(window_s)               per service, from the window's points: CPU in cores (the rate of
                                  process_cpu_seconds_total), resident memory, RPC calls; against the
                                  spec's num_cpus / num_gpus and the node's totals ─► findings
    capacity(horizon_s, window_s) a least-squares line through the window's points of each service's
                                  resident memory, Aria's total memory and CPU, the history's series
                                  count and each queue's available jobs ─► slope per hour, value now and
                                  at now + horizon, seconds until the limit at that slope

Guarantees and caveats:
- Computed from the recorded history only, at the last collection's time (``at``: the newest
  data, not the wall clock); the window is ``[at - window_s, at]``, points older than the raw
  retention come from the one-minute summaries (``max`` for peaks, ``avg`` for means and fits,
  ``last`` for counters). Nothing is sampled on the request.
- CPU: per interval between two points, ``increase / seconds`` with Prometheus's counter-reset
  rule (a drop is a restart: the new value is the increase); the mean is the window's increase over
  its span (time-weighted), the peak the largest interval's rate. Fewer than two points: null.
- Memory: mean and peak of ``process_resident_memory_bytes`` over the window's points.
- The node is aria_monitor's (``psutil`` there: ``os.cpu_count()``, total and available memory,
  said in ``node.measured``). On a multi-node cluster every service is still compared with that
  node; the numbers are the process's own (a Serve deployment's door is one replica's, and
  processes a service starts itself, queue workers or planner actors, are not counted).
- Reservations are the specs' ``num_cpus`` / ``num_gpus`` (what the launcher asks Ray for). GPU
  use has no series: GPU reservations are reported, never judged.
- Findings, from those numbers only: ``over-reserved`` (reservation > OVER_RESERVED_FACTOR x peak
  cores), ``under-reserved`` (peak cores > reservation, reservation > 0), ``idle`` (read in the
  window, and no RPC call counted in it; a call series that appears inside the window started
  from zero, so its first value counts whole).
- Projections are straight lines (``intercept`` is the fitted value at ``at``; ``r2`` says how
  well it fits, null when the values do not vary). Time to exhaustion is null when there are
  fewer than MIN_FIT_POINTS points, when the slope is flat or falling, or when the series has no
  limit (queues), with the reason in ``reason``. Limits: node memory = the fitted value now + the
  node's available memory; node CPU = ``os.cpu_count()`` cores (as if they served Aria alone);
  the history's series = ``max_series``.
- The history's series count at a past time is counted from each kept series' first and last
  point (a series with a gap counts through it; series forgotten since no longer count).
- Bounded: windows 10 s .. the history kept, horizons 60 s .. 90 days; one pass over the
  window's points of the named families (and one over the history's series for their count).
"""

from __future__ import annotations

import bisect
import math
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import psutil

from aria_actors.monitor.collector import Collector
from aria_actors.monitor.config import MonitorSettings
from aria_actors.monitor.series import Labels, Point, SeriesStore
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc

MIN_WINDOW_S = 10.0
MIN_HORIZON_S = 60.0
MAX_HORIZON_S = 90 * 86400.0
MIN_FIT_POINTS = 3
OVER_RESERVED_FACTOR = 2.0
CPU = "process_cpu_seconds_total"
MEMORY = "process_resident_memory_bytes"
CALLS = "aria_rpc_calls_total"
QUEUE_JOBS = "aria_queue_jobs"


# -- the node ----------------------------------------------------------------------------------------
def node_resources() -> dict[str, Any]:
    """The totals of aria_monitor's own node, which every service is compared with."""
    vm = psutil.virtual_memory()
    return {"host": socket.gethostname(), "cpus": os.cpu_count() or 1, "memory_bytes": int(vm.total),
            "memory_available_bytes": int(vm.available),
            "measured": "psutil on aria_monitor's node (os.cpu_count(), virtual_memory()); services on "
                        "other nodes are compared with it too"}


# -- pure computation --------------------------------------------------------------------------------
def counter_deltas(points: Sequence[Point]) -> list[tuple[float, float, float]]:
    """``(t, seconds, increase)`` of each interval between two points of a counter; a drop is a
    reset (a restart), whose increase is the new value, as Prometheus counts it."""
    out = []
    for (t0, v0), (t1, v1) in pairwise(points):
        if t1 > t0:
            out.append((t1, t1 - t0, v1 - v0 if v1 >= v0 else v1))
    return out


def cpu_usage(points: Sequence[Point]) -> dict[str, Any]:
    """Cores a CPU-seconds counter shows over its points: the mean (time-weighted) and the peak
    interval; null with fewer than two points."""
    deltas = counter_deltas(points)
    if not deltas:
        return {"mean_cores": None, "peak_cores": None, "points": len(points)}
    span = math.fsum(dt for _, dt, _ in deltas)
    return {"mean_cores": math.fsum(inc for _, _, inc in deltas) / span,
            "peak_cores": max(inc / dt for _, dt, inc in deltas), "points": len(points)}


def gauge_usage(means: Sequence[Point], peaks: Sequence[Point]) -> dict[str, Any]:
    """Mean and peak of a gauge over its points (``peaks``: the same points, or the summaries' max)."""
    if not means:
        return {"mean_bytes": None, "peak_bytes": None, "points": 0}
    return {"mean_bytes": math.fsum(v for _, v in means) / len(means),
            "peak_bytes": max(v for _, v in peaks or means), "points": len(means)}


def calls_in(series: Iterable[Sequence[Point]], first_seen: float | None) -> float:
    """RPC calls counted over the window's points of a service's call counters; a series whose
    first point is later than the service's first (``first_seen``) appeared with its first call
    and counts from zero."""
    total = 0.0
    for pts in series:
        total += math.fsum(inc for _, _, inc in counter_deltas(pts))
        if pts and first_seen is not None and pts[0][0] > first_seen:
            total += pts[0][1]
    return total


def findings(rows: Sequence[dict[str, Any]], factor: float = OVER_RESERVED_FACTOR) -> list[dict[str, Any]]:
    """Over-reserved, under-reserved and idle services, from the rows :meth:`Capacity.costs` built."""
    out: list[dict[str, Any]] = []
    for row in rows:
        name, reserved, peak = row["service"], row["reservation"]["cpus"], row["cpu"]["peak_cores"]
        if peak is not None and reserved > factor * peak:
            out.append({"service": name, "finding": "over-reserved", "resource": "cpu", "reserved": reserved,
                        "peak": peak, "detail": f"reserves {reserved:g} CPUs, more than {factor:g} x its peak "
                                                f"use of {peak:.3f} cores"})
        if peak is not None and reserved > 0 and peak > reserved:
            out.append({"service": name, "finding": "under-reserved", "resource": "cpu", "reserved": reserved,
                        "peak": peak, "detail": f"peaked at {peak:.3f} cores, above its reservation of "
                                                f"{reserved:g} CPUs"})
        if row["calls"] == 0:
            out.append({"service": name, "finding": "idle", "resource": "rpc", "reserved": reserved, "peak": peak,
                        "detail": "no RPC call in the window"})
    return out


@dataclass(frozen=True, slots=True)
class Fit:
    """A least-squares line ``value = intercept + slope * (t - ref)``."""

    slope: float  # per second
    intercept: float  # the fitted value at ref
    r2: float | None  # None: the values do not vary
    points: int


def fit_line(points: Sequence[Point], ref: float) -> Fit | None:
    """The least-squares line through ``points`` (times relative to ``ref``); None under two
    points or when they share one time."""
    n = len(points)
    if n < 2:
        return None
    xs = [t - ref for t, _ in points]
    ys = [v for _, v in points]
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = math.fsum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = None if syy == 0 else min(1.0, sxy * sxy / (sxx * syy))
    return Fit(slope, my - slope * mx, r2, n)


def project(points: Sequence[Point], at: float, horizon_s: float, *, limit: float | None = None,
            headroom: float | None = None, limit_is: str | None = None) -> dict[str, Any]:
    """The line through ``points``, its value at ``at + horizon_s`` and the seconds until it reaches
    its limit: ``limit`` (an absolute value) or ``headroom`` (growth left from the fitted value now)."""
    n = len(points)
    out: dict[str, Any] = {"points": n, "slope_per_hour": None, "intercept": None, "r2": None,
                           "last": points[-1][1] if points else None, "projected": None, "limit": None,
                           "limit_is": limit_is, "exhausted_in_s": None, "reason": None}
    if n < MIN_FIT_POINTS:
        out["reason"] = f"too few points: {n} in the window, {MIN_FIT_POINTS} needed"
        return out
    fit = fit_line(points, at)
    if fit is None:
        out["reason"] = "the points share one time"
        return out
    out.update(slope_per_hour=fit.slope * 3600, intercept=fit.intercept, r2=fit.r2,
               projected=fit.intercept + fit.slope * horizon_s)
    if limit is None and headroom is not None:
        limit = fit.intercept + headroom
    if limit is None:
        out["reason"] = "no limit to exhaust"
        return out
    out["limit"] = limit
    if fit.slope == 0:
        out["reason"] = "flat: the limit is never reached at this slope"
    elif fit.slope < 0:
        out["reason"] = "falling: the limit is never reached at this slope"
    elif limit <= fit.intercept:
        out["exhausted_in_s"] = 0.0
        out["reason"] = "already at the limit"
    else:
        out["exhausted_in_s"] = (limit - fit.intercept) / fit.slope
    return out


def sum_by_time(series: Iterable[Iterable[Point]]) -> list[Point]:
    """Points of several series added at each time they share (a collection writes every
    service's series at one time)."""
    acc: dict[float, float] = {}
    for pts in series:
        for t, v in pts:
            acc[t] = acc.get(t, 0.0) + v
    return sorted(acc.items())


def rates_of(points: Sequence[Point]) -> list[Point]:
    """Each interval's rate of a counter, at the interval's end."""
    return [(t, inc / dt) for t, dt, inc in counter_deltas(points)]


def counts_at(lifetimes: Sequence[tuple[float, float]], times: Sequence[float]) -> list[Point]:
    """How many ``(first, last)`` lifetimes cover each of ``times``."""
    firsts = sorted(f for f, _ in lifetimes)
    lasts = sorted(last for _, last in lifetimes)
    return [(t, float(bisect.bisect_right(firsts, t) - bisect.bisect_left(lasts, t))) for t in times]


def _number(value: Any, field: str, lo: float, hi: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise BadRequest(f"{field} must be a number of seconds from {lo:g} to {hi:g} ({unit})", field=field)
    return float(value)


def _by_service(rows: list[tuple[Labels, list[Point]]]) -> dict[str, list[list[Point]]]:
    out: dict[str, list[list[Point]]] = {}
    for labels, pts in rows:
        out.setdefault(dict(labels).get("service", ""), []).append(pts)
    return out


def _lifetime(raw: Any, buckets: Any) -> tuple[float, float] | None:
    first = buckets[0].t if buckets else next((t for t, v in raw if v is not None), None)
    last = next((t for t, v in reversed(raw) if v is not None), None)
    if last is None and buckets:
        last = buckets[-1].t
    return None if first is None or last is None else (first, last)


# -- the RPC surface ---------------------------------------------------------------------------------
class Capacity:
    """Mixed into :class:`~aria_actors.monitor.service.MonitorService`: reads its history."""

    store: SeriesStore
    collector: Collector | None
    config: MonitorSettings

    def _capacity_at(self) -> float:
        last = self.collector.last if self.collector is not None else None
        return last.at if last is not None else time.time()

    def _capacity_window(self, window_s: Any) -> float:
        kept = max(self.store.retention_s, self.store.downsampled_retention_s)
        return _number(window_s, "window_s", MIN_WINDOW_S, kept, "the history kept")

    @rpc("monitor:metrics:read", scope="any", feature="cost-insights")
    async def costs(self, caller: Principal, window_s: float = 3600.0) -> dict[str, Any]:
        """Each service's CPU and memory over the window against its reservation and the node, with
        over-reserved, under-reserved and idle findings."""
        window = self._capacity_window(window_s)
        at = self._capacity_at()
        start = at - window
        node = node_resources()
        cpu = _by_service(self.store.range(CPU, None, start, at, "last"))
        mem_avg = _by_service(self.store.range(MEMORY, None, start, at, "avg"))
        mem_max = _by_service(self.store.range(MEMORY, None, start, at, "max"))
        calls = _by_service(self.store.range(CALLS, None, start, at, "last"))
        rows = []
        for spec in all_specs():
            name = spec.name
            cpu_pts = cpu.get(name, [])
            # one CPU counter per service process (its door): the longest, should a relabel ever add one
            use = cpu_usage(max(cpu_pts, key=len) if cpu_pts else [])
            mem = gauge_usage(sum_by_time(mem_avg.get(name, [])), sum_by_time(mem_max.get(name, [])))
            seen = [pts[0][0] for pts in cpu_pts + mem_avg.get(name, []) if pts]
            first_seen = min(seen) if seen else None
            n_calls = calls_in(calls.get(name, []), first_seen) if first_seen is not None else None
            rows.append({
                "service": name, "kind": spec.kind,
                "reservation": {"cpus": spec.num_cpus, "gpus": spec.num_gpus},
                "cpu": use, "memory": mem, "calls": n_calls,
                "share": {"cpu_reserved": spec.num_cpus / node["cpus"],
                          "cpu_mean": _ratio(use["mean_cores"], node["cpus"]),
                          "cpu_peak": _ratio(use["peak_cores"], node["cpus"]),
                          "memory_mean": _ratio(mem["mean_bytes"], node["memory_bytes"]),
                          "memory_peak": _ratio(mem["peak_bytes"], node["memory_bytes"])},
            })
        mean_cores = math.fsum(r["cpu"]["mean_cores"] or 0.0 for r in rows)
        mean_bytes = math.fsum(r["memory"]["mean_bytes"] or 0.0 for r in rows)
        totals = {"cpus_reserved": math.fsum(r["reservation"]["cpus"] for r in rows),
                  "gpus_reserved": math.fsum(r["reservation"]["gpus"] for r in rows),
                  "cpu_mean_cores": mean_cores, "memory_mean_bytes": mean_bytes,
                  "cpu_share": mean_cores / node["cpus"], "memory_share": mean_bytes / node["memory_bytes"]}
        return {"at": at, "window_s": window, "node": node, "services": rows, "totals": totals,
                "findings": findings(rows), "over_reserved_factor": OVER_RESERVED_FACTOR,
                "gpus": "reservations only: GPU use has no series, so GPU reservations are not judged"}

    @rpc("monitor:metrics:read", scope="any", feature="capacity-planning")
    async def capacity(self, caller: Principal, horizon_s: float = 86400.0,
                       window_s: float = 3600.0) -> dict[str, Any]:
        """Straight-line projections of each service's memory, Aria's memory and CPU, the history's
        series and each queue's backlog: slope per hour, value at now + horizon, time to the limit."""
        horizon = _number(horizon_s, "horizon_s", MIN_HORIZON_S, MAX_HORIZON_S, "60 s to 90 days")
        window = self._capacity_window(window_s)
        at = self._capacity_at()
        start = at - window
        node = node_resources()
        free = float(node["memory_available_bytes"])
        mem = _by_service(self.store.range(MEMORY, None, start, at, "avg"))
        names = [s.name for s in all_specs()]
        memory = {n: project(sum_by_time(mem.get(n, [])), at, horizon, headroom=free,
                             limit_is="the node's available memory added to the fitted value now")
                  for n in names}
        total_mem = sum_by_time(pts for n in names for pts in mem.get(n, []))
        cpu = _by_service(self.store.range(CPU, None, start, at, "last"))
        total_cpu = sum_by_time(rates_of(pts) for n in names for pts in cpu.get(n, []))
        queues: dict[str, list[list[Point]]] = {}
        for labels, pts in self.store.range(QUEUE_JOBS, lambda lb: lb.get("state") == "available", start, at, "avg"):
            queues.setdefault(dict(labels).get("queue", ""), []).append(pts)
        lifetimes = [life for _, s in self.store.match(None) if (life := _lifetime(s.raw, s.buckets)) is not None]
        times = sorted({t for _, pts in self.store.range("aria_scrape_up", None, start, at, "last") for t, _ in pts})
        return {
            "at": at, "window_s": window, "horizon_s": horizon, "node": node,
            "memory": memory,
            "total_memory": project(total_mem, at, horizon, headroom=free,
                                    limit_is="the node's available memory added to the fitted value now"),
            "cpu": project(total_cpu, at, horizon, limit=float(node["cpus"]),
                           limit_is="the node's cores (os.cpu_count()), as if they served Aria alone"),
            "series": {**project(counts_at(lifetimes, times), at, horizon, limit=float(self.store.max_series),
                                 limit_is="the history's max_series"), "now": len(self.store)},
            "queues": {q: project(sum_by_time(series), at, horizon) for q, series in sorted(queues.items())},
        }


def _ratio(value: float | None, total: float) -> float | None:
    return None if value is None else value / total
