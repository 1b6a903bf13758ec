"""Content-based recommendations: hand-checked votes, planted trait groups, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aria_actors.interpret.analytics import content, synthetic
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData

TINY = {
    "A": {"embedding": [1.0, 0.0], "traits": ["x"]},
    "B": {"embedding": [0.8, 0.6], "traits": ["x", "y"], "attributes": {"mood": "calm", "level": 3}},
    "C": {"embedding": [0.0, 1.0], "traits": ["z"]},
    "D": {"embedding": [-0.6, 0.8], "traits": ["z", "w"]},
}


def test_neighbours_vote_with_their_similarity() -> None:
    model = content.ContentRecommender(neighbors=2).fit(TINY)
    out = model.recommend([1.0, 0.0], traits=["x"], k=3, exclude="A")
    # neighbours of (1, 0) without A: B (0.8) and C (0.0, not above the floor: no vote)
    assert [n["character_id"] for n in out["neighbours"]][:2] == ["B", "C"]
    recs = out["recommendations"]
    assert recs[0]["score"] == pytest.approx(0.8, abs=1e-6) and recs[0]["source"] == "neighbours"
    assert json.loads(json.dumps(out)) == out  # JSON-able
    assert {r.get("trait") or r.get("value") for r in recs[:2]} == {"y", "calm"}
    assert recs[2]["source"] == "popularity"  # z/w only reach it by the popularity tie-break
    # the character's own traits are never recommended; numeric attributes are not items
    assert all(r.get("trait") != "x" for r in out["recommendations"])
    assert all(r.get("attribute") != "level" for r in out["recommendations"])


def test_recommend_for_a_known_character_excludes_itself() -> None:
    model = content.ContentRecommender(neighbors=1).fit(TINY)
    out = model.recommend_for("C", k=2)
    assert out["neighbours"][0]["character_id"] == "D"  # not C itself
    assert out["recommendations"][0] == {"trait": "w", "score": pytest.approx(0.8, abs=1e-6), "source": "neighbours"}


def test_planted_trait_groups_beat_popularity() -> None:
    chars, _ = synthetic.embeddings(n_characters=240, seed=5)
    m = content.evaluate(chars, ks=(5, 10), neighbors=20)
    assert m["n_evaluated"] == 240
    assert m["model"]["hit_rate@5"] > m["baseline"]["hit_rate@5"] + 0.3
    assert m["model"]["mrr"] > m["baseline"]["mrr"] + 0.15
    assert 0 <= m["baseline"]["hit_rate@10"] <= 1


def test_records_as_a_list_and_renormalised_embeddings() -> None:
    rows = [{"character_id": k, **v} for k, v in TINY.items()]
    rows[0] = {**rows[0], "embedding": [5.0, 0.0]}
    model = content.ContentRecommender().fit(rows)
    assert np.allclose(np.linalg.norm(model.embeddings, axis=1), 1.0)


@pytest.mark.parametrize("chars, error", [
    ({"A": {"embedding": [1.0, math.nan], "traits": ["x"]}}, InvalidFeatures),
    ({"A": {"embedding": [0.0, 0.0], "traits": ["x"]}}, InvalidFeatures),
    ({"A": {"embedding": [1.0, 0.0], "traits": ["x"]}, "B": {"embedding": [1.0], "traits": ["x"]}}, InvalidFeatures),
    ({"A": {"embedding": "1,0", "traits": ["x"]}}, InvalidFeatures),
    ({"A": {"traits": ["x"]}}, InvalidFeatures),
    ({"A": {"embedding": [1.0, 0.0], "traits": [1]}}, InvalidFeatures),
    ([{"character_id": "A", "embedding": [1.0]}, {"character_id": "A", "embedding": [1.0]}], InvalidFeatures),
    ({}, NotEnoughData),
    ([], NotEnoughData),
    ({"A": {"embedding": [1.0, 0.0], "traits": []}}, NotEnoughData),
])
def test_bad_characters_raise_typed_errors(chars: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        content.ContentRecommender().fit(chars)


def test_bad_requests() -> None:
    model = content.ContentRecommender().fit(TINY)
    with pytest.raises(InvalidFeatures):
        model.recommend([1.0, 0.0, 0.0])
    with pytest.raises(InvalidFeatures):
        model.recommend([1.0, 0.0], k=0)
    with pytest.raises(InvalidFeatures):
        model.recommend_for("nobody")
    with pytest.raises(NotEnoughData):
        content.ContentRecommender().recommend([1.0, 0.0])
    with pytest.raises(InvalidFeatures):
        content.ContentRecommender(power=0)
    with pytest.raises(NotEnoughData):  # nobody holds two traits: nothing to hide
        content.evaluate({k: {"embedding": v["embedding"], "traits": ["x"]} for k, v in TINY.items()})
