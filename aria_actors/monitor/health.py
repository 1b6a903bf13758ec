"""aria_monitor's health history and live dependency graph, read from the kept series.

    health_history(service?, window_s)  each service's status over the window: transitions, current,
                                        seconds per status, up share, restarts, scrape availability
    dependencies()                      every service with its status now, the ``depends_on`` edges
                                        with their state, what each service that is not up takes down

Both read what the collector already keeps: the gateway's ``aria_service_status{exported_service,
status}`` (1 for the boot actor's current status of each service, as the gateway's exposition
writes it), ``aria_service_restarts{exported_service}`` and the collector's own
``aria_scrape_up{service}``; nothing is asked of any service.

Guarantees and caveats:
- A service's status at a collection is the ``status`` whose series is 1 at that collection's
  time; a collection whose gateway read failed (``aria_scrape_up{service="aria_coordinate"} 0``)
  or that does not describe the service is ``unknown``. A status holds from its collection to the
  next; the window ends at the last collection (``at`` in the answer), not at the call.
- The status at the window's start is the last collection before it (looked back at most five
  minutes, as an instant selector reads it): seconds cover the window from there on
  (``observed_s``); when the history is younger than the window, ``observed_s`` says how much.
- Up is ``ready`` or ``not_implemented`` (a running service whose features are not all built);
  ``degraded`` is counted apart. ``up_share`` and ``degraded_share`` are shares of the time whose
  status is known (``unknown`` is left out of the denominator); None when none is.
- Restarts are the increase of the boot actor's restart count over the window (from the last
  value before it; a drop, a rebuilt boot actor, counts as a reset, as ``increase`` does), without
  ``increase``'s extrapolation: a whole number of restarts.
- The graph's edges are the specs' ``depends_on`` (``aria_actors.runtime.registry``), not calls
  seen: an edge is ``ok`` when the dependency is up, ``down`` when it is not (degraded included),
  ``unknown`` when its status is. A service whose status is unknown is in no blast radius.
- ``explained_by`` of a degraded service: the root causes among what it depends on, directly or
  not: services that are not up (and not unknown) none of whose own dependencies is down. Empty
  when it is degraded for a reason of its own.
- Past the raw points (``retention_s``, ``max_points`` per series) the history is the one-minute
  summaries' last values: a status or a transition between two summaries is not seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from aria_actors.monitor.series import SeriesStore
from aria_actors.runtime.errors import BadRequest, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.spec import ServiceSpec, Status

if TYPE_CHECKING:
    from aria_actors.monitor.collector import Collected

GATEWAY = "aria_coordinate"  # whose exposition describes every service's status
UP = frozenset({Status.READY.value, Status.NOT_IMPLEMENTED.value})
DEGRADED = Status.DEGRADED.value
UNKNOWN = "unknown"
MIN_WINDOW_S = 10.0
LOOKBACK_S = 300.0
# Two statuses at one collection (never from the gateway, which writes one 1 per service): the worse wins.
_RANK = {s: i for i, s in enumerate(("failed", "stopped", "starting", "pending", "degraded", "not_implemented",
                                     "ready"))}

Timeline = list[tuple[float, str]]


# -- pure computation ----------------------------------------------------------------------------
def is_up(status: str) -> bool:
    return status in UP


def is_down(status: str) -> bool:
    """Not up, and known (a status of ``unknown`` is neither)."""
    return status not in UP and status != UNKNOWN


def summarize(timeline: Sequence[tuple[float, str]], start: float, end: float) -> dict[str, Any]:
    """One service's status history over ``[start, end]`` from its ``(time, status)`` points in time
    order (at most one before ``start``: the status the window opens with)."""
    seconds: dict[str, float] = {}
    transitions = []
    for i, (t, status) in enumerate(timeline):
        until = timeline[i + 1][0] if i + 1 < len(timeline) else end
        held = min(until, end) - max(t, start)
        if held > 0:
            seconds[status] = seconds.get(status, 0.0) + held
        if i and status != timeline[i - 1][1] and start <= t <= end:
            transitions.append({"at": t, "from": timeline[i - 1][1], "to": status})
    observed = sum(seconds.values())
    known = observed - seconds.get(UNKNOWN, 0.0)
    up = sum(s for st, s in seconds.items() if st in UP)
    return {"current": timeline[-1][1] if timeline else UNKNOWN,
            "transitions": transitions,
            "seconds": {st: round(s, 6) for st, s in sorted(seconds.items())},
            "observed_s": round(observed, 6),
            "up_s": round(up, 6),
            "up_share": up / known if known > 0 else None,
            "degraded_share": seconds.get(DEGRADED, 0.0) / known if known > 0 else None}


def increase(points: Sequence[tuple[float, float]]) -> float:
    """A counter's increase over consecutive points, a drop counted as a reset (Prometheus's
    ``increase`` without the extrapolation to the window's ends)."""
    total = 0.0
    for (_, a), (_, b) in pairwise(points):
        total += b - a if b >= a else b
    return total


def _opening(points: Iterable[tuple[float, Any]], start: float) -> list[tuple[float, Any]]:
    """``points`` in time order from the last one before ``start`` on."""
    pts = list(points)
    before = [p for p in pts if p[0] < start]
    return before[-1:] + [p for p in pts if p[0] >= start]


def closure(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Every node reachable from ``start`` along ``edges`` (``start`` itself left out)."""
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        n = todo.pop()
        if n not in seen and n != start:
            seen.add(n)
            todo += edges.get(n, ())
    return seen


def dependency_graph(specs: Sequence[ServiceSpec], status: Mapping[str, str],
                     scrape_up: Mapping[str, bool | None]) -> dict[str, Any]:
    """The spec graph with each service's status: nodes, edges with their state, the blast radius
    of every service that is not up, and what explains each degraded one."""
    names = {s.name for s in specs}
    deps = {s.name: [d for d in s.depends_on if d in names] for s in specs}
    dependents: dict[str, list[str]] = {s.name: [] for s in specs}
    for name, ds in deps.items():
        for d in ds:
            dependents[d].append(name)
    st = {s.name: status.get(s.name, UNKNOWN) for s in specs}
    nodes = [{"name": s.name, "layer": s.layer, "kind": s.kind, "status": st[s.name], "up": is_up(st[s.name]),
              "scrape_up": scrape_up.get(s.name), "depends_on": deps[s.name],
              "dependents": sorted(dependents[s.name])} for s in specs]
    edges = [{"service": name, "dependency": d, "dependency_status": st[d],
              "state": "ok" if is_up(st[d]) else UNKNOWN if st[d] == UNKNOWN else "down"}
             for name, ds in deps.items() for d in ds]
    down = [n for n in st if is_down(st[n])]
    roots = [n for n in down if not any(is_down(st[d]) for d in deps[n])]
    blast = {n: sorted(closure(n, dependents)) for n in down}
    explained = {n: sorted(d for d in closure(n, deps) if d in roots) for n in st if st[n] == DEGRADED}
    return {"nodes": nodes, "edges": edges, "down": down, "root_causes": roots,
            "blast_radius": blast, "degraded": {n: {"explained_by": e} for n, e in explained.items()}}


# -- reading the store ---------------------------------------------------------------------------
def _worse(a: str | None, b: str) -> str:
    return b if a is None or _RANK.get(b, -1) < _RANK.get(a, -1) else a


def gateway_times(store: SeriesStore, start: float, end: float) -> list[float]:
    """The collections in ``[start - LOOKBACK_S, end]``: every one writes the gateway's ``aria_scrape_up``."""
    found = store.range("aria_scrape_up", lambda ls: ls.get("service") == GATEWAY, start - LOOKBACK_S, end, "last")
    return sorted({t for _, pts in found for t, _ in pts})


def status_points(store: SeriesStore, services: Iterable[str], start: float, end: float) -> dict[str, dict[float, str]]:
    """Each service's status at each collection in ``[start - LOOKBACK_S, end]`` whose gateway read described it."""
    wanted = set(services)
    out: dict[str, dict[float, str]] = {n: {} for n in wanted}
    found = store.range("aria_service_status",
                        lambda ls: ls.get("service") == GATEWAY and ls.get("exported_service") in wanted,
                        start - LOOKBACK_S, end, "last")
    for labels, pts in found:
        ls = dict(labels)
        at = out[ls["exported_service"]]
        for t, v in pts:
            if v == 1:
                at[t] = _worse(at.get(t), ls.get("status", UNKNOWN))
    return out


def service_history(store: SeriesStore, services: Sequence[str], start: float, end: float) -> list[dict[str, Any]]:
    """:func:`summarize`, restarts and scrape availability of each of ``services`` over ``[start, end]``."""
    times = _opening(((t, None) for t in gateway_times(store, start, end)), start)
    points = status_points(store, services, start, end)
    restarts = {dict(k).get("exported_service"): pts for k, pts in store.range(
        "aria_service_restarts", lambda ls: ls.get("service") == GATEWAY, start - LOOKBACK_S, end, "last")}
    wanted = set(services)
    scrapes = {dict(k).get("service"): pts for k, pts in store.range(
        "aria_scrape_up", lambda ls: ls.get("service") in wanted, start, end, "avg")}
    out = []
    for name in services:
        timeline = [(t, points[name].get(t, UNKNOWN)) for t, _ in times]
        counts = _opening(restarts.get(name, []), start)
        scraped = scrapes.get(name, [])
        out.append({"service": name, **summarize(timeline, start, end),
                    "restarts": round(increase(counts)),
                    "scrape_availability": sum(v for _, v in scraped) / len(scraped) if scraped else None,
                    "scrapes": len(scraped)})
    return out


def current_status(store: SeriesStore, services: Iterable[str], t: float) -> dict[str, str]:
    """Each service's status at ``t`` from the newest (not stale) gateway sample within five minutes."""
    out: dict[str, str] = {}
    for labels, v in store.instant("aria_service_status", lambda ls: ls.get("service") == GATEWAY, t, LOOKBACK_S):
        ls = dict(labels)
        if v == 1 and "exported_service" in ls:
            out[ls["exported_service"]] = _worse(out.get(ls["exported_service"]), ls.get("status", UNKNOWN))
    return {n: out.get(n, UNKNOWN) for n in services}


def window(value: Any, retention_s: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not MIN_WINDOW_S <= value <= retention_s:
        raise BadRequest(f"window_s must be seconds from {MIN_WINDOW_S:g} to the retention, {retention_s:g}",
                         field="window_s")
    return float(value)


# -- the RPC surface -------------------------------------------------------------------------------
class ServiceHealth:
    """Mixin of :class:`~aria_actors.monitor.service.MonitorService`: health history and the dependency graph
    (not named ``Health``: that is the runtime's health answer, which the service imports)."""

    store: SeriesStore
    config: Any
    collector: Any
    if TYPE_CHECKING:
        async def collect_once(self, t: float | None = None) -> Collected: ...  # MonitorService's

    async def _last_collection(self) -> float:
        """The time of the last collection (one is made when there is none yet)."""
        if self.collector is None:
            raise ServiceUnavailable("aria_monitor has not started collecting")
        last = self.collector.last
        return last.at if last is not None else (await self.collect_once()).at

    @rpc("monitor:metrics:read", scope="any", feature="system-health")
    async def health_history(self, caller: Principal, service: str | None = None,
                             window_s: float = 3600) -> dict[str, Any]:
        """Each service's status over the last ``window_s``: transitions, seconds per status, up share,
        restarts and scrape availability (one service when ``service`` names it)."""
        names = [s.name for s in all_specs()]
        if service is not None:
            if not isinstance(service, str):
                raise BadRequest("service must be a service's name", field="service")
            if service not in names:
                raise NotFound(f"no service named {service[:100]!r}", service=service[:100])
            names = [service]
        span = window(window_s, self.config.retention_s)
        end = await self._last_collection()
        return {"at": end, "window_s": span, "services": service_history(self.store, names, end - span, end)}

    @rpc("monitor:metrics:read", scope="any", feature="dependency-health")
    async def dependencies(self, caller: Principal) -> dict[str, Any]:
        """The live dependency graph: every service's status, the edges' state, and what each service
        that is not up takes down with it."""
        specs = list(all_specs())
        names = [s.name for s in specs]
        end = await self._last_collection()
        scraped = {dict(k).get("service", ""): v == 1 for k, v in
                   self.store.instant("aria_scrape_up", lambda ls: ls.get("service") in names, end, LOOKBACK_S)}
        return {"at": end, **dependency_graph(specs, current_status(self.store, names, end), scraped)}
