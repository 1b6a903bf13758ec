"""The in-memory series store: retention, downsampling, caps, order."""

from __future__ import annotations

from aria_actors.monitor.series import SeriesStore


def test_raw_points_age_into_minute_buckets_and_then_out() -> None:
    store = SeriesStore(retention_s=120, step_s=60, downsampled_retention_s=600)
    for t in range(0, 1200, 15):
        store.add({"__name__": "g"}, t, float(t))
    raw = store.range("g", None, 1185 - 120, 1185, "avg")[0][1]
    assert raw[0][0] == 1065 and raw[-1] == (1185, 1185.0)  # raw: the last 120 s
    old = store.range("g", None, 600, 1000, "avg")[0][1]
    # The bucket [600, 660) held 600, 615, 630, 645: its time is the last sample's, its value their mean.
    assert old[0] == (645, 622.5)
    assert store.range("g", None, 600, 1000, "last")[0][1][0] == (645, 645.0)
    assert store.range("g", None, 600, 1000, "max")[0][1][0] == (645, 645.0)
    assert store.range("g", None, 0, 500, "avg") == []  # past the downsampled retention
    assert store.points() <= 120 // 15 + 1 + 600 // 60 + 1


def test_series_cap_refuses_and_counts_and_order_is_enforced() -> None:
    store = SeriesStore(max_series=2)
    assert store.add({"__name__": "a"}, 0, 1) and store.add({"__name__": "b"}, 0, 1)
    assert not store.add({"__name__": "c"}, 0, 1)
    assert store.refused == 1 and len(store) == 2
    assert store.add({"__name__": "a"}, 10, 2)
    assert not store.add({"__name__": "a"}, 10, 3) and store.out_of_order == 1
    assert store.instant("a", None, 10) == [((("__name__", "a"),), 2.0)]


def test_compact_forgets_series_that_went_stale() -> None:
    store = SeriesStore(retention_s=60)
    store.ingest([({"__name__": "x"}, 1.0)], 0, source="s")
    store.ingest([], 10, source="s")  # x gets a stale marker
    assert store.instant("x", None, 20) == []
    assert store.compact(1000) == 0 and len(store) == 1  # its minute average is history for a day
    assert store.compact(1000 + 86400) == 1 and len(store) == 0
