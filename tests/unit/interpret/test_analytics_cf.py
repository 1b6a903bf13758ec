"""Collaborative filtering: hand-checked similarities and metrics, planted co-picks, cold start, bad input."""

from __future__ import annotations

import math

import pytest

from aria_actors.interpret.analytics import cf, synthetic
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData

TINY = [("p1", "knight", ["brave", "loyal"]), ("p2", "knight", ["brave", "loyal"]), ("p3", "rogue", ["cunning"]),
        ("p3", "rogue", ["cunning", "greedy"])]


def test_item_knn_similarity_is_shrunk_cosine() -> None:
    model = cf.CFRecommender("item_knn", shrink=0.0).fit(TINY)
    similar = model.similar("trait:brave", k=3)["similar"]
    # brave and loyal: picked by the same two players -> cosine 2 / (sqrt 2 * sqrt 2) = 1
    assert {(r["kind"], r["name"]) for r in similar[:2]} == {("trait", "loyal"), ("template", "knight")}
    assert [r["score"] for r in similar[:2]] == pytest.approx([1.0, 1.0])
    assert similar[2]["score"] == pytest.approx(1e-9, abs=1e-8)  # unrelated: only the popularity tie-break
    shrunk = cf.CFRecommender("item_knn", shrink=2.0).fit(TINY).similar("trait:brave", k=1)["similar"][0]
    assert shrunk["score"] == pytest.approx(2 / (2 + 2))


def test_recommend_strategies_and_exclusions() -> None:
    model = cf.CFRecommender().fit(TINY)
    new = model.recommend(template="knight", traits=["brave"], k=3)
    assert new["strategy"] == "selection" and new["recommendations"][0]["name"] == "loyal"
    assert all(r["kind"] == "trait" and r["name"] != "brave" for r in new["recommendations"])
    empty = model.recommend(player="stranger", k=2)
    assert empty["strategy"] == "popularity"
    # picked by 2 players each: template:knight, trait:brave, trait:loyal (ties in item order)
    assert [r["name"] for r in empty["recommendations"]] == ["knight", "brave"]
    known = model.recommend(player="p3", k=2)
    assert known["strategy"] == "player"
    assert {r["name"] for r in model.recommend(player="p3", k=10, exclude_seen=True)["recommendations"]} & {
        "cunning", "greedy", "rogue"} == set()


def test_ranking_metrics_by_hand() -> None:
    recall, ndcg = cf._ranking_metrics([3, 1, 2], {1, 9}, 3)
    assert recall == 0.5
    assert ndcg == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


@pytest.mark.parametrize("by", ["pick", "player"])
def test_planted_co_picks_beat_popularity(by: str) -> None:
    picks, _ = synthetic.picks(n_players=150, seed=6)
    train, test = cf.split_picks(picks, 0.2, by=by, seed=1)
    trained_players = {p for p, _, _ in train}
    assert (by == "pick") == all(p in trained_players for p, _, _ in test)
    m = cf.evaluate(train, test, k=10)
    for method in ("item_knn", "als"):
        assert m[method]["recall@10"] > m["popularity"]["recall@10"] + 0.3
        assert m[method]["ndcg@10"] > m["popularity"]["ndcg@10"] + 0.2
    assert set(m["item_knn"]["strategies"]) == ({"player+selection"} if by == "pick" else {"selection"})


def test_als_folds_in_a_new_players_selection() -> None:
    picks, _ = synthetic.picks(n_players=100, seed=7)
    model = cf.CFRecommender("als", factors=16, iterations=8).fit(picks)
    out = model.recommend(traits=["g2_t0", "g2_t1"], k=4)
    assert out["strategy"] == "selection"
    assert sum(r["name"].startswith("g2_") for r in out["recommendations"]) >= 3


def test_evaluate_rows_generic_protocol() -> None:
    picks, _ = synthetic.picks(n_players=120, seed=8)
    train, test = cf.split_picks(picks, 0.3, by="pick", seed=2)
    rows = lambda ps: {p: [i for pp, t, tr in ps if pp == p for i in cf._pick_items(t, tr)] for p, _, _ in ps}  # noqa: E731
    m = cf.evaluate_rows(rows(train), rows(test), k=10)
    assert m["n_users"] > 50
    assert m["item_knn"]["recall@10"] > m["popularity"]["recall@10"]
    assert m["als"]["recall@10"] > m["popularity"]["recall@10"]


@pytest.mark.parametrize("picks, error", [
    ([("p", "t", "brave")], InvalidFeatures),
    ([(True, "t", ["a"])], InvalidFeatures),
    ([("p", 3, ["a"])], InvalidFeatures),
    ([("p", "t", [math.nan])], InvalidFeatures),
    ([("p", "t")], InvalidFeatures),
    ("picks", InvalidFeatures),
    ([], NotEnoughData),
    ([("p", "t", ["a"]), ("p", "t", ["b"])], NotEnoughData),  # one player
])
def test_bad_picks_raise_typed_errors(picks: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        cf.CFRecommender().fit(picks)


def test_bad_requests() -> None:
    with pytest.raises(InvalidFeatures):
        cf.CFRecommender(method="svd")
    with pytest.raises(InvalidFeatures):
        cf.CFRecommender(alpha=-1.0)
    with pytest.raises(NotEnoughData):
        cf.CFRecommender().recommend(traits=["a"])
    model = cf.CFRecommender().fit(TINY)
    with pytest.raises(InvalidFeatures):
        model.recommend(traits="brave")
    with pytest.raises(InvalidFeatures):
        model.similar("brave")
    with pytest.raises(InvalidFeatures):
        cf.split_picks(TINY, by="time")
    with pytest.raises(NotEnoughData):
        cf.evaluate(TINY, [("p1", "knight", ["brave"])])


def test_select_method_names_the_better_one() -> None:
    picks, _ = synthetic.picks(n_players=100, seed=9)
    out = cf.select_method(picks, k=10)
    assert out["method"] in cf.METHODS
    other = "als" if out["method"] == "item_knn" else "item_knn"
    assert out["metrics"][out["method"]]["ndcg@10"] >= out["metrics"][other]["ndcg@10"]
