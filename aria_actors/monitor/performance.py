"""aria_monitor's performance views: how fast each route and RPC method answers, and where the time goes.

    performance(window_s)        per gateway route and per service RPC method: rate, error ratio,
                                 p50/p90/p99; per service: CPU (cores) and resident memory
    bottlenecks(window_s, limit) methods and routes ranked by the time spent in them (with their
                                 share of all of it), services by CPU, the slowest methods by p99

Both read the history (``self.store``) at the last collection's time, over ``[at - window_s, at]``,
with PromQL's own evaluator on expressions built in code (no label value is spliced into text):

- routes: the gateway's ``aria_http_requests_total{service="aria_coordinate"}`` (errors: ``code``
  5xx) and ``aria_http_request_seconds_*``, by ``method`` (HTTP) and ``route`` (the template);
- methods: every service's ``aria_rpc_calls_total`` (errors: ``outcome`` ``internal`` or
  ``service-unavailable``, the server's fault; a caller's bad request or missing permission is
  not) and ``aria_rpc_seconds_*``, by ``service`` and ``method``;
- services: ``rate(process_cpu_seconds_total)`` (cores) and ``process_resident_memory_bytes``.

Guarantees and caveats:
- Rates and increases are ``rate``/``increase`` (extrapolated, counter resets corrected); the
  quantiles are ``histogram_quantile`` over ``sum by (le, …) (increase(…_bucket[window]))``, with
  Prometheus's interpolation and edge cases (``promql.bucket_quantile``): an estimate no finer
  than the buckets (a rank in ``+Inf`` answers the highest finite bound), ``None`` where the
  window holds no observation. Mean = ``increase(_sum) / increase(_count)``.
- A row is listed only when it was called in the window (its increase is above 0); a counter
  needs two collections inside the window, so a window shorter than two collection intervals
  answers nothing.
- Shares are of all the time of their kind (methods' of every method's, routes' of every
  route's): a route's time includes the RPC calls it made, so the two are never added.
- A Serve deployment's door is one replica's (the gateway's included): with several replicas the
  counters are those of whichever replica answered, and a switch reads as a counter reset.
- Errors of the pure functions are :class:`BadRequest` naming the argument (``window_s`` between
  10 s and the raw history kept, ``limit`` 1..100).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aria_actors.monitor.promql import Aggregate, Call, Evaluator, Matcher, Selector, Vector
from aria_actors.monitor.series import SeriesStore
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from aria_actors.monitor.collector import Collector
    from aria_actors.monitor.config import MonitorSettings

GATEWAY = "aria_coordinate"
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
MIN_WINDOW_S = 10.0
MAX_LIMIT = 100
Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Family:
    """The series one kind of row is read from."""

    calls: str  # counter of calls, one series per outcome
    errors: Matcher  # which of those calls are errors
    histogram: str  # latency histogram: <name>_bucket, _sum, _count
    keys: tuple[str, ...]  # the labels that name a row
    where: tuple[Matcher, ...] = ()  # restricts every selector (the gateway's source)


ROUTES = Family("aria_http_requests_total", Matcher("code", "=~", "5.."), "aria_http_request_seconds",
                ("method", "route"), (Matcher("service", "=", GATEWAY),))
METHODS = Family("aria_rpc_calls_total", Matcher("outcome", "=~", "internal|service-unavailable"),
                 "aria_rpc_seconds", ("service", "method"))


# -- expressions built in code ----------------------------------------------------------------
def _range(func: str, name: str, matchers: Iterable[Matcher], window_s: float) -> Call:
    return Call(func, (Selector(name, tuple(matchers), range_s=window_s),), "vector")


def _sum_by(keys: tuple[str, ...], expr: Any) -> Aggregate:
    return Aggregate("sum", expr, keys)


def _by(vector: Vector, keys: tuple[str, ...]) -> dict[Key, float]:
    """A vector by the values of ``keys`` (each label set once: the vector is an aggregation by them)."""
    return {tuple(dict(labels).get(k, "") for k in keys): v for labels, v in vector}


def _number(v: float | None) -> float | None:
    """A value JSON can carry: NaN and infinities (no observation, nothing to divide) are None."""
    return v if v is not None and math.isfinite(v) else None


def _ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return _number(part / whole)


@dataclass(slots=True)
class Row:
    key: Key
    rate: float  # calls per second
    calls: float  # increase over the window
    errors: float  # increase of the error calls
    seconds: float  # increase of the histogram's _sum
    observed: float  # increase of the histogram's _count
    quantiles: dict[str, float | None]

    @property
    def error_ratio(self) -> float | None:
        return _ratio(self.errors, self.calls)

    @property
    def mean_s(self) -> float | None:
        return _ratio(self.seconds, self.observed)


def rows(store: SeriesStore, at: float, window_s: float, fam: Family) -> list[Row]:
    """Every row of ``fam`` called in ``[at - window_s, at]``, busiest first."""
    ev = Evaluator(store)
    keys, where = fam.keys, fam.where

    def by(func: str, name: str, *extra: Matcher) -> dict[Key, float]:
        return _by(ev.eval(_sum_by(keys, _range(func, name, (*where, *extra), window_s)), at), keys)

    calls = by("increase", fam.calls)
    rate = by("rate", fam.calls)
    errors = by("increase", fam.calls, fam.errors)
    seconds = by("increase", fam.histogram + "_sum")
    observed = by("increase", fam.histogram + "_count")
    buckets: Vector = ev.eval(_sum_by(("le", *keys), _range("increase", fam.histogram + "_bucket", where, window_s)),
                              at)
    quantiles = {label: _by(Evaluator.histogram_quantile(q, buckets), keys) for label, q in QUANTILES}
    out = [Row(k, rate.get(k, 0.0), n, errors.get(k, 0.0), seconds.get(k, 0.0), observed.get(k, 0.0),
               {label: _number(quantiles[label].get(k)) for label, _ in QUANTILES})
           for k, n in calls.items() if n > 0]
    return sorted(out, key=lambda r: (-r.rate, r.key))


@dataclass(slots=True)
class ServiceUse:
    service: str
    cpu_cores: float | None
    resident_bytes: float | None
    resident_max_bytes: float | None


def service_use(store: SeriesStore, at: float, window_s: float) -> list[ServiceUse]:
    """Each service's CPU (cores over the window) and resident memory (now, and its peak)."""
    ev = Evaluator(store)
    keys = ("service",)
    cpu = _by(ev.eval(_sum_by(keys, _range("rate", "process_cpu_seconds_total", (), window_s)), at), keys)
    rss = _by(ev.eval(_sum_by(keys, Selector("process_resident_memory_bytes", ())), at), keys)
    peak = _by(ev.eval(_sum_by(keys, _range("max_over_time", "process_resident_memory_bytes", (), window_s)), at),
               keys)
    names = sorted({k[0] for k in (*cpu, *rss, *peak) if k[0]})
    return [ServiceUse(n, _number(cpu.get((n,))), _number(rss.get((n,))), _number(peak.get((n,)))) for n in names]


def _named(fam: Family, key: Key) -> dict[str, str]:
    return dict(zip(fam.keys, key, strict=True))


def performance_view(store: SeriesStore, at: float | None, window_s: float) -> dict[str, Any]:
    """The answer of ``performance``: routes, methods, services (empty before the first collection)."""
    out: dict[str, Any] = {"at": at, "window_s": window_s, "routes": [], "methods": [], "services": []}
    if at is None:
        return out
    for name, fam in (("routes", ROUTES), ("methods", METHODS)):
        out[name] = [{**_named(fam, r.key), "rate": r.rate, "calls": r.calls, "error_ratio": r.error_ratio,
                      **r.quantiles, "mean_s": r.mean_s} for r in rows(store, at, window_s, fam)]
    out["services"] = [{"service": u.service, "cpu_cores": u.cpu_cores, "resident_memory_bytes": u.resident_bytes,
                        "resident_memory_max_bytes": u.resident_max_bytes}
                       for u in service_use(store, at, window_s)]
    return out


def _ranked_time(fam: Family, found: list[Row], limit: int) -> tuple[float, list[dict[str, Any]]]:
    spent = [r for r in found if r.seconds > 0]
    total = math.fsum(r.seconds for r in spent)
    ranked = sorted(spent, key=lambda r: (-r.seconds, r.key))[:limit]
    return total, [{**_named(fam, r.key), "seconds": r.seconds, "share": r.seconds / total, "calls": r.calls,
                    "mean_s": r.mean_s, "p99": r.quantiles["p99"]} for r in ranked]


def bottlenecks_view(store: SeriesStore, at: float | None, window_s: float, limit: int) -> dict[str, Any]:
    """The answer of ``bottlenecks``: where the time of the window went, busiest first."""
    out: dict[str, Any] = {"at": at, "window_s": window_s, "limit": limit, "methods_total_s": 0.0, "methods": [],
                           "routes_total_s": 0.0, "routes": [], "cpu_total_cores": 0.0, "services": [],
                           "slowest": []}
    if at is None:
        return out
    methods = rows(store, at, window_s, METHODS)
    out["methods_total_s"], out["methods"] = _ranked_time(METHODS, methods, limit)
    out["routes_total_s"], out["routes"] = _ranked_time(ROUTES, rows(store, at, window_s, ROUTES), limit)
    busy = [u for u in service_use(store, at, window_s) if u.cpu_cores]
    cpu = math.fsum(u.cpu_cores or 0.0 for u in busy)
    out["cpu_total_cores"] = cpu
    out["services"] = [{"service": u.service, "cpu_cores": u.cpu_cores, "share": (u.cpu_cores or 0.0) / cpu}
                       for u in sorted(busy, key=lambda u: (-(u.cpu_cores or 0.0), u.service))[:limit]]
    timed = [r for r in methods if r.quantiles["p99"] is not None]
    out["slowest"] = [{**_named(METHODS, r.key), "p99": r.quantiles["p99"], "p90": r.quantiles["p90"],
                       "mean_s": r.mean_s, "calls": r.calls}
                      for r in sorted(timed, key=lambda r: (-(r.quantiles["p99"] or 0.0), -r.seconds, r.key))[:limit]]
    return out


# -- arguments --------------------------------------------------------------------------------
def check_window(window_s: Any, retention_s: float) -> float:
    if isinstance(window_s, bool) or not isinstance(window_s, int | float) or not math.isfinite(window_s) \
            or not MIN_WINDOW_S <= window_s <= retention_s:
        raise BadRequest(f"window_s must be between {MIN_WINDOW_S:g} and {retention_s:g} seconds (the raw history "
                         f"kept)", field="window_s")
    return float(window_s)


def check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return limit


class Performance:
    """The mixin of :class:`~aria_actors.monitor.service.MonitorService` serving both views."""

    store: SeriesStore
    collector: Collector | None
    config: MonitorSettings

    def _last_at(self) -> float | None:
        last = self.collector.last if self.collector is not None else None
        return last.at if last is not None else None

    @rpc("monitor:metrics:read", scope="any", feature="performance")
    async def performance(self, caller: Principal, window_s: float = 300) -> dict[str, Any]:
        """Per route and RPC method: rate, error ratio, p50/p90/p99; per service: CPU and memory."""
        window = check_window(window_s, self.config.retention_s)
        return performance_view(self.store, self._last_at(), window)

    @rpc("monitor:metrics:read", scope="any", feature="bottlenecks")
    async def bottlenecks(self, caller: Principal, window_s: float = 300, limit: int = 10) -> dict[str, Any]:
        """Where the time goes: methods and routes by time spent, services by CPU, the slowest methods."""
        window = check_window(window_s, self.config.retention_s)
        return bottlenecks_view(self.store, self._last_at(), window, check_limit(limit))
