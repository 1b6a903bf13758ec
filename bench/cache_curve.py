"""What observing a cache costs its lookups, and what computing its curve costs aria_tune.

    python bench/cache_curve.py [--lookups 400000] [--rounds 7]

Lookups are those of an LRU dict (``OrderedDict`` get + ``move_to_end`` on a hit, insert and
evict on a miss: the shape of the engine's method cache and the gateway's token cache) over a
Zipf trace of string keys, with and without ``runtime.caches`` recording each one (a hit or miss
counted, the key hashed and kept in the trace when sampled). Rounds alternate so machine noise
hits both alike; the median round is reported.

Prints ``name: aria X, peer Y, ratio Z`` lines:
- ``cache_lookup_ns_rate_1_64`` / ``_rate_1_8`` / ``_rate_1``: ns per lookup, aria: recorded at that
  sampling rate, peer: not recorded;
- ``method_cache_order_ns``: the engine's ``MethodCache.order`` (its lock and key; half the lookups
  hit), aria: with its stats at the engine's rate 1/8, peer: without;
- ``cache_curve_ms``: the LRU hit-ratio curve of a 16,384-access sampled trace at 7 sizes, aria:
  stack distances (Fenwick tree) once, peer: a brute-force LRU simulation per size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aria_actors.runtime import caches


def _trace(n: int, keys: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    weights = [1 / (k + 1) ** 0.9 for k in range(keys)]
    names = [f"chunk-{k:08x}" for k in range(keys)]
    return [names[i] for i in rng.choices(range(keys), weights=weights, k=n)]


def _plain(trace: list[str], size: int) -> float:
    lru: OrderedDict[str, int] = OrderedDict()
    began = time.perf_counter()
    for key in trace:
        if lru.get(key) is not None:
            lru.move_to_end(key)
        else:
            lru[key] = 1
            if len(lru) > size:
                lru.popitem(last=False)
    return time.perf_counter() - began


def _recorded(trace: list[str], size: int, stats: caches.CacheStats) -> float:
    lru: OrderedDict[str, int] = OrderedDict()
    began = time.perf_counter()
    for key in trace:
        if lru.get(key) is not None:
            lru.move_to_end(key)
            stats.hit(key)
        else:
            stats.miss(key)
            lru[key] = 1
            if len(lru) > size:
                lru.popitem(last=False)
                stats.evicted()
    return time.perf_counter() - began


def _method_cache(rounds: int) -> None:
    """The engine's real MethodCache.order (its lock, its key) with and without its stats (rate 1/8)."""
    from aria_actors.engine.learning import MethodCache

    def m1() -> None: ...

    def m2() -> None: ...

    items = [("move", f"b{i}", f"b{i + 1}") for i in range(2000)]
    lookups = [items[i] for i in random.Random(2).choices(range(2000), k=100_000)]
    plain, recorded = MethodCache(max_entries=1000), MethodCache(
        max_entries=1000, stats=caches.CacheStats("bench", "bench", rate=1 / 8, partitioned=True), part=("t", "d"))
    for cache in (plain, recorded):
        for item in items[:1000]:
            cache._best[(item, None)] = "m2"
    times: dict[str, list[float]] = {"plain": [], "recorded": []}
    for _ in range(rounds):
        for name, cache in (("plain", plain), ("recorded", recorded)):
            began = time.perf_counter()
            for item in lookups:
                cache.order(item, None, [m1, m2])  # type: ignore[arg-type]
            times[name].append(time.perf_counter() - began)
    p, r = (statistics.median(times[k]) / len(lookups) * 1e9 for k in ("plain", "recorded"))
    print(f"method_cache_order_ns: aria {r:.1f}, peer {p:.1f}, ratio {r / p:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    trace = _trace(args.lookups, 50_000)
    size = 5_000
    for label, rate in (("1_64", 1 / 64), ("1_8", 1 / 8), ("1", 1.0)):
        plain, recorded = [], []
        for _ in range(args.rounds):
            plain.append(_plain(trace, size))
            recorded.append(_recorded(trace, size, caches.CacheStats("bench", "bench", rate=rate)))
        p, r = (statistics.median(x) / len(trace) * 1e9 for x in (plain, recorded))
        print(f"cache_lookup_ns_rate_{label}: aria {r:.1f}, peer {p:.1f}, ratio {r / p:.3f}")
    _method_cache(args.rounds)
    stats = caches.CacheStats("bench", "bench", rate=1 / 8, cap=caches.DEFAULT_CAP)
    for key in trace:
        stats.hit(key)
    snap = stats.snapshot()
    sizes = [round(size * f) for f in (0.125, 0.25, 0.5, 1, 2, 4, 8)]
    began = time.perf_counter()
    curve = caches.curve_of(snap["trace"], rate=snap["rate"], window=snap["window"])
    ratios = [curve.hit_ratio(s) for s in sizes]
    ours = time.perf_counter() - began
    ids = snap["trace"]
    began = time.perf_counter()
    brute = [caches.lru_hits(ids, max(1, round(s * snap["rate"]))) / len(ids) for s in sizes]
    theirs = time.perf_counter() - began
    print(f"cache_curve_ms: aria {ours * 1e3:.1f}, peer {theirs * 1e3:.1f}, ratio {ours / theirs:.3f}")
    window = trace[-snap["window"]:]  # the lookups the sample spans
    exact = [caches.lru_hits(window, s) / len(window) for s in sizes]
    worst = max(abs(a - b) for a, b in zip(ratios, exact, strict=True))
    print(f"# sampled curve vs exact LRU over the same {len(window)} lookups: worst error {worst * 100:.2f} "
          f"points at sizes {sizes} ({len(ids)} sampled accesses; the brute force on the sample alone, "
          f"unadjusted: {max(abs(a - b) for a, b in zip(brute, exact, strict=True)) * 100:.2f} points)")


if __name__ == "__main__":
    main()
