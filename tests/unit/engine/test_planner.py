from __future__ import annotations

import pickle
import sys
import threading

import pytest

from aria_actors.engine import planner
from aria_actors.engine.domain import Domain, goals_not_achieved
from aria_actors.engine.errors import (
    ActionReturnError,
    GoalNotAchievedError,
    MethodReturnError,
    UnknownItemError,
)
from aria_actors.engine.state import Multigoal, State

from .blocks import apply_plan, make_domain, random_problem


def test_200_block_random_blocksworld_has_no_recursion_limit() -> None:
    domain = make_domain()
    state, goal = random_problem(200, seed=7)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # well below the plan's depth: only an iterative planner passes
    try:
        result = planner.find_plan(domain, state, [goal])
    finally:
        sys.setrecursionlimit(old)
    assert result.status == "found"
    assert len(result.plan) > 200
    final = apply_plan(domain, state, result.plan)
    assert not goals_not_achieved(final, goal)


def _counter_domain() -> Domain:
    d = Domain("counter")

    def inc(s: State) -> State:
        s.n["x"] += 1
        return s

    def m_loop(s: State) -> list[object]:
        return [("inc",), ("loop",)]

    d.declare_actions(inc)
    d.declare_task_methods("loop", m_loop)
    return d


def test_node_budget_ends_a_runaway_search() -> None:
    result = planner.find_plan(_counter_domain(), State("s", n={"x": 0}), [("loop",)],
                               budget=planner.Budget(max_nodes=5000))
    assert result.status == "budget_exhausted"
    assert not result
    assert result.plan is None
    assert "budget exhausted" in result.message
    assert result.nodes == 5000


def test_time_budget_ends_a_runaway_search() -> None:
    result = planner.find_plan(_counter_domain(), State("s", n={"x": 0}), [("loop",)],
                               budget=planner.Budget(max_seconds=0.05))
    assert result.status == "budget_exhausted"


def test_backtracking_over_methods_and_actions() -> None:
    d = Domain("bt")

    def put(s: State, v: int) -> State:
        s.flag = v
        return s

    def get(s: State, v: int) -> State | None:
        return s if s.flag == v else None

    d.declare_actions(put, get)
    d.declare_task_methods("put_it", lambda s: [("put", 0), ("get", 1)], lambda s: [("put", 1)])
    d.declare_task_methods("need1", lambda s: [("get", 1), ("put", 2)])
    result = planner.find_plan(d, State("s", flag=-1), [("put_it",), ("need1",)])
    assert result.plan == [("put", 1), ("put", 2)]  # ("get", 1) changes nothing, so it is left out
    greedy = planner.find_plan(d, State("s", flag=-1), [("put_it",), ("need1",)], strategy="greedy")
    assert greedy.status == "no_plan"


def test_unknown_task_names_the_culprit() -> None:
    with pytest.raises(UnknownItemError) as info:
        planner.find_plan(make_domain(), State("s", pos={}), [("fly", "a")])
    assert info.value.fields["name"] == "fly"
    assert "fly" in info.value.message
    assert info.value.problem()["type"].endswith("engine-unknown-item")


def test_not_a_todo_item() -> None:
    with pytest.raises(UnknownItemError, match="not a todo item"):
        planner.find_plan(make_domain(), State("s", pos={}), ["pickup"])


def test_method_returning_a_non_list_names_the_method() -> None:
    d = Domain("bad")

    def m_tuple(s: State) -> tuple[str, ...]:
        return ("x",)

    d.declare_task_methods("t", m_tuple)
    with pytest.raises(MethodReturnError) as info:
        planner.find_plan(d, State("s"), [("t",)])
    assert info.value.fields["method"] == "m_tuple"
    assert info.value.fields["returned"] == "tuple"


def test_action_returning_a_non_state_names_the_action() -> None:
    d = Domain("bad")

    def a_true(s: State) -> bool:
        return True

    d.declare_actions(a_true)
    with pytest.raises(ActionReturnError) as info:
        planner.find_plan(d, State("s"), [("a_true",)])
    assert info.value.fields["action"] == "a_true"


def test_goal_verification_catches_a_lying_method() -> None:
    d = Domain("liar")
    d.declare_unigoal_methods("loc", lambda s, who, where: [])
    with pytest.raises(GoalNotAchievedError):
        planner.find_plan(d, State("s", loc={"a": "x"}), [("loc", "a", "y")])
    ok = planner.find_plan(d, State("s", loc={"a": "x"}), [("loc", "a", "y")], verify_goals=False)
    assert ok.plan == []


def test_goal_on_missing_state_variable() -> None:
    with pytest.raises(UnknownItemError, match="does not have"):
        planner.find_plan(make_domain(), State("s"), [("pos", "a", "table")])


def test_concurrent_plans_on_threads_share_nothing() -> None:
    domain = make_domain()
    problems = [random_problem(12, seed) for seed in range(8)]
    expected = [planner.find_plan(domain, s, [g]).plan for s, g in problems]
    results: dict[int, list[object]] = {}

    def work(i: int) -> None:
        for _ in range(5):
            s, g = problems[i]
            results[i] = planner.find_plan(domain, s, [g]).plan

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(problems))] == expected


def test_state_copy_semantics() -> None:
    s = State("s", pos={"a": "b"}, tags={"x", "y"}, nested={"k": [1, 2]})
    c = s._fork("c")
    c.pos["a"] = "table"
    c.tags.add("z")
    c.nested["k"].append(3)
    assert s.pos == {"a": "b"}
    assert s.tags == {"x", "y"}
    assert s.nested == {"k": [1, 2]}
    assert vars(c)["pos"] == {"a": "table"}
    assert planner.State is State
    public = s.copy()
    assert public.__name__ == "s_copy_0" or public.__name__.startswith("s_copy_")
    assert public == s
    assert pickle.loads(pickle.dumps(c)) == c
    assert c.state_vars() == ["pos", "tags", "nested"]


def test_unchanged_action_is_not_in_the_plan_and_changed_detects_changes() -> None:
    from aria_actors.engine.state import changed

    s = State("s", v={"a": 1})
    c = s._fork("c")
    _ = c.v
    assert not changed(c, s)
    c.v["a"] = 2
    assert changed(c, s)
    d = s._fork("d")
    d.w = 3
    assert changed(d, s)


def test_multigoal_split() -> None:
    from aria_actors.engine.domain import m_split_multigoal

    s = State("s", loc={"a": "x", "b": "y"})
    g = Multigoal("g", loc={"a": "x", "b": "z"})
    assert m_split_multigoal(s, g) == [("loc", "b", "z"), g]


def test_derived_predicates_in_method_preconditions() -> None:
    d = make_domain("blocks_with_predicates")

    def above(s: State, x: str, y: str) -> bool:
        under = s.pos[x]
        while under not in ("table", "hand"):
            if under == y:
                return True
            under = s.pos[under]
        return False

    d.declare_predicates(above)

    def m_dig(s: State, x: str) -> list[object] | bool:
        # Uncover x: only applicable when some block is (transitively) above it.
        tops = [b for b in s.pos if s.clear[b] and d.holds(s, "above", b, x)]
        return [("pos", tops[0], "table"), ("dig", x)] if tops else False

    def m_dug(s: State, x: str) -> list[object] | bool:
        return [] if s.clear[x] else False

    d.declare_task_methods("dig", m_dig, m_dug)
    s = State("s", pos={"a": "b", "b": "c", "c": "table"}, clear={"a": True, "b": False, "c": False},
              holding={"hand": False})
    assert d.holds(s, "above", "a", "c") and not d.holds(s, "above", "c", "a")
    r = planner.find_plan(d, s, [("dig", "c")])
    assert r.plan == [("unstack", "a", "b"), ("putdown", "a"), ("unstack", "b", "c"), ("putdown", "b")]
    with pytest.raises(KeyError, match="no predicate 'below'"):
        d.holds(s, "below", "a", "c")


def test_zero_node_budget_is_exhausted_not_unlimited() -> None:
    r = planner.find_plan(_counter_domain(), State("s", n={"x": 0}), [("loop",)],
                          budget=planner.Budget(max_nodes=0))
    assert r.status == "budget_exhausted" and r.nodes == 1


def test_search_pauses_the_cyclic_gc_and_restores_it_even_on_error() -> None:
    import gc

    seen: list[bool] = []
    d = Domain("gc_probe")

    def probe(s: State) -> State:
        seen.append(gc.isenabled())
        return s

    d.declare_actions(probe)
    assert gc.isenabled()
    assert planner.find_plan(d, State("s"), [("probe",)]).status == "found"
    assert seen == [False] and gc.isenabled()
    with pytest.raises(UnknownItemError):
        planner.find_plan(d, State("s"), [("nope",)])
    assert gc.isenabled()
    gc.disable()
    try:
        planner.find_plan(d, State("s"), [("probe",)])
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()
