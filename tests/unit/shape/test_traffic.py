"""Weighted, sticky A/B routing and per-version metrics."""

from __future__ import annotations

import pytest

from aria_actors.shape.inference.traffic import InvalidTraffic, TrafficSplit


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


def test_restore_rebuilds_weights_order_totals_and_sticky_picks() -> None:
    split = TrafficSplit({"b": 1, "a": 2}, seed=5)
    split.record("a", tokens=8, seconds=0.5)
    split.record("b", tokens=2, seconds=0.25)
    split.feedback("a", 0.4)
    split.feedback("a", 0.6)
    split.feedback("b", 0.9)
    stored = {v: {"version": v, "requests": m.requests, "tokens": m.tokens, "seconds": m.seconds,
                  "feedback_count": m.feedback_count, "feedback_sum": m.feedback_sum,
                  "feedback_sumsq": m.feedback_sumsq}
              for v, m in split.metrics.items()}
    stored["gone"] = {"requests": 99}  # a row of a version no longer in the split is ignored
    again = TrafficSplit.restore({"b": 1.0, "a": 2.0}, 5, stored)
    assert again.report() == split.report()
    assert again.leader() == "b" and again.metrics["a"].mean_feedback == pytest.approx(0.5)
    assert again.metrics["a"].feedback_variance == pytest.approx(0.02)  # (0.4, 0.6): sample variance
    assert [again.pick(f"user-{i}") for i in range(40)] == [split.pick(f"user-{i}") for i in range(40)]
    # The order of the weights is part of the routing: reversed, some keys move.
    flipped = TrafficSplit.restore({"a": 2.0, "b": 1.0}, 5, stored)
    assert [flipped.pick(f"user-{i}") for i in range(40)] != [split.pick(f"user-{i}") for i in range(40)]
    assert TrafficSplit.restore({"a": 1, "c": 1}, 0, stored).metrics["c"].requests == 0
    assert again.take_unflushed() == {}  # restored totals are stored already


def test_unflushed_counters_are_taken_once_and_given_back_on_failure() -> None:
    split = TrafficSplit({"a": 1, "b": 1})
    split.record("a", tokens=3, seconds=0.1)
    split.record("a", tokens=4, seconds=0.1)
    split.feedback("a", 1.0)  # feedback is stored by the caller itself, not in the deltas
    deltas = split.take_unflushed()
    assert set(deltas) == {"a"} and (deltas["a"].requests, deltas["a"].tokens) == (2, 7)
    assert deltas["a"].feedback_count == 0
    assert split.take_unflushed() == {}
    split.record("b", tokens=1, seconds=0.1)
    split.give_back(deltas)  # storing failed: the same counts go out with the next ones
    again = split.take_unflushed()
    assert (again["a"].requests, again["a"].tokens, again["b"].requests) == (2, 7, 1)
    assert split.metrics["a"].requests == 2  # the totals counted each request once
