from __future__ import annotations

from typing import Any

from aria_actors.engine import planner
from aria_actors.engine.domain import Domain
from aria_actors.engine.state import State


def _routes() -> Domain:
    """Go from a to d through a small graph; the first-found route is not the cheapest."""
    d = Domain("routes")
    edges = {("a", "b"): 5, ("b", "d"): 5, ("a", "c"): 1, ("c", "e"): 1, ("e", "d"): 1, ("a", "d"): 20}

    def move(s: State, src: str, dst: str) -> State | None:
        if s.loc["me"] == src and (src, dst) in edges:
            s.loc["me"] = dst
            return s
        return None

    d.declare_actions(move)
    d.declare_costs(move=lambda s, src, dst: edges[(src, dst)])

    def m_arrived(s: State, dst: str) -> list[Any] | bool:
        return [] if s.loc["me"] == dst else False

    def make_hop(via: str) -> Any:
        def m_hop(s: State, dst: str) -> list[Any] | bool:
            here = s.loc["me"]
            if (here, via) in edges and via not in s.visited["me"]:
                return [("move", here, via), ("mark", via), ("go", dst)]
            return False
        m_hop.__name__ = f"m_hop_{via}"
        return m_hop

    def mark(s: State, node: str) -> State:
        s.visited["me"] = s.visited["me"] | {node}
        return s

    d.declare_actions(mark)
    d.declare_costs(mark=0)
    d.declare_task_methods("go", m_arrived, *(make_hop(v) for v in "bcde"))
    return d


def _state() -> State:
    return State("s", loc={"me": "a"}, visited={"me": frozenset({"a"})})


def test_branch_and_bound_finds_the_cheapest_plan_and_proves_it() -> None:
    d = _routes()
    first = planner.find_plan(d, _state(), [("go", "d")])
    moves = [s for s in first.plan if s[0] == "move"]
    assert moves == [("move", "a", "b"), ("move", "b", "d")]  # cost 10
    best = planner.find_plan(d, _state(), [("go", "d")], optimise_cost=True)
    assert best.status == "found"
    assert [s for s in best.plan if s[0] == "move"] == [("move", "a", "c"), ("move", "c", "e"),
                                                        ("move", "e", "d")]
    assert best.cost == 3
    assert best.optimal is True
    assert best.solutions >= 2


def test_branch_and_bound_within_a_budget_reports_unproved_optimality() -> None:
    d = _routes()
    r = planner.find_plan(d, _state(), [("go", "d")], optimise_cost=True,
                          budget=planner.Budget(max_nodes=12))
    assert r.status == "found"
    assert r.optimal is False
    assert r.cost == 10
    none = planner.find_plan(d, _state(), [("go", "d")], optimise_cost=True,
                             budget=planner.Budget(max_nodes=2))
    assert none.status == "budget_exhausted"


def test_default_cost_is_one_per_action() -> None:
    d = Domain("unit")

    def tick(s: State) -> State:
        s.n["t"] += 1
        return s

    d.declare_actions(tick)
    d.declare_task_methods("two", lambda s: [("tick",), ("tick",)])
    r = planner.find_plan(d, State("s", n={"t": 0}), [("two",)], optimise_cost=True)
    assert r.cost == 2 and r.optimal
