"""The state's speed paths give what GTPyhop's deep copies give: lists that grow by appends
(checked for mutable elements only where they changed), set orders whose cycle is found by
identity (period 1) and attribute dicts installed whole (so CPython specialises ``state.x``)."""

from __future__ import annotations

import copy
import dis
import random
import sys

import pytest

from aria_actors.engine.domain import Domain
from aria_actors.engine.planner import find_plan
from aria_actors.engine.state import (
    Multigoal,
    State,
    _flat_list,
    clone_value,
    method_view,
    orbit,
    release_orbits,
)


def _deep(value: object, times: int) -> object:
    for _ in range(times):
        value = copy.deepcopy(value)
    return value


def test_a_copied_list_is_rechecked_only_where_it_grew() -> None:
    release_orbits()
    source = ["a", 1, b"x"]
    grown = clone_value(source)
    assert grown == source and grown is not source
    grown.append(2.5)
    assert _flat_list(grown)  # same prefix, scalar tail
    grown.append({"k": 1})
    assert not _flat_list(grown)  # a mutable element in the tail
    replaced = clone_value(source)
    replaced[0] = ["nested"]
    assert not _flat_list(replaced)  # the prefix changed: full check
    shrunk = clone_value(source)
    shrunk.pop()
    shrunk.append([1])
    assert not _flat_list(shrunk)
    release_orbits()


def test_a_list_that_gets_a_mutable_element_is_deep_copied_from_then_on() -> None:
    # Each action appends; the third appends a dict that a later action changes in place: the
    # earlier states (and the plan) must not see that change, as with GTPyhop's deep copies.
    d = Domain("log")

    def note(s, x):  # type: ignore[no-untyped-def]
        s.log.append(x)
        return s

    def box(s):  # type: ignore[no-untyped-def]
        s.log.append({"n": 0})
        return s

    def bump(s):  # type: ignore[no-untyped-def]
        s.log[-1]["n"] += 1
        return s

    def check(s, n):  # type: ignore[no-untyped-def]
        return s if s.log[-1] == {"n": n} else False

    d.declare_actions(note, box, bump, check)
    d.declare_task_methods("go", lambda s: [("note", "a"), ("note", "b"), ("box",), ("try",)])
    # the first method bumps twice then fails; the second must see the box untouched
    d.declare_task_methods("try", lambda s: [("bump",), ("bump",), ("check", 3)],
                           lambda s: [("check", 0), ("bump",), ("check", 1)])
    for strategy in ("dfs", "dfs_eager"):
        r = find_plan(d, State("s", log=[]), [("go",)], strategy=strategy)
        # (checks change nothing: left out of the plan, as in GTPyhop)
        assert r.plan == [("note", "a"), ("note", "b"), ("box",), ("bump",)]


def test_a_long_appended_log_plans_like_deep_copies() -> None:
    d = Domain("append")

    def add(s, i):  # type: ignore[no-untyped-def]
        s.results.append(b"X" * (i % 7))
        s.count += 1
        return s

    def m_run(s, n):  # type: ignore[no-untyped-def]
        return [("add", i) for i in range(n)] + [("done", n)]

    def done(s, n):  # type: ignore[no-untyped-def]
        return s if len(s.results) == n and s.results == [b"X" * (i % 7) for i in range(n)] else False

    d.declare_actions(add, done)
    d.declare_task_methods("run", m_run)
    start = State("s", results=[], count=0)
    r = find_plan(d, start, [("run", 300)])
    assert r and len(r.plan) == 300  # done() changes nothing: left out, as in GTPyhop
    assert start.results == []  # the caller's state is never changed


@pytest.mark.parametrize("seed", range(20))
def test_set_orders_after_k_copies_match_deepcopy(seed: int) -> None:
    rng = random.Random(seed)
    values: set[object] = set()
    for _ in range(rng.randrange(1, 80)):
        values.add(rng.choice([rng.randrange(1000), f"b{rng.randrange(1000)}"]))
        if values and rng.random() < 0.3:
            values.discard(rng.choice(sorted(values, key=repr)))
    release_orbits()
    for k in (5, 1, 2, 3, 4, 6, 9):
        assert list(orbit(values, k)) == list(_deep(values, k))
    release_orbits()


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="specialised opcode names of CPython 3.11")
def test_states_views_and_multigoals_get_specialised_attribute_loads() -> None:
    ns: dict[str, object] = {}
    exec("def read(s, g):\n    return s.pos, s.clear, g.pos\n", ns)
    read = ns["read"]
    root = State("s", pos={"a": "table"}, clear={"a": True})
    goal = Multigoal("g", pos={"a": "table"})
    view = method_view(root._fork("s"))
    for _ in range(20):
        read(view, goal)  # type: ignore[operator]
        read(State("t", pos={}, clear={}), goal)  # type: ignore[operator]
    ops = [i.opname for i in dis.get_instructions(read, adaptive=True) if i.opname.startswith("LOAD_ATTR")]
    assert ops and "LOAD_ATTR_ADAPTIVE" not in ops and "LOAD_ATTR" not in ops, ops
    assert vars(goal) == {"__name__": "g", "pos": {"a": "table"}}
    goal.on = {"b": "a"}
    assert goal.goals() == {"pos": {"a": "table"}, "on": {"b": "a"}}


def test_a_subclass_keeps_what_it_set_before_calling_state_init() -> None:
    class Mine(State):
        def __init__(self) -> None:
            self.extra = 1
            super().__init__("mine", a={"x": 1})

    m = Mine()
    assert m.extra == 1 and m.a == {"x": 1} and m.__name__ == "mine"
    assert vars(m) == {"extra": 1, "__name__": "mine", "a": {"x": 1}}
