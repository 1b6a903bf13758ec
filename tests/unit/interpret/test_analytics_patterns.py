"""Behaviour patterns: PrefixSpan against brute force, planted motifs and clusters, bad input."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from aria_actors.interpret.analytics import patterns, synthetic
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData


def brute_force(sequences: list[list[str]], min_count: int, max_length: int) -> dict[tuple[str, ...], int]:
    support: Counter[tuple[str, ...]] = Counter()
    for seq in sequences:
        subs = {tuple(seq[i] for i in idx) for n in range(1, max_length + 1)
                for idx in itertools.combinations(range(len(seq)), n)}
        support.update(subs)
    return {p: c for p, c in support.items() if c >= min_count}


def mined(sequences: list[list[str]], min_support: float, max_length: int) -> dict[tuple[str, ...], int]:
    out = patterns.prefixspan(sequences, min_support, max_length)
    return {tuple(p["pattern"]): p["support"] for p in out["patterns"]}


def test_prefixspan_hand_checked() -> None:
    seqs = [["a", "b", "c"], ["a", "c"], ["b", "c"]]
    assert mined(seqs, 2, 3) == {("a",): 2, ("b",): 2, ("c",): 3, ("a", "c"): 2, ("b", "c"): 2}
    # a repeated item counts once per sequence; order matters
    assert mined([["a", "a", "b"], ["b", "a"]], 1, 2) == {
        ("a",): 2, ("b",): 2, ("a", "a"): 1, ("a", "b"): 1, ("b", "a"): 1}


@pytest.mark.parametrize("seed", range(5))
def test_prefixspan_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    seqs = [[str(x) for x in rng.choice(list("abcd"), size=rng.integers(1, 8))] for _ in range(12)]
    for min_count in (1, 2, 4):
        assert mined(seqs, min_count, 3) == brute_force(seqs, min_count, 3)


def test_prefixspan_fraction_order_and_cap() -> None:
    seqs = [["a", "b"], ["a", "b"], ["a"], ["c"]]
    out = patterns.prefixspan(seqs, 0.5, 2)
    assert out["min_count"] == 2
    assert [p["pattern"] for p in out["patterns"]] == [["a"], ["a", "b"], ["b"]]
    capped = patterns.prefixspan(seqs, 1, 2, max_patterns=2)
    assert capped["truncated"] and len(capped["patterns"]) == 2
    assert all(len(p["pattern"]) <= 1 for p in patterns.prefixspan(seqs, 1, 1)["patterns"])


def test_sequences_are_ordered_by_time_then_input() -> None:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [("x", 5, "late"), ("x", 1, "early"), ("x", 5, "late2"), (7, t, "only")]
    seqs, dropped = patterns.sequences_from_actions(rows)
    assert seqs == {"x": ["early", "late", "late2"], "7": ["only"]} and dropped == 0
    seqs, dropped = patterns.sequences_from_actions(rows, max_sequence=2)
    assert seqs["x"] == ["late", "late2"] and dropped == 1


def test_is_subsequence() -> None:
    assert patterns.is_subsequence(["a", "c"], ["a", "b", "c"])
    assert not patterns.is_subsequence(["c", "a"], ["a", "b", "c"])
    assert patterns.is_subsequence([], ["a"])


def _ari(truth: dict[str, int], found: dict[str, int]) -> float:
    from sklearn.metrics import adjusted_rand_score

    ids = sorted(truth)
    return adjusted_rand_score([truth[i] for i in ids], [found[i] for i in ids])


def test_planted_motifs_and_clusters_are_found() -> None:
    rows, truth = synthetic.action_sequences(n_characters=45, seed=1)
    out = patterns.BehaviourPatterns(min_support=0.2, max_length=5, k_range=(2, 6), top_patterns=10**6).analyse(rows)
    support = {tuple(p["pattern"]): p["support"] for p in out["patterns"]}
    for motif in truth["motifs"]:  # every member of a cluster holds its motif
        assert support[tuple(motif)] >= 15
    clusters = out["clusters"]
    assert clusters["k"] == 3
    assert _ari(truth["labels"], clusters["labels"]) > 0.9
    assert clusters["silhouette"] == max(clusters["silhouette_by_k"].values())
    # each cluster's top n-gram is a contiguous piece of its own motif
    for cluster in clusters["clusters"]:
        label = Counter(truth["labels"][m] for m in cluster["members"]).most_common(1)[0][0]
        motif = " ".join(truth["motifs"][label])
        assert " ".join(cluster["top_ngrams"][0]["ngram"]) in motif + " " + motif
        assert cluster["patterns"] and cluster["patterns"][0]["lift"] > 0


def test_order_blind_features_cannot_separate_the_planted_clusters() -> None:
    # the clusters share one action set and differ only in order: unigrams must fail, n-grams succeed
    rows, truth = synthetic.action_sequences(n_characters=45, seed=2)
    seqs, _ = patterns.sequences_from_actions(rows)
    unigram = patterns.cluster_sequences(seqs, (3, 3), (1, 1))
    ngram = patterns.cluster_sequences(seqs, (3, 3), (1, 3))
    assert _ari(truth["labels"], ngram["labels"]) > 0.9 > 0.3 > _ari(truth["labels"], unigram["labels"])


@pytest.mark.parametrize("rows, error", [
    ([("c", math.nan, "a")], InvalidFeatures),
    ([("c", 1.0, 3)], InvalidFeatures),
    ([("c", 1.0)], InvalidFeatures),
    ([(True, 1.0, "a")], InvalidFeatures),
    ([("c", "yesterday", "a")], InvalidFeatures),
    ([("", 1.0, "a")], InvalidFeatures),
    ([("c", 1.0, "bad\nname")], InvalidFeatures),
    ("not a list", InvalidFeatures),
    ([], NotEnoughData),
])
def test_bad_actions_raise_typed_errors(rows: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        patterns.BehaviourPatterns().analyse(rows, cluster=False)


def test_bad_parameters_and_too_little_data() -> None:
    with pytest.raises(InvalidFeatures):
        patterns.prefixspan([["a"]], 0, 2)
    with pytest.raises(InvalidFeatures):
        patterns.prefixspan([["a"]], 1.5, 2)
    with pytest.raises(InvalidFeatures):
        patterns.prefixspan([["a"]], 1, 0)
    with pytest.raises(NotEnoughData):
        patterns.prefixspan([], 1, 2)
    with pytest.raises(NotEnoughData):
        patterns.cluster_sequences({"a": ["x"], "b": ["y"]})
    with pytest.raises(NotEnoughData):  # identical behaviour: no two clusters to tell apart
        patterns.cluster_sequences({c: ["x", "y"] for c in "abcd"})
