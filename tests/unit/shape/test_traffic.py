"""Weighted, sticky A/B routing and per-version metrics."""

from __future__ import annotations

import pytest

from aria_actors.shape.traffic import InvalidTraffic, TrafficSplit


def test_shares_follow_weights() -> None:
    split = TrafficSplit({"a": 3, "b": 1}, seed=0)
    picks = [split.pick() for _ in range(4000)]
    assert picks.count("a") / len(picks) == pytest.approx(0.75, abs=0.03)
    assert TrafficSplit({"a": 0, "b": 1}).pick("anyone") == "b"


def test_keys_are_sticky_and_spread() -> None:
    split = TrafficSplit({"a": 1, "b": 1})
    assert all(split.pick(f"user-{i}") == split.pick(f"user-{i}") for i in range(50))
    assert {split.pick(f"user-{i}") for i in range(50)} == {"a", "b"}


def test_metrics_and_leader() -> None:
    split = TrafficSplit({"a": 1, "b": 1})
    split.record("a", tokens=10, seconds=0.5)
    split.feedback("a", 0.2)
    split.feedback("b", 0.9)
    report = split.report()
    assert report["leader"] == "b"
    assert report["versions"]["a"]["tokens_per_s"] == 20
    with pytest.raises(InvalidTraffic):
        split.feedback("c", 1.0)


@pytest.mark.parametrize("weights", [{}, {"a": -1}, {"a": 0, "b": 0}])
def test_invalid_weights(weights) -> None:
    with pytest.raises(InvalidTraffic):
        TrafficSplit(weights)
