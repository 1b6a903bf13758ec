"""aria_engine's built features through the gateway of a running `aria up` (the shared one, which
registers tests/unit/engine/priced.py as domain ``priced``): HTN planning with GTPyhop's
domains, action costs and derived predicates; GOAP, behavior trees, coordination of characters
(conflicts by priority, joint goals), plan repair and plan learning."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.unit.engine import delivery
from tests.unit.engine.priced import state


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=60) as client:
        yield client


def _moves(plan: list[list[str]]) -> list[list[str]]:
    return [step for step in plan if step[0] == "move"]


def test_gtpyhop_domains_plan_their_problems(aria: AriaClient) -> None:
    names = {d["name"] for d in aria.engine.list_domains()}
    assert {"gtpyhop-blocksworld-gtohp", "priced"} <= names
    out = aria.engine.plan("gtpyhop-blocksworld-gtohp", problem="BW_rand_11")
    assert out["status"] == "found" and out["plan"], out
    assert {step[0] for step in out["plan"]} <= {"pick_up", "put_down", "stack", "unstack"}


def test_the_cheapest_plan_follows_action_costs_and_a_derived_predicate(aria: AriaClient) -> None:
    described = aria.engine.describe_domain("priced")
    assert described["predicates"] == ["road"] and "go" in described["tasks"]
    first = aria.engine.plan("priced", state=state(), todo=[["go", "d"]])
    assert _moves(first["plan"]) == [["move", "a", "b"], ["move", "b", "d"]]  # found first, cost 10
    best = aria.engine.plan("priced", state=state(), todo=[["go", "d"]], optimise_cost=True)
    assert _moves(best["plan"]) == [["move", "a", "c"], ["move", "c", "e"], ["move", "e", "d"]]
    assert best["cost"] == 3 and best["optimal"] is True
    # the predicate `road` reads the state: with c-e closed, the cheapest way goes through b
    closed, again = aria.engine.plan_many([
        {"domain": "priced", "state": state([["c", "e"]]), "todo": [["go", "d"]], "optimise_cost": True},
        {"domain": "priced", "state": state(), "todo": [["go", "d"]], "optimise_cost": True}])
    assert closed["cost"] == 10 and ["move", "c", "e"] not in closed["plan"]
    assert again["cost"] == 3


# -- GOAP, behavior trees, coordination, repair, learning ------------------------------------------
# delivery (tests/unit/engine/delivery.py) and workshop (tests/unit/engine/workshop.py) are
# registered by the shared `aria up` next to priced.
FIRE = [
    {"name": "get_axe", "preconditions": {"has": {"axe": False}}, "effects": {"has": {"axe": True}}, "cost": 2},
    {"name": "chop_log", "preconditions": {"has": {"axe": True}}, "effects": {"has": {"wood": True}}, "cost": 4},
    {"name": "collect_branches", "effects": {"has": {"wood": True}}, "cost": 8},
    {"name": "make_fire", "preconditions": {"has": {"wood": True}}, "effects": {"world": {"fire": True}}, "cost": 1},
]
CAMP = {"name": "camp", "vars": {"has": {"axe": False, "wood": False}, "world": {"fire": False}}}


def _status(error: AriaError) -> int:
    """The HTTP status the gateway answered (the SDK keeps it on the error it raises)."""
    return int(getattr(error, "http_status", error.status))


def _tools() -> dict[str, Any]:
    return {"name": "s", "vars": {"done": {}, "made": {}}}


def test_goap_finds_the_cheapest_plan_and_refuses_code_shaped_input(aria: AriaClient) -> None:
    out = aria.engine.goap(CAMP, {"world": {"fire": True}}, FIRE)
    assert out["status"] == "found" and out["plan"] == ["get_axe", "chop_log", "make_fire"] and out["cost"] == 7
    assert out["state"]["vars"]["world"]["fire"] is True
    with pytest.raises(AriaError) as bad:
        aria.engine.goap(CAMP, {"world": {"fire": True}}, [{**FIRE[0], "cost": 0}])
    assert _status(bad.value) == 422
    with pytest.raises(AriaError) as bad:  # a fact's value must be hashable data, not a list
        aria.engine.goap(CAMP, {"world": {"fire": [1]}}, FIRE)
    assert _status(bad.value) == 422 and bad.value.type.endswith("engine-invalid-request")


def test_a_behavior_tree_runs_a_task_and_repairs_a_refused_step(aria: AriaClient) -> None:
    tree = {"selector": [{"condition": {"at": {"p1": "c"}}},
                         {"sequence": [{"task": ["deliver", "p1", "c"]}, {"action": ["walk", "c", "b"]}]}]}
    out = aria.engine.run_tree("delivery", delivery.state(), tree, fail=[["drive", "a", "c"]])
    assert out["status"] == "success", out
    assert ["walk", "a", "c"] in out["executed"] and ["drive", "a", "c"] not in out["executed"]
    assert out["repairs"] == 1 and out["state"]["vars"]["at"] == {"robot": "b", "p1": "c", "p2": "b"}
    with pytest.raises(AriaError) as bad:  # a leaf must be an action of the registered domain
        aria.engine.run_tree("delivery", delivery.state(), {"action": ["teleport", "c"]})
    assert _status(bad.value) == 422 and bad.value.type.endswith("engine-invalid-request")


def test_characters_share_tools_by_priority_and_split_a_joint_goal(aria: AriaClient) -> None:
    out = aria.engine.coordinate([
        {"character": "low", "domain": "workshop", "state": _tools(), "todo": [["craft", "low", "x"]]},
        {"character": "high", "domain": "workshop", "state": _tools(), "todo": [["craft", "high", "x"]],
         "priority": 9}], resources={"use": [2]})
    low, high = out["schedules"]
    assert high["plan"][0] == ["use", "high", "hammer"] and not high["replanned"]
    assert low["replanned"] and low["lost_to"] == ["high"] and low["plan"][0] == ["use", "low", "saw"]
    joint = aria.engine.coordinate(
        [{"character": r, "domain": "delivery", "state": delivery.state()} for r in ("r1", "r2")],
        resources={"load": [1]}, joint_goal={"multigoal": "g", "vars": {"at": {"p1": "c", "p2": "d"}}},
        assign={"at": {"p1": "r2", "p2": "r1"}})
    by = {s["character"]: s for s in joint["schedules"]}
    assert by["r2"]["plan"][-1] == ["unload", "p1"] and by["r1"]["plan"][-1] == ["unload", "p2"]
    with pytest.raises(AriaError) as bad:
        aria.engine.coordinate([{"character": "x", "domain": "chess", "state": _tools()}])
    assert _status(bad.value) == 404


def test_a_failed_step_is_repaired_below_its_node(aria: AriaClient) -> None:
    plan = aria.engine.plan("delivery", state=delivery.state(), todo=delivery.TODO)["plan"]
    assert plan == delivery.PLAN
    out = aria.engine.repair("delivery", state=delivery.state(), todo=delivery.TODO, plan=plan, failed=2)
    assert out["status"] == "repaired" and out["node"] == {"item": ["goto", "c"], "kind": "task"}
    assert out["plan"][2] == ["walk", "a", "c"] and out["changed"] == [2]
    with pytest.raises(AriaError) as bad:
        aria.engine.repair("delivery", state=delivery.state(), todo=delivery.TODO, plan=plan, failed=99)
    assert _status(bad.value) == 422


def test_plan_learning_hits_its_cache_and_can_be_cleared(aria: AriaClient) -> None:
    aria.engine.clear_learning("delivery")
    cold = aria.engine.learn("delivery", state=delivery.state(), todo=delivery.TODO)
    warm = aria.engine.learn("delivery", state=delivery.state(), todo=delivery.TODO)
    assert cold["learning"]["hits"] == 0 and warm["learning"]["hits"] > 0
    assert warm["plan"] == cold["plan"] == delivery.PLAN
    stats = aria.engine.learning_stats("delivery")["domains"]["delivery"]
    assert stats["hits"] == warm["learning"]["hits"] and stats["entries"] > 0
    assert aria.engine.clear_learning("delivery")["cleared"] == ["delivery"]
    assert "delivery" not in aria.engine.learning_stats()["domains"]


# -- decision state ------------------------------------------------------------------------------
def test_a_characters_decision_state_is_stored_advanced_and_outlives_a_restart(
        aria: AriaClient, shared_aria: RunningAria) -> None:
    who = f"e2e-{uuid.uuid4().hex[:8]}"
    d = aria.engine.set_decision(who, "priced", state=state(), todo=[["go", "d"]], optimise_cost=True)
    assert d["status"] == "executing" and d["next"] == ["move", "a", "c"] and d["step"] == 0
    d = aria.engine.advance_decision(who, d["version"])  # the domain's action moves its beliefs
    assert d["step"] == 1 and d["beliefs"]["vars"]["loc"] == {"me": "c"}
    with pytest.raises(AriaError) as stale:
        aria.engine.advance_decision(who, d["version"] - 1)
    assert _status(stale.value) == 409
    listed = aria.engine.list_decisions(status="executing", limit=500)["items"]
    assert who in {x["character"] for x in listed}
    shown = shared_aria.aria("engine", "decision", "show", who, env={"ARIA_TOKEN": shared_aria.token()})
    assert shown.returncode == 0 and "executing" in shown.stdout and "step 1/" in shown.stdout, shown.stderr

    restarted = shared_aria.aria("restart", "aria_engine")
    assert restarted.returncode == 0, restarted.stderr
    after = aria.engine.get_decision(who)
    assert (after["step"], after["version"], after["beliefs"]) == (d["step"], d["version"], d["beliefs"])
    assert aria.service("aria_engine").details["decisions"]["resumed_executing"] >= 1


def test_decision_state_refuses_bad_input_with_problems(aria: AriaClient, shared_aria: RunningAria) -> None:
    headers = {"Authorization": f"Bearer {shared_aria.token()}"}
    base = f"{shared_aria.url}/v1/engine/characters"
    cases = [
        ("GET", f"{base}/nobody-{uuid.uuid4().hex[:8]}/decision", None, 404),
        ("PUT", f"{base}/x/decision", {"domain": "priced", "plan": [["move"]]}, 422),  # no beliefs
        ("PUT", f"{base}/x/decision", {"domain": "priced", "plan": [[""]], "beliefs": state()}, 422),
        ("PUT", f"{base}/bad%20name/decision", {"domain": "priced", "problem": "p"}, 422),
        ("GET", f"{shared_aria.url}/v1/engine/decisions?status=sleeping", None, 422),
    ]
    for verb, url, body, status in cases:
        r = httpx.request(verb, url, headers=headers, json=body, timeout=60)
        assert r.status_code == status, (verb, url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), r.headers
