from __future__ import annotations

from typing import Any

from aria_actors.engine import planner
from aria_actors.engine.domain import Domain
from aria_actors.engine.learning import MethodCache
from aria_actors.engine.state import State


def maze_domain(depth: int = 12) -> Domain:
    """'escape' has a tempting method that explores a dead-end corridor of 2**depth branches."""
    d = Domain("maze")

    def step(s: State, where: str) -> State:
        s.path["me"] = (*s.path["me"], where)
        return s

    def door(s: State) -> State | None:
        return None  # the corridor's door is always locked

    def exit_(s: State) -> State:
        s.out["me"] = True
        return s

    exit_.__name__ = "exit"
    d.declare_actions(step, door, exit_)

    def m_corridor(s: State, n: int) -> list[Any]:
        return [("explore", n)]

    def m_exit(s: State, n: int) -> list[Any]:
        return [("exit",)]

    def m_left(s: State, n: int) -> list[Any] | bool:
        return [("step", f"L{n}"), ("explore", n - 1)] if n > 0 else False

    def m_right(s: State, n: int) -> list[Any] | bool:
        return [("step", f"R{n}"), ("explore", n - 1)] if n > 0 else False

    def m_door(s: State, n: int) -> list[Any] | bool:
        return [("door",)] if n == 0 else False

    d.declare_task_methods("escape", m_corridor, m_exit)
    d.declare_task_methods("explore", m_left, m_right, m_door)
    return d


def test_method_cache_skips_dead_ends_on_repeated_planning() -> None:
    d = maze_domain(10)
    start = State("s", path={"me": ()}, out={"me": False})
    cold = planner.find_plan(d, start, [("escape", 10)], record_tree=True)
    assert cold.plan == [("exit",)]
    cache = MethodCache()
    assert cache.learn(cold) == 1
    warm = planner.find_plan(d, start, [("escape", 10)], method_order=cache.order)
    assert warm.plan == cold.plan
    assert warm.nodes * 100 < cold.nodes
    assert cache.hits == 1
