"""Planner forks, the plain views methods see, lent sets and multigoal checks: GTPyhop's answers
in the corners the bundled examples do not reach (each case found by review)."""

from __future__ import annotations

import copy
import pickle

import pytest

from aria_actors.engine.domain import Domain, goals_not_achieved
from aria_actors.engine.errors import DomainCodeError
from aria_actors.engine.planner import find_plan
from aria_actors.engine.state import Multigoal, State, method_view

STRATEGIES = ["dfs", "dfs_eager", "greedy"]


def _inc(s):  # type: ignore[no-untyped-def]
    s.n["v"] += 1
    return s


def _note(s, x):  # type: ignore[no-untyped-def]
    s.log.append(x)
    return s


@pytest.mark.parametrize("strategy", ["dfs", "dfs_eager"])
def test_a_lent_set_the_action_stored_elsewhere_is_not_lent_again(strategy: str) -> None:
    # `alias` stores the set it was lent under a second name; a later action (on a branch that
    # fails) mutates `a`: `b` in the earlier state must not see it, as with GTPyhop's deep copies.
    d = Domain("alias")

    def alias(s):  # type: ignore[no-untyped-def]
        s.b = s.a
        s.n["v"] += 1
        return s

    def mut(s):  # type: ignore[no-untyped-def]
        s.a.add(99)
        return s

    def fail(s):  # type: ignore[no-untyped-def]
        return False

    def check(s):  # type: ignore[no-untyped-def]
        if 99 in s.b:
            return False
        s.n["v"] += 1
        return s

    d.declare_actions(_inc, alias, mut, fail, check)
    d.declare_task_methods("go", lambda s: [("_inc",), ("_inc",), ("alias",), ("sub",)])
    d.declare_task_methods("sub", lambda s: [("_inc",), ("mut",), ("fail",)], lambda s: [("check",)])
    r = find_plan(d, State("s", a={1, 2, 3}, b=None, n={"v": 0}), [("go",)], strategy=strategy)
    assert r.plan == [("_inc",), ("_inc",), ("alias",), ("check",)]


@pytest.mark.xfail(strict=True, reason="known caveat (state.py): methods see nested sets in their "
                   "source's order; rebuilding them per view cost 60% on list-heavy domains")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sets_nested_in_a_dict_iterate_in_the_copied_order_for_methods(strategy: str) -> None:
    gtpyhop = pytest.importorskip("gtpyhop")

    def members() -> set[int]:
        s = set(range(64))
        for x in range(64):
            if x not in (1, 9, 17, 2, 33, 40):
                s.discard(x)
        return s

    def m_go(s):  # type: ignore[no-untyped-def]
        return [("_note", x) for x in s.box["k"]]

    d = Domain("nested")
    d.declare_actions(_inc, _note)
    d.declare_task_methods("go", m_go)
    got = find_plan(d, State("s", box={"k": members()}, n={"v": 0}, log=[]), [("_inc",), ("go",)],
                    strategy=strategy).plan
    # GTPyhop deep-copies the state (and the set inside the dict) before `_inc`
    expected = list(copy.deepcopy(gtpyhop.State("s", box={"k": members()})).box["k"])
    assert [step[1] for step in got[1:]] == expected


def test_a_search_ended_by_a_domain_exception_leaves_no_stale_set_orders() -> None:
    boom = [True]

    def m_go(s):  # type: ignore[no-untyped-def]
        items = sorted(s.tags)
        if boom[0]:
            raise RuntimeError("domain bug")
        return [("_note", x) for x in items]

    d = Domain("stale")
    d.declare_actions(_inc, _note)
    d.declare_task_methods("go", m_go)
    st = State("s", tags={"a", "b"}, n={"v": 0}, log=[])
    with pytest.raises(DomainCodeError):
        find_plan(d, st, [("_inc",), ("go",)])
    st.tags.add("c")  # the caller fixes its state in place and plans again on the same thread
    boom[0] = False
    assert find_plan(d, st, [("_inc",), ("go",)]).plan == [("_inc",), ("_note", "a"), ("_note", "b"), ("_note", "c")]


class _Never:
    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


@pytest.mark.parametrize("value", [float("nan"), _Never()])
def test_a_goal_equal_to_nothing_is_never_achieved_even_by_the_same_object(value: object) -> None:
    # GTPyhop compares with ==; an items view would call an identical object equal
    assert goals_not_achieved(State("s", x={"a": value}), Multigoal("m", x={"a": value})) == {"x": {"a": value}}
    assert goals_not_achieved(State("s", x={}), Multigoal("m", x={"a": None})) == {}  # get() -> None == None


def test_copies_and_pickles_of_a_fork_and_its_view_are_plain_states() -> None:
    root = State("s", a={1, 2}, d={"k": 1})
    fork = root._fork("s")
    assert type(fork) is not State and isinstance(fork, State)
    view = method_view(fork)
    assert type(view) is State and view.a == {1, 2} and method_view(fork) is view
    for made in (copy.deepcopy(fork), pickle.loads(pickle.dumps(fork)), fork.copy(), copy.deepcopy(view)):
        assert type(made) is State and made == root
    vars(fork)["d"]["k"] = 2  # materialised, then changed in place: the cached view is dropped
    assert method_view(fork).d == {"k": 2}
