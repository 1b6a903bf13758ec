"""Interaction statistics: p-values against scipy, BH, Poisson intervals, planted pairs, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aria_actors.interpret.analytics import interactions, synthetic
from aria_actors.interpret.errors import InvalidInteraction, NotEnoughData

TINY = [("a", "b", 0, "talk"), ("b", "a", 10, "talk"), ("a", "b", 20, "trade"), ("a", "c", 30, "talk"),
        ("c", "d", 40, "fight"), ("b", "d", 50, "talk")]


def test_counts_expected_and_p_values_match_a_hand_computation() -> None:
    out = interactions.analyse(TINY, unit=10.0)
    # activity: a 4, b 4, c 2, d 2; sum over pairs k<l of d_k d_l = (12^2 - 40) / 2 = 52
    pairs = {(p["a"], p["b"]): p for p in out["pairs"]}
    ab = pairs[("a", "b")]
    assert ab["count"] == 3 and ab["a_to_b"] == 2 and ab["b_to_a"] == 1 and ab["kinds"] == {"talk": 2, "trade": 1}
    assert ab["expected"] == pytest.approx(6 * 16 / 52)
    assert ab["p_value"] == pytest.approx(stats.binomtest(3, 6, 16 / 52, alternative="greater").pvalue)
    cd = pairs[("c", "d")]
    assert cd["p_value"] == pytest.approx(stats.binomtest(1, 6, 4 / 52, alternative="greater").pvalue)
    assert sum(p["expected"] for p in out["pairs"]) <= 6 + 1e-9  # unseen pairs hold the rest
    # rate over a 50 s span, per 10 s
    assert ab["rate"] == pytest.approx(3 / 5) and out["rate"] == pytest.approx(6 / 5)
    assert out["n_tests"] == 6 and out["n_pairs"] == 4 and out["kinds"] == {"talk": 4, "trade": 1, "fight": 1}


def test_expected_counts_sum_to_the_total_over_all_pairs() -> None:
    rows, _ = synthetic.interactions(n_characters=10, n_background=300, n_planted=0)
    out = interactions.analyse(rows, max_pairs=10**6)
    if out["n_pairs"] == out["n_tests"]:  # every pair met: the expected counts cover everything
        assert sum(p["expected"] for p in out["pairs"]) == pytest.approx(out["n_interactions"])
    assert sum(p["count"] for p in out["pairs"]) == out["n_interactions"] == 300


def test_reciprocity_and_degrees() -> None:
    out = interactions.analyse(TINY)
    # directed edges a->b, b->a, a->c, c->d, b->d: only a<->b is mutual
    assert out["reciprocity"]["edges"] == 5 and out["reciprocity"]["mutual_edges"] == 2
    assert out["reciprocity"]["reciprocity"] == pytest.approx(2 / 5)
    assert out["reciprocity"]["weighted"] == pytest.approx(2 / 6)  # min(2,1) + min(1,2) of 6
    assert out["degree"]["partners"] == {"mean": 2.0, "median": 2.0, "std": 0.0, "min": 2.0, "max": 2.0}
    assert out["degree"]["interactions"]["max"] == 4 and out["degree"]["density"] == pytest.approx(4 / 6)
    top = out["top_characters"][0]
    assert top["character_id"] == "a" and top["interactions"] == 4 and top["initiated"] == 3


def test_benjamini_hochberg_matches_scipy_and_handles_unlisted_tests() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.5, 0.001])
    assert np.allclose(interactions.benjamini_hochberg(p), stats.false_discovery_control(p))
    # with m = 4 tests of which two are listed: 0.01 * 4 / 1 = 0.04, 0.04 * 4 / 2 = 0.08
    assert np.allclose(interactions.benjamini_hochberg([0.04, 0.01], m=4), [0.08, 0.04])
    assert np.allclose(interactions.benjamini_hochberg([0.9], m=10), [1.0])
    with pytest.raises(InvalidInteraction):
        interactions.benjamini_hochberg([0.1, math.nan])
    with pytest.raises(InvalidInteraction):
        interactions.benjamini_hochberg([0.1, 0.2], m=1)


def test_poisson_interval_known_values() -> None:
    low, high = interactions.poisson_interval(np.array([0, 10]), 1.0)
    assert low[0] == 0 and high[0] == pytest.approx(3.6889, abs=1e-3)
    assert low[1] == pytest.approx(4.7954, abs=1e-3) and high[1] == pytest.approx(18.390, abs=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_planted_pairs_are_found_and_raw_counts_miss_them(seed: int) -> None:
    rows, truth = synthetic.interactions(seed=seed)
    ev = interactions.evaluate(rows, truth["pairs"])
    assert ev["recall"] == 1.0 and ev["precision"] >= 0.8
    assert ev["precision_at_k"] == 1.0 and ev["baseline_precision_at_k"] <= 0.5


def test_no_planted_structure_gives_few_discoveries() -> None:
    for seed in range(3):
        rows, _ = synthetic.interactions(n_planted=0, seed=seed)
        assert interactions.analyse(rows)["n_significant"] <= 2


@pytest.mark.parametrize("rows, error", [
    ([("a", "a", 0, "talk")], InvalidInteraction),
    ([("a", "b", math.inf, "talk")], InvalidInteraction),
    ([("a", "b", 0, 5)], InvalidInteraction),
    ([("a", None, 0, "talk")], InvalidInteraction),
    ([("a", "b", 0)], InvalidInteraction),
    ({"a": "b"}, InvalidInteraction),
    ([], NotEnoughData),
    ([("a", "b", 0, "talk"), ("a", "b", 5, "talk")], NotEnoughData),  # two characters: nothing to test
    ([("a", "b", 1, "talk"), ("b", "c", 1, "talk"), ("a", "c", 1, "talk")], NotEnoughData),  # no time span
])
def test_bad_interactions_raise_typed_errors(rows: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        interactions.analyse(rows)


def test_bad_parameters() -> None:
    with pytest.raises(InvalidInteraction):
        interactions.analyse(TINY, unit=0)
    with pytest.raises(InvalidInteraction):
        interactions.analyse(TINY, alpha=1.5)
    with pytest.raises(InvalidInteraction):
        interactions.analyse(TINY, span=1.0)  # shorter than the data
    with pytest.raises(NotEnoughData):
        interactions.evaluate(TINY, [])
