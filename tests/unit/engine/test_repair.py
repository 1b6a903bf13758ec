from __future__ import annotations

from typing import Any

from aria_actors.engine import planner
from aria_actors.engine.domain import Domain
from aria_actors.engine.repair import act, repair_plan
from aria_actors.engine.state import State


def _delivery() -> Domain:
    d = Domain("delivery")

    def load(s: State, pkg: str) -> State | None:
        if s.at[pkg] == s.at["robot"]:
            s.at[pkg] = "robot"
            return s
        return None

    def unload(s: State, pkg: str) -> State | None:
        if s.at[pkg] == "robot":
            s.at[pkg] = s.at["robot"]
            return s
        return None

    def drive(s: State, src: str, dst: str) -> State | None:
        if s.at["robot"] == src and s.fuel["robot"] > 0:
            s.at["robot"] = dst
            s.fuel["robot"] -= 1
            return s
        return None

    def walk(s: State, src: str, dst: str) -> State | None:
        if s.at["robot"] == src:
            s.at["robot"] = dst
            return s
        return None

    def m_deliver(s: State, pkg: str, dst: str) -> list[Any]:
        return [("goto", s.at[pkg]), ("load", pkg), ("goto", dst), ("unload", pkg)]

    def m_stay(s: State, dst: str) -> list[Any] | bool:
        return [] if s.at["robot"] == dst else False

    def m_drive(s: State, dst: str) -> list[Any]:
        return [("drive", s.at["robot"], dst)]

    def m_walk(s: State, dst: str) -> list[Any]:
        return [("walk", s.at["robot"], dst)]

    d.declare_actions(load, unload, drive, walk)
    d.declare_task_methods("deliver", m_deliver)
    d.declare_task_methods("goto", m_stay, m_drive, m_walk)
    return d


def _start() -> State:
    return State("s", at={"robot": "depot", "p1": "a", "p2": "b"}, fuel={"robot": 10})


TODO = [("deliver", "p1", "c"), ("deliver", "p2", "d")]


def test_repair_changes_only_the_subtree_of_the_failed_node() -> None:
    domain = _delivery()
    state = _start()
    original = planner.find_plan(domain, state, TODO, record_tree=True)
    assert original.plan == [("drive", "depot", "a"), ("load", "p1"), ("drive", "a", "c"),
                             ("unload", "p1"), ("drive", "c", "b"), ("load", "p2"),
                             ("drive", "b", "d"), ("unload", "p2")]
    # The car breaks down before step 2 ("drive a c"): re-refine only that goto node.
    before_failure = state
    for step in original.plan[:2]:
        before_failure = domain._action_dict[step[0]](before_failure.copy(), *step[1:])
    fixed = repair_plan(domain, original.plan, original.action_nodes, 2, before_failure, TODO)
    assert fixed is not None
    assert fixed.node is not None and fixed.node.item == ("goto", "c")
    assert fixed.new_plan[:2] == original.plan[:2]
    assert fixed.new_plan[2] == ("walk", "a", "c")
    assert fixed.new_plan[3:] == original.plan[3:]
    # Only positions inside the failed node's span changed.
    changed = [i for i, (a, b) in enumerate(zip(original.plan, fixed.new_plan, strict=True)) if a != b]
    assert changed and all(original.action_nodes[2].parent.start <= i < original.action_nodes[2].parent.end
                           for i in changed)


def test_acting_repairs_a_failed_command_and_finishes() -> None:
    domain = _delivery()
    broken = {("drive", "a", "c")}

    def execute(step: tuple[Any, ...], state: State) -> State | None:
        if step in broken:
            return None  # the world refuses this one
        return domain._action_dict[step[0]](state, *step[1:])

    result = act(domain, _start(), TODO, execute=execute)
    assert result.status == "done"
    assert len(result.repairs) == 1
    assert result.replans == 0
    assert ("walk", "a", "c") in result.executed
    assert result.state.at == {"robot": "d", "p1": "c", "p2": "d"}


def test_acting_repairs_when_the_world_diverges() -> None:
    domain = _delivery()

    def execute(step: tuple[Any, ...], state: State) -> State | None:
        new = domain._action_dict[step[0]](state, *step[1:])
        if new is not None and step == ("load", "p1"):
            new.fuel["robot"] = 0  # a leak: the remaining drives in the plan no longer apply
        return new

    result = act(domain, _start(), TODO, execute=execute)
    assert result.status == "done"
    assert result.repairs
    assert result.state.at["p2"] == "d"
    assert all(step[0] != "drive" for step in result.executed[2:])


def test_acting_gives_up_when_nothing_works() -> None:
    domain = _delivery()
    result = act(domain, _start(), TODO, execute=lambda step, state: None, max_tries=3)
    assert result.status == "failed"
    assert result.executed == []
