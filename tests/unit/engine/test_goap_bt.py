from __future__ import annotations

from typing import Any

import pytest

from aria_actors.engine import bt, goap
from aria_actors.engine.domain import Domain
from aria_actors.engine.state import Multigoal, State

ACTIONS = [
    goap.GoapAction("get_axe", {("has", "axe"): False}, {("has", "axe"): True}, cost=2),
    goap.GoapAction("chop_log", {("has", "axe"): True}, {("has", "wood"): True}, cost=4),
    goap.GoapAction("collect_branches", {}, {("has", "wood"): True}, cost=8),
    goap.GoapAction("make_fire", {("has", "wood"): True}, {("world", "fire"): True}, cost=1),
]


def test_goap_finds_the_cheapest_plan_from_a_shared_state() -> None:
    state = State("camp", has={"axe": False, "wood": False}, world={"fire": False})
    r = goap.plan(state, {("world", "fire"): True}, ACTIONS)
    assert r.plan == ["get_axe", "chop_log", "make_fire"]
    assert r.cost == 7
    final = goap.apply_plan(state, r.plan, ACTIONS)
    assert final.world["fire"] is True and state.world["fire"] is False
    expensive_axe = [*ACTIONS[2:], goap.GoapAction("get_axe", {}, {("has", "axe"): True}, cost=20),
                     ACTIONS[1]]
    assert goap.plan(state, Multigoal("g", world={"fire": True}), expensive_axe).plan == [
        "collect_branches", "make_fire"]


def test_goap_no_plan_and_budget() -> None:
    state = State("camp", has={"axe": False, "wood": False}, world={"fire": False})
    assert goap.plan(state, {("world", "rain"): True}, ACTIONS).status == "no_plan"
    assert goap.plan(state, {("world", "fire"): True}, ACTIONS, max_nodes=1).status == "budget_exhausted"
    with pytest.raises(ValueError, match="positive cost"):
        goap.GoapAction("free", {}, {("a", 1): 1}, cost=0)


def test_sequence_selector_and_decorators() -> None:
    bb: dict[str, Any] = {"n": 0}
    fail = bt.Action(lambda b: False, "fail")
    inc = bt.Action(lambda b: b.__setitem__("n", b["n"] + 1) or True, "inc")
    tree = bt.Selector([bt.Sequence([fail, inc]), bt.Inverter(fail), inc])
    assert tree.tick(bb) is bt.Status.SUCCESS
    assert bb["n"] == 0  # the inverter's success short-circuits the selector
    rep = bt.Repeat(inc, 3)
    assert [rep.tick(bb) for _ in range(3)] == [bt.Status.RUNNING, bt.Status.RUNNING, bt.Status.SUCCESS]
    assert bb["n"] == 3
    attempts = {"k": 0}

    def flaky(b: dict[str, Any]) -> bool:
        attempts["k"] += 1
        return attempts["k"] >= 3

    retry = bt.Retry(bt.Action(flaky), attempts=5)
    assert [retry.tick(bb) for _ in range(3)] == [bt.Status.RUNNING, bt.Status.RUNNING, bt.Status.SUCCESS]
    assert bt.Retry(fail, attempts=2).tick(bb) is bt.Status.RUNNING


def test_parallel_and_timeout_with_a_fake_clock() -> None:
    now = {"t": 0.0}
    running = bt.Action(lambda b: bt.Status.RUNNING, "forever")
    timeout = bt.Timeout(running, seconds=5, clock=lambda: now["t"])
    assert timeout.tick({}) is bt.Status.RUNNING
    now["t"] = 6
    assert timeout.tick({}) is bt.Status.FAILURE
    ok = bt.Action(lambda b: True)
    assert bt.Parallel([ok, running], policy="one").tick({}) is bt.Status.SUCCESS
    par = bt.Parallel([ok, running], policy="all")
    assert par.tick({}) is bt.Status.RUNNING
    assert bt.Parallel([ok, bt.Action(lambda b: False)], policy="all").tick({}) is bt.Status.FAILURE
    assert bt.Condition(lambda b: b["x"] > 1).tick({"x": 2}) is bt.Status.SUCCESS


def test_run_plan_node_executes_step_by_step_and_repairs() -> None:
    d = Domain("walkers")

    def step(s: State, where: str) -> State | None:
        s.loc["me"] = where
        return s

    def jump(s: State, where: str) -> State | None:
        s.loc["me"] = where
        return s

    d.declare_actions(step, jump)
    d.declare_task_methods("reach", lambda s, a, b: [("step", a), ("step", b)],
                           lambda s, a, b: [("jump", a), ("jump", b)])

    def execute(action: tuple[Any, ...], state: State) -> State | None:
        if action == ("step", "b"):
            return None
        return d._action_dict[action[0]](state, *action[1:])

    node = bt.RunPlan(d, [("reach", "a", "b")], execute)
    bb: dict[str, Any] = {"state": State("s", loc={"me": "home"})}
    statuses = [node.tick(bb) for _ in range(3)]
    assert statuses == [bt.Status.RUNNING, bt.Status.RUNNING, bt.Status.SUCCESS]
    assert bb["state"].loc["me"] == "b"
    assert bb["executed"][0] == ("step", "a")
    assert ("jump", "b") in bb["executed"]
