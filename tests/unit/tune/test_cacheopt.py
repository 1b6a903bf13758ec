"""Cache proposals: the LRU curve from stack distances matches a brute-force LRU simulation (exactly
at sampling rate 1, closely with SHARDS sampling), partitions count separately, the proposal picks
the smallest size near the best, and aria_tune's part reads the caches door, answers 404 for an
unknown cache and resizes (audited) only what is resizable. The real caches (chunk, method, token)
record their lookups."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime import caches, introspect
from aria_actors.runtime.errors import BadRequest, Conflict, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.tune.cacheopt import CacheOptimization, analyse
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import UnknownCache

ADMIN = Principal("ada", roles=("admin",))


def _zipf_trace(rng: random.Random, n: int, keys: int, skew: float = 1.1) -> list[int]:
    weights = [1 / (k + 1) ** skew for k in range(keys)]
    return rng.choices(range(keys), weights=weights, k=n)


@pytest.mark.parametrize("seed", range(8))
def test_stack_distances_give_the_hits_of_a_simulated_lru_exactly(seed: int) -> None:
    rng = random.Random(seed)
    trace = _zipf_trace(rng, rng.randint(1, 3000), rng.randint(1, 400), rng.choice((0.0, 0.8, 1.3)))
    curve = caches.curve_of(trace)
    for size in (1, 2, 3, 5, 8, 13, 50, 100, 399, 1000):
        assert round(curve.hit_ratio(size) * len(trace)) == caches.lru_hits(trace, size), size


def test_a_registered_cache_at_rate_one_records_the_whole_trace() -> None:
    stats = caches.register("t-rate-one", "svc-test", rate=1.0, cap=10_000)
    try:
        rng = random.Random(3)
        trace = [f"key-{k}" for k in _zipf_trace(rng, 2000, 300)]
        for key in trace:
            stats.miss(key)
        snap = caches.snapshot("svc-test")["caches"][0]
        assert snap["misses"] == 2000 and len(snap["trace"]) == 2000
        assert all(isinstance(i, int) for i in snap["trace"])  # keys never leave: dense ids
        curve = caches.curve_of(snap["trace"])
        for size in (4, 16, 64, 256):
            assert round(curve.hit_ratio(size) * 2000) == caches.lru_hits(trace, size)
    finally:
        caches.unregister(stats)


def test_shards_sampling_estimates_the_curve() -> None:
    rng = random.Random(11)
    # tuples of ints: hashes well mixed (xxHash) and the same in every process (a str's is not),
    # so the sampled keys, and the error, are the same on every run
    trace = [(k,) for k in _zipf_trace(rng, 200_000, 20_000, 0.9)]
    stats = caches.CacheStats("t-sampled", "svc-test", rate=1 / 16, cap=100_000)
    for key in trace:
        stats.hit(key)
    keys = len(set(stats.trace))  # spatial: about 1 key in 16 (its accesses follow: hot keys weigh)
    assert 20_000 / 16 * 0.8 < keys < 20_000 / 16 * 1.2
    snap = stats.snapshot()
    assert snap["window"] > 190_000  # from the first sampled lookup on
    curve = caches.curve_of(snap["trace"], rate=1 / 16, window=snap["window"])
    for size in (500, 2000, 8000):  # SHARDS_adj: within 2 points (about 1 in four seeds tried)
        exact = caches.lru_hits(trace, size) / len(trace)
        assert abs(curve.hit_ratio(size) - exact) < 0.02, (size, curve.hit_ratio(size), exact)


def test_the_trace_is_bounded_to_its_cap() -> None:
    stats = caches.CacheStats("t-cap", "svc-test", rate=1.0, cap=100)
    for i in range(1000):
        stats.miss(i)
    assert len(stats.trace) == 100 and stats.misses == 1000


def test_partitions_are_separate_lrus_of_the_capacity_each() -> None:
    rng = random.Random(5)
    stats = caches.CacheStats("t-parts", "svc-test", rate=1.0, cap=50_000, partitioned=True)
    per_part: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    for _ in range(6000):
        part = rng.choice("abc")
        key = rng.randrange(60 if part == "a" else 200)
        per_part[part].append(key)
        stats.hit(key, part)
    snap = stats.snapshot()
    assert snap["partitions"] == 3
    curve = caches.curve_of(snap["trace"], snap["parts"])
    for size in (10, 50, 100):
        expected = sum(caches.lru_hits(t, size) for t in per_part.values())
        assert round(curve.hit_ratio(size) * 6000) == expected


def test_the_proposal_is_the_smallest_size_within_tolerance_of_the_best() -> None:
    # 100 keys in a loop: an LRU below 100 entries never hits, 100 or more hits all but the first round
    trace = list(range(100)) * 20
    snap = {"name": "loop", "service": "svc", "unit": "entries", "size": 400, "capacity": 400, "hits": 0,
            "misses": 2000, "evictions": 0, "rate": 1.0, "trace": trace, "parts": None, "resizable": True,
            "setting": "svc.loop_size"}
    view = analyse(snap, tolerance_pp=1.0, knee_gain_pp=0.5)
    assert [p["size"] for p in view["curve"]] == [50, 100, 200, 400, 800, 1600, 3200]
    assert view["curve"][0]["hit_ratio"] == 0.0 and view["curve"][1]["hit_ratio"] == pytest.approx(0.95)
    proposal = view["proposal"]
    assert proposal["size"] == 100 and proposal["change"] == -300
    assert proposal["hit_ratio"] == pytest.approx(0.95) and proposal["current_hit_ratio"] == pytest.approx(0.95)
    assert "resize" in proposal["apply"] and "svc.loop_size" in proposal["apply"]


def test_an_unbounded_cache_is_measured_against_its_working_set() -> None:
    trace = list(range(40)) * 5
    snap = {"name": "disk", "service": "svc", "unit": "chunks", "size": None, "capacity": None, "hits": 5,
            "misses": 195, "evictions": 0, "rate": 1.0, "trace": trace, "parts": None, "resizable": False,
            "setting": "svc.dir"}
    view = analyse(snap, 1.0, 0.5)
    assert view["reference"] == {"size": 40, "basis": "working set"}
    assert view["proposal"]["size"] == 40 and view["proposal"]["apply"] == "set svc.dir"
    assert view["measured_hit_ratio"] == pytest.approx(0.025)
    empty = analyse({**snap, "trace": []}, 1.0, 0.5)
    assert empty["proposal"] is None and empty["curve"] == []


def test_only_aria_tune_opens_the_caches_door() -> None:
    introspect.check_door("aria_tune", "caches")
    for reader in ("aria_monitor", "aria_debugger", "aria_engine"):
        with pytest.raises(Forbidden):
            introspect.check_door(reader, "caches")


def test_the_door_resizes_only_resizable_caches() -> None:
    sizes = {"cap": 10}
    fixed = caches.register("t-fixed", "svc-door", capacity=lambda: 5, setting="svc.fixed")
    live = caches.register("t-live", "svc-door", capacity=lambda: sizes["cap"],
                           resize=lambda n: sizes.__setitem__("cap", n))
    try:
        assert caches.door("svc-door", "resize", "t-live", 20) == {"name": "t-live", "service": "svc-door",
                                                                   "before": 10, "after": 20}
        with pytest.raises(Conflict, match=r"svc\.fixed"):
            caches.door("svc-door", "resize", "t-fixed", 20)
        with pytest.raises(BadRequest):
            caches.door("svc-door", "resize", "t-live", 0)
        with pytest.raises(BadRequest):
            caches.door("svc-door", "drop")
    finally:
        caches.unregister(fixed)
        caches.unregister(live)


# -- aria_tune's part ------------------------------------------------------------------------------
class _Security:
    name = "aria_security"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, caller: Principal, events: list[dict[str, Any]]) -> int:
        assert method == "record_events"
        self.events.extend(events)
        return len(events)


class _Part(CacheOptimization):
    SERVICES = ("svc-a", "svc-down")

    def __init__(self, security: _Security) -> None:
        self.config = TuneSettings()

        async def door_of(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
            introspect.check_door("aria_tune", door)
            if name == "svc-down":
                raise ConnectionError("down")
            return caches.door(name, **kwargs)

        self.deps = Deps({"aria_security": security}, door_of=door_of)


@pytest.fixture
def registered() -> Any:
    sizes = {"cap": 64}
    got = [caches.register("t-lru", "svc-a", rate=1.0, capacity=lambda: sizes["cap"],
                           resize=lambda n: sizes.__setitem__("cap", n), setting="svc.lru"),
           caches.register("t-other", "svc-b", rate=1.0)]
    rng = random.Random(1)
    for key in _zipf_trace(rng, 3000, 200):
        got[0].hit(key) if rng.random() < 0.5 else got[0].miss(key)
    yield SimpleNamespace(stats=got, sizes=sizes)
    for s in got:
        caches.unregister(s)


async def test_the_part_lists_curves_and_answers_404_for_an_unknown_cache(registered: Any) -> None:
    security = _Security()
    part = _Part(security)
    got = await part.list_caches(ADMIN)
    assert [c["name"] for c in got["caches"]] == ["t-lru"]  # svc-b is not a service it reads
    assert set(got["unreachable"]) == {"svc-down"}
    view = got["caches"][0]
    assert view["hits"] + view["misses"] == 3000 and len(view["curve"]) == 7 and view["proposal"]["size"] >= 8
    one = await part.get_cache(ADMIN, "t-lru")
    assert len(one["curve"]) > 7
    with pytest.raises(UnknownCache):
        await part.get_cache(ADMIN, "no-such-cache")
    with pytest.raises(BadRequest):
        await part.get_cache(ADMIN, "../etc")
    resized = await part.resize_cache(ADMIN, "t-lru", 32)
    assert resized["before"] == 64 and resized["after"] == 32 and registered.sizes["cap"] == 32
    assert [e["op"] for e in security.events] == ["tune.cache.resize"]
    with pytest.raises(BadRequest):
        await part.resize_cache(ADMIN, "t-lru", 0)


# -- the real caches -------------------------------------------------------------------------------
def test_the_engine_method_cache_counts_lookups_per_partition() -> None:
    from aria_actors.engine.learning import MethodCache

    stats = caches.CacheStats("method-test", "aria_engine", rate=1.0, partitioned=True)
    cache = MethodCache(max_entries=2, stats=stats, part=("t", "d"))

    def m1() -> None: ...

    assert cache.order(("task", 1), None, [m1]) == [m1]  # type: ignore[arg-type]
    cache._best[(("task", 1), None)] = "m1"
    cache.order(("task", 1), None, [m1])  # type: ignore[arg-type]
    assert (stats.hits, stats.misses) == (1, 1)
    cache._best[(("task", 2), None)] = "m1"
    cache._best[(("task", 3), None)] = "m1"
    cache.resize(1)
    assert len(cache) == 1 and stats.evictions == 2 and cache.max_entries == 1


def test_the_storage_chunk_reads_are_counted() -> None:
    from aria_actors.storage.compose import CacheStore, ObservedStore
    from aria_actors.storage.errors import ChunkMissing

    class Store:
        def __init__(self) -> None:
            self.chunks: dict[str, bytes] = {}

        def get_chunk(self, chunk_id: str) -> bytes:
            if chunk_id not in self.chunks:
                raise ChunkMissing(chunk_id)
            return self.chunks[chunk_id]

        def get_compressed(self, chunk_id: str) -> bytes:
            return self.get_chunk(chunk_id)

        def store_chunk(self, chunk_id: str, data: bytes | None = None, *, compressed: bytes | None = None) -> bool:
            self.chunks[chunk_id] = compressed or data or b""
            return True

    stats = caches.CacheStats("chunk-test", "aria_storage", rate=1.0)
    local = Store()
    local.chunks["a"] = b"x"
    store = CacheStore(local, Store(), stats)  # type: ignore[arg-type]
    assert store.get_chunk("a") == b"x"
    assert (stats.hits, stats.misses) == (1, 0)
    observed = ObservedStore(local, stats)  # type: ignore[arg-type]
    observed.get_chunk("a")
    assert stats.misses == 1 and observed.store_chunk("b", b"y") and local.chunks["b"] == b"y"


def test_the_gateway_token_cache_counts_and_resizes() -> None:
    from aria_actors.coordinate.ratelimit import RateLimitMiddleware

    mw = RateLimitMiddleware(None, limiter=None, token_cache=4)  # type: ignore[arg-type]
    for i in range(6):
        mw._remember(bytes([i]) * 16, {"sub": f"u{i}", "exp": 4e9})
    assert len(mw._tokens) == 4 and mw.token_stats.evictions == 2
    mw._caller({"headers": [(b"authorization", b"Bearer abc")], "client": ("127.0.0.1", 1)})
    assert mw.token_stats.misses == 1
    assert caches.resize("aria_coordinate", "token", 2)["after"] == 2 and len(mw._tokens) == 2


@pytest.mark.parametrize("seed", range(20))
def test_a_proposal_of_a_sampled_trace_is_within_its_grid(seed: int) -> None:
    rng = random.Random(seed)
    stats = caches.CacheStats("t-prop", "svc", rate=rng.choice((1 / 8, 1 / 2, 1.0)), cap=2000, partitioned=True)
    for _ in range(rng.randint(1, 5000)):
        stats.hit((rng.randrange(rng.randint(1, 300)),), rng.choice("ab"))
    snap = {**stats.snapshot(), "capacity": rng.choice((None, 0, 1, 50, 10_000))}
    view = analyse(snap, 1.0, 0.5)
    if view["proposal"] is not None:
        ref = view["reference"]["size"]
        assert max(1, ref // 8) <= view["proposal"]["size"] <= ref * 8 + 1
        assert 0 <= view["proposal"]["hit_ratio"] <= view["proposal"]["best_hit_ratio"] <= 1
