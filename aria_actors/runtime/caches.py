"""A process's caches, observed: counters and a sampled access trace each cache records, and the
LRU miss-ratio curve computed from that trace. Ray-free; read by aria_tune through the shell's
``caches`` door (runtime/shell.py; aria_tune alone may open it: introspect.READERS).

Lifecycle::

    a cache's constructor ─► register(name, service, unit, size, capacity, ...) ─► CacheStats
    every lookup ─► stats.hit(key) | stats.miss(key)   (+ stats.evicted(n) when it drops entries)
        counters += 1; the key is hashed, and kept in the trace when its hash falls in the
        sample (SHARDS: spatial sampling, the same keys always in or out)
    the caches door ─► snapshot(service): counters, size, capacity, the trace as dense ids
    aria_tune ─► curve(trace, parts, rate) (Mattson's stack distances over a Fenwick tree)

Guarantees and caveats:
- Cheap on the hot path: a counter, the key's hash (cached by Python for strings and bytes), a
  mask and a compare; 1 in ``1/rate`` keys also appends to two bounded deques
  (bench/cache_curve.py measures it against the uninstrumented lookup).
- The sample is the keys whose hash has its low 16 bits below ``rate * 65536``: Python's hashes
  of strings, bytes and tuples are well mixed (SipHash, xxHash), but a small int hashes to itself,
  so int keys would be sampled by value range: a cache keyed by ints wraps them in a tuple.
- Keys never leave the process: the trace holds their 64-bit hashes, and the door renumbers
  those densely (0, 1, 2 ... in order of first appearance) before they go out.
- Sampling is by key (SHARDS, Waldspurger et al., FAST '15), at a fixed ``rate``: a sampled key's
  every access is kept, so reuse distances in the sample are the true ones times ``rate`` and are
  scaled back by ``1/rate``; the difference between the accesses expected in the sample and
  those in it is counted as hits at distance 0 (SHARDS_adj), since one hot key in or out of the
  sample moves the whole curve. Which keys are sampled still matters at sizes that hold few
  sampled keys: at rate 1/16 on a Zipf trace of 20,000 string keys, over 7 hash seeds, the error
  was up to 8 points at 500 entries (31 sampled), 5 at 2,000 and 2.4 at 8,000. With ``rate`` 1
  the curve is exact over the trace window.
- The trace is the most recent ``cap`` sampled accesses (a window, not the whole history): the
  first access of a key in the window counts as a miss even when the key was used before the
  window began, so the curve errs low for small windows; ``first_seen`` says how many.
- Counters are plain ints bumped without a lock: threads may lose an increment now and then
  (CPython's ``+=`` on an attribute is not atomic); the deque append is atomic.
- Python's ``hash`` is randomised per process (PYTHONHASHSEED): ids from two processes, or two
  lives of one, never compare. Each process's trace stands alone.
- No library computes LRU miss-ratio curves from a trace in Python; :func:`stack_distances` is
  written here (O(n log n): a Fenwick tree over the last-access positions).
- A partitioned cache (one LRU per tenant and domain, as the engine's method caches) records the
  partition with each access: distances are counted within a partition and the capacity is
  per partition, so the curve is the sum of the partitions' curves.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

BUCKETS = 1 << 16  # the sample test compares the low 16 bits of the key's hash with rate * BUCKETS
DEFAULT_RATE = 1 / 64
DEFAULT_CAP = 16_384  # sampled accesses kept per cache
MAX_CAP = 1_000_000
INFINITE = -1  # the stack distance of a key's first access in the trace (a cold miss)

_lock = threading.Lock()
_registry: dict[str, CacheStats] = {}


@dataclass(eq=False)
class CacheStats:
    """One cache's counters and sampled trace. ``size()`` and ``capacity()`` are read at snapshot
    time only; ``resize`` (None: the size is not changeable at runtime) sets a new capacity."""

    name: str
    service: str
    unit: str = "entries"
    description: str = ""
    size: Callable[[], int | None] = lambda: None  # entries held now (None: not known cheaply)
    capacity: Callable[[], int | None] = lambda: None  # None: unbounded (nothing is evicted)
    setting: str | None = None  # the settings key (or constant) that sets the capacity
    resize: Callable[[int], None] | None = None
    partitioned: bool = False
    rate: float = DEFAULT_RATE
    cap: int = DEFAULT_CAP
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    trace: deque[Any] = field(default_factory=deque)
    seqs: deque[int] = field(default_factory=deque)  # the lookup number of each trace entry

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {self.rate}")
        if not 1 <= self.cap <= MAX_CAP:
            raise ValueError(f"cap must be 1..{MAX_CAP}, got {self.cap}")
        self.trace = deque(maxlen=self.cap)
        self.seqs = deque(maxlen=self.cap)
        self._threshold = round(self.rate * BUCKETS)  # rate 1: 65536, above every 16-bit bucket

    # -- the hot path ------------------------------------------------------------------------------
    # hit and miss repeat the sampling test rather than share a helper: one Python call less per lookup
    # (Python's own hash, unmixed: mixing it costs as much again as the rest of the record)
    def hit(self, key: Hashable, part: Hashable = None) -> None:
        self.hits += 1
        h = hash(key)
        if h & 0xFFFF < self._threshold:
            self._keep(h, part)

    def miss(self, key: Hashable, part: Hashable = None) -> None:
        self.misses += 1
        h = hash(key)
        if h & 0xFFFF < self._threshold:
            self._keep(h, part)

    def evicted(self, n: int = 1) -> None:
        self.evictions += n

    def _keep(self, h: int, part: Hashable) -> None:
        self.trace.append((hash(part), h) if self.partitioned else h)
        self.seqs.append(self.hits + self.misses)

    # -- reading -----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Counters, size, capacity and the trace renumbered densely (keys never leave)."""
        first = self.seqs[0] if self.seqs else None
        got = self.trace.copy()  # a copy first (atomic): lookups go on appending meanwhile
        lookups = self.hits + self.misses
        ids: dict[Any, int] = {}
        parts: dict[Any, int] = {}
        trace: list[int] = []
        owners: list[int] = []
        for entry in got:
            if self.partitioned:
                p, h = entry
                owners.append(parts.setdefault(p, len(parts)))
                h = (p, h)
            else:
                h = entry
            trace.append(ids.setdefault(h, len(ids)))
        try:
            size, capacity = self.size(), self.capacity()
        except Exception as exc:  # a cache being closed: its counters still answer
            size, capacity = 0, None
            error: str | None = f"{type(exc).__name__}"
        else:
            error = None
        return {"name": self.name, "service": self.service, "unit": self.unit, "description": self.description,
                "size": None if size is None else int(size),
                "capacity": None if capacity is None else int(capacity), "setting": self.setting,
                "resizable": self.resize is not None, "partitioned": self.partitioned,
                "partitions": len(parts) if self.partitioned else None,
                "hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "rate": self.rate, "cap": self.cap, "trace": trace,
                # lookups since the window's first sampled one: what SHARDS_adj scales against
                "window": 0 if first is None else max(len(trace), lookups - first + 1),
                "parts": owners if self.partitioned else None,
                **({"error": error} if error else {})}


def register(name: str, service: str, **kwargs: Any) -> CacheStats:
    """The stats of cache ``name`` of ``service`` in this process: made, or made again (its
    counters restart) when a new instance of the cache replaces the old one (a restarted store)."""
    stats = CacheStats(name, service, **kwargs)
    with _lock:
        _registry[name] = stats
    return stats


def unregister(stats: CacheStats) -> None:
    with _lock:
        if _registry.get(stats.name) is stats:
            del _registry[stats.name]


def registered(service: str | None = None) -> list[CacheStats]:
    with _lock:
        return [s for s in _registry.values() if service is None or s.service == service]


def snapshot(service: str | None = None) -> dict[str, Any]:
    """What the ``caches`` door answers: every cache of ``service`` in this process."""
    return {"caches": [s.snapshot() for s in registered(service)]}


def resize(service: str, name: str, size: int) -> dict[str, Any]:
    """Set cache ``name``'s capacity (the door's ``resize``); the before and after capacity."""
    from aria_actors.runtime.errors import BadRequest, Conflict, NotFound  # light: errors only

    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100_000_000:
        raise BadRequest("size must be an integer from 1 to 100000000", field="size")
    found = next((s for s in registered(service) if s.name == name), None)
    if found is None:
        raise NotFound(f"no cache {name!r} in {service}", cache=name)
    if found.resize is None:
        raise Conflict(f"cache {name!r} cannot be resized at runtime; set {found.setting or 'its size'}",
                       cache=name, setting=found.setting)
    before = found.capacity()
    found.resize(size)
    return {"name": name, "service": service, "before": before, "after": found.capacity()}


# -- the curve -------------------------------------------------------------------------------------
def stack_distances(trace: Sequence[Hashable]) -> list[int]:
    """Mattson's LRU stack distance of each access: the number of distinct other keys used since
    the key's previous access (a cache of that many entries plus one hits it), or ``INFINITE`` for
    a first access. A Fenwick tree holds a 1 at each key's latest position, so the distinct keys
    between two accesses are a range sum."""
    last: dict[Hashable, int] = {}
    n = len(trace)
    tree = [0] * (n + 1)  # the Fenwick tree, inlined: this loop is the whole cost of a curve
    out: list[int] = []
    for t, key in enumerate(trace):
        prev = last.get(key)
        if prev is None:
            out.append(INFINITE)
        else:
            # marks after prev = all marks (one per distinct key so far) - marks at 0..prev
            i, before = prev + 1, 0
            while i > 0:
                before += tree[i]
                i -= i & -i
            out.append(len(last) - before)
            i = prev + 1
            while i <= n:
                tree[i] -= 1
                i += i & -i
        i = t + 1
        while i <= n:
            tree[i] += 1
            i += i & -i
        last[key] = t
    return out


def partitioned_distances(trace: Sequence[Hashable], parts: Sequence[int] | None) -> list[int]:
    """Stack distances counted within each access's partition (one LRU per partition)."""
    if parts is None:
        return stack_distances(trace)
    if len(parts) != len(trace):
        raise ValueError("parts must be as long as the trace")
    split: dict[int, list[int]] = {}
    for i, p in enumerate(parts):
        split.setdefault(p, []).append(i)
    out = [INFINITE] * len(trace)
    for positions in split.values():
        for i, d in zip(positions, stack_distances([trace[i] for i in positions]), strict=True):
            out[i] = d
    return out


@dataclass(frozen=True)
class Curve:
    """Hit ratio of an LRU cache by capacity, from the scaled stack distances of a trace."""

    distances: tuple[float, ...]  # finite distances scaled by 1/rate, sorted
    accesses: int  # accesses in the trace, first accesses included
    adjust: float = 0.0  # SHARDS_adj: expected sampled accesses minus those sampled, counted as hits

    def hit_ratio(self, size: float) -> float:
        """The share of accesses an LRU of ``size`` entries (per partition) would hit: those whose
        distance is below it."""
        total = self.accesses + self.adjust
        if total <= 0 or size <= 0:
            return 0.0
        hits = bisect.bisect_left(self.distances, size) + self.adjust
        return min(1.0, max(0.0, hits / total))


def curve_of(trace: Sequence[Hashable], parts: Sequence[int] | None = None, rate: float = 1.0,
             window: int | None = None) -> Curve:
    """The curve of a sampled trace. ``window``: the lookups the trace spans, sampled or not; given
    with ``rate`` < 1, the difference between the accesses expected in the sample (``window *
    rate``) and those in it is counted at distance 0 (SHARDS_adj, Waldspurger et al.): a hot key
    in or out of the sample otherwise moves the whole curve."""
    dist = partitioned_distances(trace, parts)
    adjust = 0.0 if window is None or rate >= 1 else window * rate - len(trace)
    return Curve(tuple(sorted(d / rate for d in dist if d != INFINITE)), len(trace), adjust)


def working_set(trace: Iterable[Hashable], rate: float = 1.0) -> int:
    """Distinct keys in the trace, scaled to the whole key space (the size that holds them all)."""
    return round(len(set(trace)) / rate)


def lru_hits(trace: Sequence[Hashable], size: int) -> int:
    """Hits of an LRU of ``size`` entries over ``trace``, simulated: the brute-force check of
    :func:`stack_distances` (tests only; O(n) per size)."""
    lru: OrderedDict[Hashable, None] = OrderedDict()
    hits = 0
    for key in trace:
        if key in lru:
            hits += 1
            lru.move_to_end(key)
        else:
            lru[key] = None
            if len(lru) > size:
                lru.popitem(last=False)
    return hits


def door(service: str, action: str = "read", cache: str | None = None, size: int | None = None) -> dict[str, Any]:
    """The ``caches`` door of ``service``'s shell: ``read`` (every cache of it here) or ``resize``."""
    from aria_actors.runtime.errors import BadRequest  # light: errors only

    if action == "read":
        return snapshot(service)
    if action == "resize":
        if not isinstance(cache, str):
            raise BadRequest("resize needs a cache name", field="cache")
        return resize(service, cache, size)  # type: ignore[arg-type]  (checked there)
    raise BadRequest("action must be read or resize", field="action")
