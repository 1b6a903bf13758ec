"""GOAP, behavior trees, coordination, plan repair and plan learning through EngineService's RPC
methods and its router (no Ray, no gateway): JSON in, JSON out, bad input a typed 4xx."""

from __future__ import annotations

from typing import Any

import pytest

from aria_actors.engine import features
from aria_actors.engine.config import EngineConfig
from aria_actors.engine.errors import InvalidRequestError, PlanMismatchError, UnknownDomainError
from aria_actors.runtime.principal import Principal
from tests.unit.engine import delivery

CONFIG = EngineConfig(domains={"workshop": "python:tests.unit.engine.workshop:make_domain",
                               "delivery": "python:tests.unit.engine.delivery:make_domain",
                               "maze": "python:tests.unit.engine.test_learning:maze_domain"},
                      gtpyhop_examples=False, max_nodes=100_000, max_seconds=10.0)
ME = Principal.operator()
FIRE = [
    {"name": "get_axe", "preconditions": {"has": {"axe": False}}, "effects": {"has": {"axe": True}}, "cost": 2},
    {"name": "chop_log", "preconditions": {"has": {"axe": True}}, "effects": {"has": {"wood": True}}, "cost": 4},
    {"name": "collect_branches", "effects": {"has": {"wood": True}}, "cost": 8},
    {"name": "make_fire", "preconditions": {"has": {"wood": True}}, "effects": {"world": {"fire": True}}, "cost": 1},
]
CAMP = {"name": "camp", "vars": {"has": {"axe": False, "wood": False}, "world": {"fire": False}}}


def tools() -> dict[str, Any]:
    return {"name": "s", "vars": {"done": {}, "made": {}}}


def problem(r: Any, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith(slug), r.json()
    return r.json()


# -- GOAP ----------------------------------------------------------------------------------------
async def test_goap_plans_the_cheapest_actions_and_applies_them(service) -> None:
    out = await service.goap(ME, {"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE})
    assert out["plan"] == ["get_axe", "chop_log", "make_fire"] and out["cost"] == 7
    assert out["state"]["vars"]["has"] == {"axe": True, "wood": True}
    none = await service.goap(ME, {"state": CAMP, "goal": {"world": {"rain": True}}, "actions": FIRE})
    assert none["status"] == "no_plan" and none["state"] is None
    tight = await service.goap(ME, {"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE,
                                    "max_nodes": 1})
    assert tight["status"] == "budget_exhausted"


@pytest.mark.parametrize("body,field", [
    ({"goal": {}, "actions": FIRE}, "state"),
    ({"state": CAMP, "goal": {"world": {"fire": True}}, "actions": [FIRE[0], FIRE[0]]}, "actions[1].name"),
    ({"state": CAMP, "goal": {"world": {"fire": True}}, "actions": [{"name": "x", "effects": {}}]},
     "actions[0].effects"),
    ({"state": CAMP, "goal": {"world": {"fire": {"$set": [1]}}}, "actions": [{**FIRE[0], "cost": -1}]},
     "actions[0].cost"),
    ({"state": CAMP, "goal": {"world": "fire"}, "actions": FIRE}, "goal.world"),
    ({"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE, "code": "import os"}, "body"),
    ({"state": {"vars": {"world": ["fire"]}}, "goal": {"world": {"fire": True}}, "actions": FIRE}, "state.world"),
    ({"state": CAMP, "goal": {}, "actions": FIRE, "max_nodes": "many"}, "max_nodes"),
])
async def test_malformed_goap_input_is_an_invalid_request(service, body, field) -> None:
    with pytest.raises(InvalidRequestError) as bad:
        await service.goap(ME, body)
    assert bad.value.fields["field"] == field and bad.value.status == 422


def test_goap_over_http_and_its_bounds(client) -> None:
    r = client.post("/v1/engine/goap", json={"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE})
    assert r.status_code == 200 and r.json()["cost"] == 7
    r = client.post("/v1/engine/goap", json={"state": CAMP, "goal": {}, "actions": FIRE * 200})
    assert r.status_code == 422  # more actions than the route takes
    problem(client.post("/v1/engine/goap", json={"state": CAMP, "goal": {"world": {"fire": [1]}},
                                                 "actions": FIRE}), 422, "engine-invalid-request")


# -- behavior trees ------------------------------------------------------------------------------
async def test_a_tree_executes_tasks_and_repairs_a_refused_drive(service) -> None:
    tree = {"sequence": [{"task": ["deliver", "p1", "c"]}, {"plan": [["deliver", "p2", "d"]]}]}
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(), "tree": tree,
                                      "fail": [["drive", "a", "c"]]})
    assert out["status"] == "success" and out["repairs"] == 1
    assert out["executed"][2] == ["walk", "a", "c"]  # repaired below goto(c); the rest as planned
    assert out["executed"][3:] == delivery.PLAN[3:]
    assert out["state"]["vars"]["at"] == {"robot": "d", "p1": "c", "p2": "d"}


async def test_selector_conditions_decorators_and_predicates(service) -> None:
    done = {"condition": {"at": {"p1": "c"}}}
    walk = {"action": ["walk", "depot", "a"]}
    refused_walk = {"action": ["walk", "b", "a"]}  # the robot is not at b
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(),
                                      "tree": {"selector": [done, {"inverter": refused_walk}, walk]}})
    assert out["status"] == "success" and out["executed"] == []
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(),
                                      "tree": {"sequence": [{"inverter": done}, walk, {"condition": {
                                          "at": {"robot": "a"}}}]}})
    assert out["status"] == "success" and out["executed"] == [["walk", "depot", "a"]]
    # no fuel, and a world that refuses the walk: no repair exists, the task fails; retried (planned
    # afresh) once more, then the tree fails
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(fuel=0),
                                      "fail": [["walk", "depot", "a"]],
                                      "tree": {"retry": {"task": ["goto", "a"]}, "attempts": 2}})
    assert out["status"] == "failure" and out["executed"] == [] and out["ticks"] == 2
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(), "max_ticks": 3,
                                      "tree": {"repeat": {"action": ["walk", "depot", "depot"]}, "times": 50}})
    assert out["status"] == "running" and out["ticks"] == 3 and "max_ticks" in out["message"]
    out = await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(),
                                      "tree": {"timeout": {"repeat": walk, "times": 50}, "ticks": 2}})
    assert out["status"] == "failure"


@pytest.mark.parametrize("tree,field", [
    ({"action": ["teleport", "a"]}, "tree.action"),
    ({"sequence": []}, "tree.sequence"),
    ({"sequence": [walk := {"action": ["walk", "a", "b"]}], "selector": [walk]}, "tree"),
    ({"inverter": walk, "times": 3}, "tree"),
    ({"repeat": walk, "times": 0}, "tree.times"),
    ({"parallel": [walk], "policy": "most"}, "tree.policy"),
    ({"holds": ["road", "a", "b"]}, "tree.holds"),
    ({"python": "exec('x')"}, "tree"),
])
async def test_malformed_trees_are_invalid_requests(service, tree, field) -> None:
    with pytest.raises(InvalidRequestError) as bad:
        await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(), "tree": tree})
    assert bad.value.fields["field"] == field


async def test_tree_size_and_depth_are_bounded(service) -> None:
    deep: dict[str, Any] = {"action": ["walk", "a", "b"]}
    for _ in range(features.MAX_TREE_DEPTH + 1):
        deep = {"inverter": deep}
    with pytest.raises(InvalidRequestError, match="deeper"):
        await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(), "tree": deep})
    wide = {"sequence": [{"action": ["walk", "a", "b"]}] * (features.MAX_TREE_NODES + 1)}
    with pytest.raises(InvalidRequestError, match="500"):
        await service.run_tree(ME, {"domain": "delivery", "state": delivery.state(), "tree": wide})


def test_tree_over_http_bad_domain_and_domain_code(client) -> None:
    r = client.post("/v1/engine/bt/run", json={"domain": "delivery", "state": delivery.state(),
                                               "tree": {"task": ["deliver", "p1", "c"]}})
    assert r.status_code == 200 and r.json()["status"] == "success"
    problem(client.post("/v1/engine/bt/run", json={"domain": "chess", "state": delivery.state(),
                                                   "tree": {"task": ["x"]}}), 404, "engine-unknown-domain")
    # an action called with too few arguments raises in the domain's own code: a 422, not a 500
    problem(client.post("/v1/engine/bt/run", json={"domain": "delivery", "state": delivery.state(),
                                                   "tree": {"action": ["walk"]}}), 422, "engine-domain-code")
    assert client.post("/v1/engine/bt/run", json={"domain": "delivery", "state": delivery.state(),
                                                  "tree": {}, "extra": 1}).status_code == 422


# -- coordination --------------------------------------------------------------------------------
async def test_priority_keeps_the_tool_and_the_loser_is_replanned(service) -> None:
    out = await service.coordinate(ME, {"characters": [
        {"character": "low", "domain": "workshop", "state": tools(), "todo": [["craft", "low", "x"]]},
        {"character": "high", "domain": "workshop", "state": tools(), "todo": [["craft", "high", "x"]],
         "priority": 9}], "resources": {"use": [2]}})
    low, high = out["schedules"]
    assert high["plan"][0] == ["use", "high", "hammer"] and high["delay"] == 0 and not high["replanned"]
    assert low["replanned"] and low["lost_to"] == ["high"] and low["plan"][0] == ["use", "low", "saw"]
    claims = [tuple(c) for s in out["schedules"] for c in s["claims"]]
    assert len(claims) == len(set(claims)) == out["reserved"]


async def test_many_characters_never_double_book_and_some_wait(service) -> None:
    chars = [{"character": f"c{i}", "domain": "workshop", "state": tools(), "todo": [["craft", f"c{i}", "x"]],
              "priority": i % 3} for i in range(12)]
    out = await service.coordinate(ME, {"characters": chars, "resources": {"use": [2], "finish": ["bench"]}})
    claims = [tuple(c) for s in out["schedules"] for c in s["claims"]]
    assert len(claims) == len(set(claims)) and all(s["status"] == "scheduled" for s in out["schedules"])
    assert any(s["delay"] > 0 for s in out["schedules"])
    assert ("0", "bench") not in claims and any(c[1] == "bench" for c in claims)


async def test_a_joint_goal_is_split_among_characters(service) -> None:
    out = await service.coordinate(ME, {
        "characters": [{"character": r, "domain": "delivery", "state": delivery.state()} for r in ("r1", "r2")],
        "joint_goal": {"multigoal": "g", "vars": {"at": {"p1": "c", "p2": "d"}}}})
    r1, r2 = out["schedules"]
    assert r1["goal"]["vars"] == {"at": {"p1": "c"}} and r2["goal"]["vars"] == {"at": {"p2": "d"}}
    assert r1["plan"][-1] == ["unload", "p1"] and r2["plan"][-1] == ["unload", "p2"]


@pytest.mark.parametrize("body,field", [
    ({"characters": []}, "characters"),
    ({"characters": [{"character": "a", "domain": "workshop", "state": {}}] * 2}, "characters[1].character"),
    ({"characters": [{"character": "a", "domain": "workshop", "state": {}}], "resources": {"use": [0]}},
     "resources.use[0]"),
    ({"characters": [{"character": "a", "domain": "workshop", "state": {}}], "resources": {"use": [[2]]}},
     "resources.use[0]"),
    ({"characters": [{"character": "a", "domain": "delivery", "state": {}}],
      "joint_goal": {"multigoal": "g", "vars": {"at": {"p1": "c"}}}, "assign": {"at": {"p1": "zed"}}},
     "assign.at.p1"),
    ({"characters": [{"character": "a", "domain": "delivery", "state": {}}],
      "joint_goal": {"multigoal": "g", "vars": {"at": {"p1": "c"}}}, "assign": {"at": {"p1": ["a"]}}},
     "assign.at.p1"),
    ({"characters": [{"character": "a", "domain": "delivery", "state": {}}],
      "joint_goal": {"multigoal": "g", "vars": {"loc": 5}}}, "joint_goal.vars.loc"),
    ({"characters": [{"character": "a", "domain": "delivery", "state": {}}],
      "joint_goal": {"multigoal": "g", "vars": [1]}}, "joint_goal.vars"),
    ({"characters": [{"character": "a", "domain": "workshop", "state": {}, "priority": "high"}],
      }, "characters[0].priority"),
])
async def test_malformed_coordination_is_an_invalid_request(service, body, field) -> None:
    with pytest.raises(InvalidRequestError) as bad:
        await service.coordinate(ME, body)
    assert bad.value.fields["field"] == field


def test_coordination_over_http(client) -> None:
    r = client.post("/v1/engine/coordinate", json={"characters": [
        {"character": "a", "domain": "workshop", "state": tools(), "todo": [["craft", "a", "x"]]}]})
    assert r.status_code == 200 and r.json()["schedules"][0]["status"] == "scheduled"
    problem(client.post("/v1/engine/coordinate", json={"characters": [
        {"character": "a", "domain": "chess", "state": tools()}]}), 404, "engine-unknown-domain")
    problem(client.post("/v1/engine/coordinate", json={"characters": [
        {"character": "a", "domain": "workshop", "state": tools(), "todo": [["fly"]]}]}), 400, "engine-unknown-item")


# -- repair --------------------------------------------------------------------------------------
async def test_repair_changes_only_the_failed_nodes_steps(service) -> None:
    body = {"domain": "delivery", "state": delivery.state(), "todo": delivery.TODO, "plan": delivery.PLAN}
    out = await service.repair(ME, {**body, "failed": 2})
    assert out["status"] == "repaired" and out["node"] == {"item": ["goto", "c"], "kind": "task"}
    assert out["plan"][:2] == delivery.PLAN[:2] and out["plan"][2] == ["walk", "a", "c"]
    assert out["plan"][3:] == delivery.PLAN[3:] and out["changed"] == [2] and out["remaining"] == out["plan"][2:]
    # the world changed (the tank leaked while p2 was loaded): the drive after it is a walk now
    out = await service.repair(ME, {**body, "failed": 6, "observed": {
        "name": "s", "vars": {"at": {"robot": "b", "p1": "c", "p2": "robot"}, "fuel": {"robot": 0}}}})
    assert out["status"] == "repaired" and out["plan"][6] == ["walk", "b", "d"]
    # nothing below or above the failed step can move p1 without the load: no repair
    out = await service.repair(ME, {**body, "failed": 1})
    assert out["status"] == "no_repair" and out["plan"] is None


async def test_repair_refuses_a_plan_the_state_and_todo_do_not_give(service) -> None:
    body = {"domain": "delivery", "state": delivery.state(), "todo": delivery.TODO, "plan": delivery.PLAN}
    with pytest.raises(PlanMismatchError):
        await service.repair(ME, {**body, "plan": delivery.PLAN[::-1], "failed": 0})
    with pytest.raises(InvalidRequestError) as bad:
        await service.repair(ME, {**body, "failed": 8})
    assert bad.value.fields["field"] == "failed"
    with pytest.raises(UnknownDomainError):
        await service.repair(ME, {**body, "domain": "chess", "failed": 0})


def test_repair_over_http(client) -> None:
    body = {"domain": "delivery", "state": delivery.state(), "todo": delivery.TODO, "plan": delivery.PLAN}
    r = client.post("/v1/engine/repair", json={**body, "failed": 2})
    assert r.status_code == 200 and r.json()["plan"][2] == ["walk", "a", "c"]
    problem(client.post("/v1/engine/repair", json={**body, "plan": [["drive", "depot", "a"]], "failed": 0}),
            409, "engine-plan-mismatch")
    assert client.post("/v1/engine/repair", json={**body, "failed": -1}).status_code == 422


# -- learning ------------------------------------------------------------------------------------
async def test_learning_skips_dead_ends_and_is_kept_per_tenant(service) -> None:
    body = {"domain": "maze", "state": {"name": "s", "vars": {"path": {"me": {"$tuple": []}}, "out": {"me": False}}},
            "todo": [["escape", 10]]}
    cold = await service.plan_learned(ME, body)
    warm = await service.plan_learned(ME, body)
    assert cold["plan"] == warm["plan"] == [["exit"]]
    assert cold["learning"]["hits"] == 0 and warm["learning"]["hits"] == 1
    assert warm["nodes"] * 100 < cold["nodes"]
    stats = await service.learning_stats(ME)
    assert stats["domains"]["maze"]["hits"] == 1 and stats["domains"]["maze"]["entries"] == 1
    other = Principal("u", roles=("editor",), tenant="t2")
    assert (await service.learning_stats(other))["domains"] == {}
    assert (await service.plan_learned(other, body))["learning"]["hits"] == 0
    assert (await service.clear_learning(ME, "maze"))["cleared"] == ["maze"]
    assert (await service.learning_stats(ME))["domains"] == {}
    assert (await service.learning_stats(other))["domains"]["maze"]["entries"] == 1


async def test_learning_caches_are_bounded(service, monkeypatch) -> None:
    from aria_actors.engine import service as module  # the bound is a module constant

    monkeypatch.setattr(module, "LEARN_CACHES", 2)
    for tenant in ("a", "b", "c"):
        await service.plan_learned(Principal("u", tenant=tenant), {
            "domain": "delivery", "state": delivery.state(), "todo": delivery.TODO})
    assert [k[0] for k in service._learned] == ["b", "c"]
    with pytest.raises(UnknownDomainError):
        await service.plan_learned(ME, {"domain": "chess", "state": delivery.state(), "todo": []})
    with pytest.raises(InvalidRequestError):
        await service.plan_learned(ME, {"state": delivery.state(), "todo": []})


def test_learning_over_http(client) -> None:
    body = {"domain": "delivery", "state": delivery.state(), "todo": delivery.TODO}
    assert client.post("/v1/engine/learn", json=body).json()["learning"]["hits"] == 0
    assert client.post("/v1/engine/learn", json=body).json()["learning"]["hits"] > 0
    stats = client.get("/v1/engine/learn/stats", params={"domain": "delivery"}).json()
    assert list(stats["domains"]) == ["delivery"]
    assert client.delete("/v1/engine/learn").json() == {"cleared": ["delivery"]}
    assert client.post("/v1/engine/learn", json={"domain": "delivery"}).status_code == 422
    assert client.get("/v1/engine/learn/stats", params={"domain": "a b"}).status_code == 422
    problem(client.post("/v1/engine/learn", json={"domain": "delivery", "problem": "p9"}), 404,
            "engine-unknown-problem")
