"""Downsampling math of aria_monitor's rollups (monitor/rollup.py): buckets aligned to the minute and
the hour, min/max/avg/last, merges that add up the same whichever way the batches were cut."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from aria_actors.monitor.rollup import (
    HOUR,
    MINUTE,
    Agg,
    Rollups,
    bucket_of,
    downsample,
    labels_key,
    merge,
    resolution_for,
)


def test_points_fold_into_minute_and_hour_buckets() -> None:
    r = Rollups()
    for t, v in ((3600.0, 1.0), (3630.0, 5.0), (3659.0, 3.0), (3660.0, 10.0), (7199.0, 2.0)):
        r.add("overview/rpc_rate", labels_key({"service": "aria_a"}), t, v)
    rows = dict(r.take())
    assert len(r) == 0  # taken: the next batch starts empty
    m0 = rows[(MINUTE, "overview/rpc_rate", '{"service":"aria_a"}', 3600.0)]
    assert (m0.lo, m0.hi, m0.count, m0.last, m0.last_at) == (1.0, 5.0, 3, 3.0, 3659.0)
    assert m0.avg == 3.0
    assert rows[(MINUTE, "overview/rpc_rate", '{"service":"aria_a"}', 3660.0)].avg == 10.0
    h = rows[(HOUR, "overview/rpc_rate", '{"service":"aria_a"}', 3600.0)]
    assert (h.lo, h.hi, h.count, h.last) == (1.0, 10.0, 5, 2.0)
    assert h.avg == pytest.approx((1 + 5 + 3 + 10 + 2) / 5)
    assert len(rows) == 4  # minutes 3600, 3660, 7140 and the hour 3600


def test_merging_batches_equals_one_batch_in_any_order() -> None:
    rng = random.Random(7)
    points = [(1000.0 + i * 7.5, rng.uniform(-5, 5)) for i in range(40)]
    whole = Rollups()
    for t, v in points:
        whole.add("p", "{}", t, v)
    expected = dict(whole.take())
    for cut in (1, 13, 39):  # two batches, merged in both orders, like two flushes into the store's row
        a, b = Rollups(), Rollups()
        for t, v in points[:cut]:
            a.add("p", "{}", t, v)
        for t, v in points[cut:]:
            b.add("p", "{}", t, v)
        ra, rb = dict(a.take()), dict(b.take())
        for first, second in itertools.permutations((ra, rb)):
            merged = dict(first)
            for k, agg in second.items():
                merged[k] = merge(merged[k], agg) if k in merged else agg
            assert merged.keys() == expected.keys()
            for k, agg in merged.items():
                e = expected[k]
                assert (agg.lo, agg.hi, agg.count, agg.last, agg.last_at) == (e.lo, e.hi, e.count, e.last, e.last_at)
                assert agg.total == pytest.approx(e.total)


def test_a_batch_put_back_goes_with_the_next() -> None:
    r = Rollups()
    r.add("p", "{}", 60.0, 1.0)
    failed = r.take()
    r.add("p", "{}", 61.0, 3.0)
    r.put_back(failed)  # the store was down: the batch waits, merged with what came since
    (key, agg), *_ = [x for x in r.take() if x[0][0] == MINUTE]
    assert key == (MINUTE, "p", "{}", 60.0) and (agg.count, agg.lo, agg.hi, agg.last) == (2, 1.0, 3.0, 3.0)


def test_non_finite_values_are_not_history_and_the_pending_batch_is_bounded() -> None:
    r = Rollups(max_pending=2)
    r.add("p", "{}", 0.0, math.nan)
    r.add("p", "{}", 0.0, math.inf)
    assert len(r) == 0
    r.add("p", "{}", 0.0, 1.0)  # a minute and an hour row: the cap
    r.add("p", "{}", 60.0, 1.0)  # a new minute row is refused and counted; the hour row merges
    assert len(r) == 2 and r.dropped == 1


def test_helpers() -> None:
    assert bucket_of(3725.0, MINUTE) == 3720.0 and bucket_of(3725.0, HOUR) == 3600.0
    assert labels_key({"b": "2", "a": "1"}) == labels_key([("a", "1"), ("b", "2")]) == '{"a":"1","b":"2"}'
    assert resolution_for(3600) == MINUTE and resolution_for(2 * 86400) == MINUTE
    assert resolution_for(7 * 86400) == HOUR
    assert downsample([(0.0, 1.0), (10.0, 3.0), (60.0, 5.0), (70.0, math.nan)], 60) == [(0.0, 2.0), (60.0, 5.0)]
    assert merge(Agg.of(5.0, 1.0), Agg.of(2.0, 9.0)).last == 1.0  # the newer point's value, whatever the order
