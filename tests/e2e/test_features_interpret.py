"""aria_interpret's built features through the gateway of a running `aria up` (the shared one):
text understanding (embeddings, entities, traits, sentiment, consistency, similarity search),
the analytics over recorded events (patterns, interaction statistics, character development,
content-based and collaborative recommendations), and the DIN recommender trained as an
aria_queue job, stored in aria_storage, served by Ray Serve with promotion, A/B and rollback.

Each tenant's data here is the e2e operator's (tenant-less); ids carry a run id so a rerun on the
same `aria up` does not meet an earlier run's characters."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aria_actors.interpret.analytics import synthetic
from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria

RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def http(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shared_aria.token()}"}
    with httpx.Client(base_url=shared_aria.url, headers=headers, timeout=300) as client:
        yield client


def _status(error: AriaError) -> int:
    return int(getattr(error, "http_status", error.status))


def _problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(type_suffix), body
    return body


# -- text ------------------------------------------------------------------------------------------
def test_embeddings_entities_sentiment_and_consistency(aria: AriaClient) -> None:
    got = aria.interpret.embed(["A brave knight defends the weak.", "A courageous warrior protects the helpless.",
                                "The recipe needs two cups of flour."])
    a, b, c = got["vectors"]
    assert got["dimension"] == 384 and len(a) == 384
    dot = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert abs(dot(a, a) - 1) < 1e-4 and dot(a, b) > dot(a, c) + 0.3

    analysis = aria.interpret.analyze("Ada Lovelace is a brave and kind knight from Paris. She loves her friends.",
                                      ["brave", "cruel"])
    labels = {e["label"] for e in analysis["entities"]}
    assert {"PERSON", "GPE"} <= labels, analysis["entities"]
    assert {"brave", "kind"} <= {t["trait"] for t in analysis["traits"]}
    assert analysis["sentiment"]["compound"] > 0.3

    consistent = aria.interpret.consistency(["brave"], "Ada is fearless and brave; she never runs from a fight.")
    contradicted = aria.interpret.consistency(["brave"], "Ada is a coward who flees at the first sign of danger.")
    assert consistent["score"] > contradicted["score"]


def test_bad_text_is_a_typed_4xx(http: httpx.Client) -> None:
    huge = http.post("/v1/interpret/analyze", json={"text": "x" * 10_000_000})
    assert huge.status_code in (413, 422), huge.status_code
    _problem(http.post("/v1/interpret/embed", json={"texts": ["   "]}), 422, "interpret-invalid-text")
    _problem(http.post("/v1/interpret/embed", json={"texts": []}), 422, "validation")


def test_stored_characters_are_searchable_and_get_trait_suggestions(aria: AriaClient) -> None:
    people = {
        f"knight-{RUN}": ("Sir Bran is a brave knight who protects the weak and fights for honour.",
                          ["brave", "loyal", "honest"]),
        f"paladin-{RUN}": ("Lady Wren is a courageous paladin who defends villagers against raiders.",
                           ["brave", "loyal", "kind"]),
        f"baker-{RUN}": ("Tom is a cheerful baker who sells bread and cakes at the market.", ["cheerful", "kind"]),
        f"thief-{RUN}": ("Nix is a cunning thief who steals purses in crowded streets.", ["cunning", "greedy"]),
    }
    for cid, (text, traits) in people.items():
        saved = aria.interpret.put_character(cid, text, traits)
        assert saved["character_id"] == cid and saved["traits"] == traits
    hits = aria.interpret.similar(character_id=f"knight-{RUN}", k=2)["results"]
    assert hits[0]["character_id"] == f"paladin-{RUN}", hits
    by_text = aria.interpret.similar(text="a man who bakes bread", k=1)["results"]
    assert by_text[0]["character_id"] == f"baker-{RUN}"
    suggested = aria.interpret.recommend_attributes(f"knight-{RUN}", k=3)
    assert "kind" in [r["trait"] for r in suggested["recommendations"] if "trait" in r], suggested
    assert aria.interpret.get_character(f"thief-{RUN}")["traits"] == ["cunning", "greedy"]
    assert aria.interpret.delete_character(f"thief-{RUN}") == {"deleted": f"thief-{RUN}"}
    with pytest.raises(AriaError) as missing:
        aria.interpret.get_character(f"thief-{RUN}")
    assert _status(missing.value) == 404


# -- events and analytics -------------------------------------------------------------------------------
def _ts(t: float) -> float:
    return 1_700_000_000.0 + float(t)


def test_recorded_events_feed_patterns_stats_development_and_cf(aria: AriaClient, http: httpx.Client) -> None:
    actions, _ = synthetic.action_sequences(n_characters=30, seed=1)
    pairs, planted = synthetic.interactions(n_characters=30, n_background=800, n_planted=3, seed=2)
    versions, _ = synthetic.histories(n_characters=60, n_versions=8, seed=3)
    picks, _ = synthetic.picks(n_players=80, seed=4)
    events: list[dict[str, Any]] = []
    events += [{"kind": "action", "subject": f"{c}-{RUN}", "object": a, "ts": _ts(t)} for c, t, a in actions]
    events += [{"kind": "interaction", "subject": f"{a}-{RUN}", "object": f"{b}-{RUN}", "category": k,
                "ts": _ts(t)} for a, b, t, k in pairs]
    events += [{"kind": "state", "subject": f"{v['character_id']}-{RUN}", "ts": _ts(v.get("ts") or v["version"]),
                "attrs": {"traits": list(v["traits"]), "attributes": dict(v.get("attributes") or {})}}
               for v in versions]
    events += [{"kind": "pick", "subject": f"{p}-{RUN}", "object": tpl, "attrs": {"traits": list(traits)}}
               for p, tpl, traits in picks]
    for start in range(0, len(events), 5000):
        assert aria.interpret.record(events[start:start + 5000])["recorded"] == len(events[start:start + 5000])
    counts = aria.interpret.event_counts()
    assert counts["action"] >= len(actions) and counts["pick"] >= len(picks)

    mined = aria.interpret.patterns(min_support=0.3, max_length=3)
    assert mined["patterns"] and mined["clusters"]["k"] >= 2
    stats = aria.interpret.interaction_stats(alpha=0.05)
    flagged = {tuple(sorted((p["a"], p["b"]))) for p in stats["pairs"] if p["significant"]}
    assert any(tuple(sorted((f"{a}-{RUN}", f"{b}-{RUN}"))) in flagged for a, b in planted["pairs"]), stats["pairs"][:5]
    dev = aria.interpret.development(f"{versions[0]['character_id']}-{RUN}", 3)
    assert dev["evaluation"]["model"]["accuracy@3"] >= dev["evaluation"]["baseline"]["accuracy@3"]
    assert len(dev["prediction"]["predictions"]) == 3
    cf = aria.interpret.recommend_traits(picked=list(picks[0][2][:2]), k=3)
    assert len(cf["recommendations"]) == 3

    bad = http.post("/v1/interpret/events", json={"events": [{"kind": "feedback", "subject": "u", "object": "i",
                                                               "value": "NaN"}]})
    assert bad.status_code == 422
    unknown = http.post("/v1/interpret/events", json={"events": [{"kind": "gossip", "subject": "u"}]})
    assert unknown.status_code == 422


# -- the DIN recommender -------------------------------------------------------------------------------------
def _feedback(users: int = 40, items: int = 30) -> list[dict[str, Any]]:
    """Users of two tastes: even users choose even items, odd users odd ones (planted preference)."""
    out = []
    for u in range(users):
        for j in range(12):
            item = (2 * ((u * 7 + j * 5) % (items // 2)) + u % 2)
            out.append({"kind": "feedback", "subject": f"p{u}-{RUN}", "object": f"item{item}-{RUN}",
                        "category": "even" if item % 2 == 0 else "odd", "ts": _ts(u * 100 + j)})
    return out


def _trained(aria: AriaClient, version: str, promote: bool) -> dict[str, Any]:
    job = aria.interpret.start_training(version, "interactions", {"epochs": 3, "seed": 1}, promote)
    deadline = time.monotonic() + 600
    while True:
        status = aria.interpret.training_status(job["job_id"])
        if status["registered"] or status["state"] in ("discarded", "cancelled") or time.monotonic() > deadline:
            return status
        time.sleep(1)


def test_din_trains_in_the_queue_serves_ab_tests_promotes_and_rolls_back(aria: AriaClient, http: httpx.Client) -> None:
    aria.interpret.record(_feedback())
    v1, v2 = f"din1-{RUN}", f"din2-{RUN}"
    status = _trained(aria, v1, promote=True)
    assert status["state"] == "completed" and status["registered"]["version"] == v1, status
    assert status["registered"]["asset"] == f"interpret/models/{v1}"
    test = status["registered"]["metrics"]["test"]
    assert 0.0 <= test["auc"] <= 1.0 and 0.0 <= test["gauc"] <= 1.0
    deadline = time.monotonic() + 60
    while aria.interpret.serving_status()["served"] != v1 and time.monotonic() < deadline:
        time.sleep(0.5)

    candidates = [f"item{i}-{RUN}" for i in range(8)]
    ranked = aria.interpret.recommend(f"p0-{RUN}", candidates, k=4)
    assert ranked["version"] == v1 and len(ranked["items"]) == 4 and ranked["history"] > 0
    scores = [r["score"] for r in ranked["items"]]
    assert scores == sorted(scores, reverse=True)
    cold = aria.interpret.recommend(f"stranger-{RUN}", [*candidates[:3], "never-seen-item"])
    assert cold["history"] == 0 and cold["fallback"], cold
    assert len(cold["items"]) == 4

    assert _trained(aria, v2, promote=False)["registered"]["version"] == v2
    assert aria.interpret.set_traffic({v1: 1, v2: 1})["traffic"] == {v1: 1.0, v2: 1.0}
    served_by = {aria.interpret.recommend(f"p{u}-{RUN}", candidates)["version"] for u in range(20)}
    assert served_by == {v1, v2}
    report = aria.interpret.traffic_report()
    assert sum(v["requests"] for v in report["versions"].values()) >= 20
    assert aria.interpret.promote(v2, "e2e")["served"] == v2
    assert aria.interpret.recommend(f"p1-{RUN}", candidates)["version"] == v2
    assert aria.interpret.rollback()["served"] == v1
    listed = aria.interpret.list_versions()
    assert listed["served"] == v1 and {v1, v2} <= {v["version"] for v in listed["versions"]}
    assert aria.interpret.get_version(v2)["dataset"] == "interactions"

    _problem(http.put("/v1/interpret/traffic", json={"weights": {v1: 1, "nope": 1}}), 422,
             "interpret-invalid-traffic")
    _problem(http.post("/v1/interpret/recommend", json={"user": "bad id!", "candidates": ["a"]}), 422, "validation")
    retrain = aria.interpret.retrain("interactions")
    assert retrain["job_id"] and retrain["promote"] == "if-better"
