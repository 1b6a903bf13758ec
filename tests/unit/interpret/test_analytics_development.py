"""Development prediction: change extraction, a hand-made chain, planted transitions, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aria_actors.interpret.analytics import development, synthetic
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData


def version(cid: str, ver: int, traits: list[str], **attrs: object) -> dict[str, object]:
    return {"character_id": cid, "version": ver, "traits": traits, "attributes": attrs, "ts": float(ver)}


def chain(cid: str) -> list[dict[str, object]]:
    """shy -> +curious -> +brave -> -shy, the same for every character."""
    return [version(cid, 0, ["shy"], mood="calm"), version(cid, 1, ["curious", "shy"], mood="calm"),
            version(cid, 2, ["brave", "curious", "shy"], mood="calm"),
            version(cid, 3, ["brave", "curious"], mood="angry")]


def test_changes_between_versions() -> None:
    by_char = development.parse_histories([version("x", 1, ["b", "c"], mood="angry", level=2),
                                           version("x", 0, ["a", "b"], mood="calm", level=1)])
    a, b = by_char["x"]
    assert (a.version, b.version) == (0, 1)
    assert development.changes(a, b) == [("add", "c"), ("remove", "a"), ("set", "mood", "angry")]
    assert development.changes(a, a) == [("none",)]


def test_a_deterministic_chain_is_learned() -> None:
    train = [row for c in range(20) for row in chain(f"c{c}")]
    model = development.fit(train)
    after_first = model.predict(chain("new")[:2], k=3)
    assert after_first["predictions"][0] == {"change": "add", "trait": "brave", "p": pytest.approx(
        after_first["predictions"][0]["p"])}
    assert after_first["predictions"][0]["p"] > 0.5
    assert after_first["next_state"]["traits"] == ["brave", "curious", "shy"]
    # impossible changes are masked: never add a held trait, never remove one not held
    for pred in model.predict(chain("new")[:3], k=10)["predictions"]:
        held = {"brave", "curious", "shy"}
        assert not (pred["change"] == "add" and pred["trait"] in held)
        assert not (pred["change"] == "remove" and pred["trait"] not in held)
    assert sum(p["p"] for p in model.predict(chain("new")[:1], k=100)["predictions"]) == pytest.approx(1.0)


def test_planted_transitions_beat_the_frequency_baseline() -> None:
    rows, _ = synthetic.histories(n_characters=120, seed=3)
    train, test = development.split_by_character(rows, 0.25, seed=0)
    assert not {r["character_id"] for r in train} & {r["character_id"] for r in test}
    m = development.evaluate(train, test)
    assert m["n_events"] > 200 and m["n_unseen"] <= 2
    assert m["model"]["accuracy@1"] > m["baseline"]["accuracy@1"] + 0.1
    assert m["model"]["accuracy@3"] > m["baseline"]["accuracy@3"] + 0.1
    assert m["model"]["log_likelihood"] > m["baseline"]["log_likelihood"] + 0.1


def test_the_model_round_trips_through_json() -> None:
    rows, _ = synthetic.histories(n_characters=30, seed=4)
    model = development.fit(rows)
    again = development.DevelopmentModel.from_dict(json.loads(json.dumps(model.to_dict())))
    history = [r for r in rows if r["character_id"] == "c0001"]
    a, b = model.predict(history, 5), again.predict(history, 5)
    assert [p["p"] for p in a["predictions"]] == pytest.approx([p["p"] for p in b["predictions"]])
    assert [p.get("trait") for p in a["predictions"]] == [p.get("trait") for p in b["predictions"]]
    with pytest.raises(InvalidFeatures):
        development.DevelopmentModel.from_dict({"format": "something else"})


def test_a_single_change_class_is_certain() -> None:
    rows = [version(f"c{c}", v, ["a"] * (v == 0) or ["a", "b"]) for c in range(3) for v in range(2)]
    pred = development.fit(rows).predict([version("n", 0, ["a"])], k=3)["predictions"]
    assert pred == [{"change": "add", "trait": "b", "p": 1.0}]


@pytest.mark.parametrize("rows, error", [
    ([version("a", 0, ["x"], level=math.nan)], InvalidFeatures),
    ([version("a", 0, ["x"]), version("a", 0, ["y"])], InvalidFeatures),  # duplicate version
    ([{"character_id": "a", "traits": []}], InvalidFeatures),  # no version
    ([version("a", 0, "x")], InvalidFeatures),  # traits as a string
    ([version("a", 0, ["x"], nested={"a": 1})], InvalidFeatures),
    ([version("a", 1.5, ["x"])], InvalidFeatures),
    (["not a mapping"], InvalidFeatures),
    ([], NotEnoughData),
    ([version("a", 0, ["x"]), version("b", 0, ["y"])], NotEnoughData),  # no transitions
])
def test_bad_histories_raise_typed_errors(rows: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        development.fit(rows)


def test_bad_use() -> None:
    with pytest.raises(NotEnoughData):
        development.DevelopmentModel().predict([version("a", 0, ["x"])])
    model = development.fit([row for c in range(3) for row in chain(f"c{c}")])
    with pytest.raises(InvalidFeatures):
        model.predict(chain("a") + chain("b"))
    with pytest.raises(InvalidFeatures):
        model.predict(chain("a"), k=0)
    with pytest.raises(InvalidFeatures):
        development.DevelopmentModel(c=-1.0)
    with pytest.raises(NotEnoughData):
        development.split_by_character(chain("a"))
    with pytest.raises(NotEnoughData):
        development.evaluate(chain("a"), [version("b", 0, ["x"])])
    assert np.isfinite(model.coef).all()
