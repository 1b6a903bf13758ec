"""aria_tune's caching strategy optimisation (feature ``cache-optimization``): every service's
caches, their LRU hit-ratio curves and a proposed size for each.

::

    list_caches / get_cache(name)
        -> door "caches" of every service (runtime/caches.py; aria_tune alone may open it), at once
        -> per cache: counters, the sampled trace -> stack distances -> hit ratio at 1/8x..8x of
           the reference size (its capacity; the working set when it has no bound)
        -> proposal: the smallest size within ``cache_tolerance_pp`` of the curve's best, or the
           knee past which no doubling gains ``cache_knee_gain_pp``, whichever is smaller
    resize_cache(name, size)   administrators (tune:cache:apply@any), audited in aria_security
        -> door "caches" action resize of the service holding it (a cache resizable at runtime)

Guarantees and caveats
----------------------
- Computed on demand, not stored: a curve is of the live process's recent trace (its window is
  ``cap`` sampled accesses) and its counters restart with the process, so a stored proposal would
  describe a process that may be gone; each call reads the processes as they are now. A resize is
  recorded in aria_security's audit log (who, which cache, from what to what).
- A service that is down or slow is listed under ``unreachable`` and its caches are absent; the
  others answer. An unknown cache name is a 404 (``tune-unknown-cache``).
- Hit ratios from the curve are of the trace window (cold first accesses count as misses); the
  measured ratio (hits / lookups since the process started) is shown beside them.
- A resize lasts for the process's life: the proposal names the setting that keeps it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
from typing import Any, ClassVar

from aria_actors.runtime import caches
from aria_actors.runtime.errors import AriaError, BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps
from aria_actors.security.client import SecurityClient
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import UnknownCache

log = logging.getLogger("aria.tune.caches")
FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DETAIL_POINTS = 33  # points of the curve one cache's view shows (log-spaced over 1/8x..8x)
CACHE_NAME = r"^[a-z][a-z0-9_.-]{0,63}$"
MAX_SIZE = 100_000_000
MIN_ADJUSTED = 256  # sampled accesses from which the curve is SHARDS_adj-corrected
ME = Principal.internal("aria_tune")  # aria_tune recording its audit events


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(CACHE_NAME, name):
        raise BadRequest("a cache name is 1-64 lowercase letters, digits and ._- (a letter first)", field="name")
    return name


def _sizes(reference: float, points: int | None = None) -> list[int]:
    if points is None:
        grid = [reference * f for f in FACTORS]
    else:
        grid = [reference * 2 ** (-3 + 6 * i / (points - 1)) for i in range(points)]
    return sorted({max(1, round(s)) for s in grid})


def analyse(snap: dict[str, Any], tolerance_pp: float, knee_gain_pp: float, detail: bool = False) -> dict[str, Any]:
    """One cache's view from its door snapshot: counters, the curve, and the proposed size."""
    trace, rate = snap.get("trace") or [], float(snap.get("rate") or 1.0)
    lookups = int(snap["hits"]) + int(snap["misses"])
    capacity = snap.get("capacity")
    view: dict[str, Any] = {k: snap.get(k) for k in ("name", "service", "unit", "description", "size", "capacity",
                                                    "setting", "resizable", "partitioned", "partitions", "hits",
                                                    "misses", "evictions", "rate")}
    view["measured_hit_ratio"] = None if lookups == 0 else round(int(snap["hits"]) / lookups, 6)
    view["sampled"] = len(trace)
    if not trace:
        view.update(reference=None, curve=[], proposal=None, note="no sampled accesses yet")
        return view
    parts = snap.get("parts")
    # SHARDS_adj corrects a large sample for the hot keys it holds or misses; on a few accesses the
    # correction is larger than what it corrects, so a small sample goes unadjusted (and says so)
    small = len(trace) < MIN_ADJUSTED
    curve = caches.curve_of(trace, parts, rate, None if small else snap.get("window"))
    if small and rate < 1:
        view["note"] = f"only {len(trace)} sampled accesses: a rough curve (not adjusted)"
    if capacity:
        reference, basis = float(capacity), "capacity"
    else:
        # unbounded (or absent): the working set, per partition when each partition is one LRU
        ws = caches.working_set(zip(parts, trace, strict=True) if parts else trace, rate)
        reference, basis = max(1.0, ws / max(1, len(set(parts))) if parts else ws), "working set"
    view["reference"] = {"size": round(reference), "basis": basis}
    grid = _sizes(reference, DETAIL_POINTS if detail else None)
    view["curve"] = [{"size": s, "hit_ratio": round(curve.hit_ratio(s), 6)} for s in grid]
    view["proposal"] = propose(curve, reference, tolerance_pp, knee_gain_pp, snap)
    return view


def propose(curve: caches.Curve, reference: float, tolerance_pp: float, knee_gain_pp: float,
            snap: dict[str, Any]) -> dict[str, Any]:
    """The smallest size in 1/8x..8x of ``reference`` whose hit ratio is within ``tolerance_pp``
    of the best there, or the knee of the doubling grid (doubling gains under ``knee_gain_pp``)
    when that is smaller."""
    low, high = max(1, math.floor(reference / 8)), max(1, math.ceil(reference * 8))
    best = curve.hit_ratio(high)
    # The hit ratio steps up just above each scaled distance: the k-th smallest distance d is
    # hit by any size above d, so the smallest size reaching k hits is floor(d) + 1.
    # (SHARDS_adj's adjustment counts as hits at every size: only the rest need a distance)
    total = curve.accesses + curve.adjust
    need = math.ceil(max(0.0, best - tolerance_pp / 100) * total - curve.adjust - 1e-9)
    need = min(need, len(curve.distances))
    within = low if need <= 0 else max(low, min(high, math.floor(curve.distances[need - 1]) + 1))
    # The knee: past it, no doubling of the grid gains knee_gain_pp (a cliff further up, as a loop
    # just larger than the cache makes, moves the knee past the cliff).
    grid = _sizes(reference)
    knee, reason = grid[0], "within tolerance of the best"
    for a, b in itertools.pairwise(grid):
        if (curve.hit_ratio(b) - curve.hit_ratio(a)) * 100 >= knee_gain_pp * math.log2(b / a):
            knee = b
    size = within
    if knee < within:
        size, reason = knee, f"the knee: doubling gains under {knee_gain_pp:g} pp"
    current = snap.get("capacity") or None
    setting = snap.get("setting")
    return {"size": size, "reason": reason, "hit_ratio": round(curve.hit_ratio(size), 6),
            "current_hit_ratio": None if current is None else round(curve.hit_ratio(current), 6),
            "best_hit_ratio": round(best, 6), "within_tolerance": within, "knee": knee,
            "change": None if current is None else size - int(current),
            "apply": ("POST /v1/tune/caches/{name}/resize (until the process restarts; "
                      f"then {setting})" if snap.get("resizable") else f"set {setting}" if setting else
                      "not settable").replace("{name}", str(snap.get("name")))}


async def _audit(deps: Deps, caller: Principal, op: str, target: str, outcome: str = "ok") -> None:
    """Record ``op`` in aria_security's audit log; an ``ok`` event that cannot be recorded stops the
    change (503), a later ``error`` event is best effort (as aria_debugger's doors do)."""

    event = {"op": op, "target": target[:300], "outcome": outcome, "subject": caller.subject[:120]}
    try:
        await deps.of(SecurityClient).record_events(ME, [event])
    except Exception as exc:
        if outcome != "ok":
            log.warning("cannot audit %s %s (%s): %s", op, target, outcome, type(exc).__name__)
            return
        raise ServiceUnavailable(f"{op} was not done: aria_security did not record it in the audit log "
                                 f"({type(exc).__name__})", service="aria_security") from None


class CacheOptimization:
    """The mixin of :class:`~aria_actors.tune.service.TuneService` serving the cache views."""

    config: TuneSettings
    deps: Deps
    SERVICES: ClassVar[tuple[str, ...]] = ()  # all services by default (a test narrows it)

    def _cache_services(self) -> tuple[str, ...]:
        return self.SERVICES or tuple(s.name for s in all_specs())

    async def _cache_door(self, service: str, **kwargs: Any) -> Any:
        try:
            return await self.deps.door(service, "caches", self.config.cache_door_timeout_s, **kwargs)
        except Exception as exc:
            cause = getattr(exc, "cause", None)  # an AriaError raised in the other process, wrapped by Ray
            if isinstance(cause, AriaError):
                raise cause from None
            raise

    async def _snapshots(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        names = self._cache_services()
        got = await asyncio.gather(*(self._cache_door(n) for n in names), return_exceptions=True)
        found: list[dict[str, Any]] = []
        unreachable: dict[str, str] = {}
        for name, snap in zip(names, got, strict=True):
            if isinstance(snap, BaseException):
                unreachable[name] = getattr(snap, "message", None) or type(snap).__name__
                continue
            found.extend(c for c in snap.get("caches", ()) if c.get("service") == name)
        return found, unreachable

    def _analyse(self, snap: dict[str, Any], detail: bool = False) -> dict[str, Any]:
        return analyse(snap, self.config.cache_tolerance_pp, self.config.cache_knee_gain_pp, detail)

    @rpc("tune:cache:read", scope="any", feature="cache-optimization")
    async def list_caches(self, caller: Principal) -> dict[str, Any]:
        """Every service's caches: size, capacity, hits, misses, evictions, the LRU hit-ratio curve at
        1/8x..8x of the reference size and the proposed size. Computed now, from the live processes."""
        found, unreachable = await self._snapshots()
        views = await asyncio.to_thread(lambda: [self._analyse(s) for s in found])
        return {"caches": sorted(views, key=lambda v: (v["service"], v["name"])), "unreachable": unreachable}

    @rpc("tune:cache:read", scope="any", feature="cache-optimization")
    async def get_cache(self, caller: Principal, name: str) -> dict[str, Any]:
        """One cache's view with a finer curve (33 points over 1/8x..8x)."""
        name = _check_name(name)
        found, unreachable = await self._snapshots()
        snap = next((s for s in found if s["name"] == name), None)
        if snap is None:
            raise UnknownCache(f"no cache named {name!r}" + (f" (unreachable now: {sorted(unreachable)})"
                                                             if unreachable else ""), name=name)
        return await asyncio.to_thread(self._analyse, snap, True)

    @rpc("tune:cache:apply", scope="any", feature="cache-optimization")
    async def resize_cache(self, caller: Principal, name: str, size: int) -> dict[str, Any]:
        """Set a cache's capacity in its process (caches resizable at runtime only; a 409 names the
        setting otherwise). Audited; lasts until the process restarts."""
        name = _check_name(name)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise BadRequest(f"size must be an integer from 1 to {MAX_SIZE}", field="size")
        found, _ = await self._snapshots()
        snap = next((s for s in found if s["name"] == name), None)
        if snap is None:
            raise UnknownCache(f"no cache named {name!r}", name=name)
        target = f"{snap['service']}/{name} {snap.get('capacity')} -> {size}"
        await _audit(self.deps, caller, "tune.cache.resize", target)
        try:
            got = await self._cache_door(snap["service"], action="resize", cache=name, size=size)
        except Exception as exc:
            await _audit(self.deps, caller, "tune.cache.resize", target, outcome="error")
            if isinstance(exc, AriaError):
                raise
            raise ServiceUnavailable(f"{snap['service']}'s caches door failed: {type(exc).__name__}",
                                     service=snap["service"]) from None
        return got
