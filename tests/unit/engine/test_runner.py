from __future__ import annotations

import threading

import pytest

from aria_actors.engine.errors import StateNotSerialisableError, UnknownDomainError
from aria_actors.engine.registry import DomainRegistry, UnknownProblemError
from aria_actors.engine.runner import PlanRequest, ensure_serialisable, run_request
from aria_actors.engine.state import Multigoal, State

from .blocks import make_domain


def _registry() -> DomainRegistry:
    r = DomainRegistry({"workshop": "python:tests.unit.engine.workshop:make_domain"})
    r.register("blocks", make_domain(), problems={
        "swap": (State("s", pos={"a": "b", "b": "table"}, clear={"a": True, "b": False},
                       holding={"hand": False}), [Multigoal("g", pos={"b": "a"})])})
    return r


def test_run_request_by_problem_and_by_state() -> None:
    reg = _registry()
    out = run_request(reg, PlanRequest(domain="blocks", problem="swap"))
    assert out["status"] == "found"
    assert out["plan"] == [["unstack", "a", "b"], ["putdown", "a"], ["pickup", "b"], ["stack", "b", "a"]]
    state = State("w", done={}, made={})
    out = run_request(reg, PlanRequest(domain="workshop", state=state, todo=[("craft", "me", "box")]))
    assert out["plan"][-1] == ["finish", "me", "box"]
    assert reg.names() == ["blocks", "workshop"]
    assert "swap" in reg.describe("blocks")["problems"]


def test_unknown_domain_and_problem_name_the_culprit() -> None:
    reg = _registry()
    with pytest.raises(UnknownDomainError) as info:
        run_request(reg, PlanRequest(domain="chess", problem="p1"))
    assert info.value.fields["domain"] == "chess"
    assert info.value.fields["registered"] == ["blocks", "workshop"]
    with pytest.raises(UnknownProblemError):
        run_request(reg, PlanRequest(domain="blocks", problem="nope"))


def test_state_that_cannot_cross_actors_is_refused_naming_the_variable() -> None:
    state = State("s", pos={"a": "table"}, lock={"l": threading.Lock()})
    with pytest.raises(StateNotSerialisableError) as info:
        ensure_serialisable(state, [("x",)])
    assert info.value.fields["variable"] == "lock"
    ensure_serialisable(State("ok", pos={"a": "table"}), [("x",)])
    with pytest.raises(StateNotSerialisableError) as info:
        ensure_serialisable(State("ok"), [("x", lambda: 1)])
    assert info.value.fields["item"] == 0


def test_node_budget_through_a_request() -> None:
    out = run_request(_registry(), PlanRequest(domain="blocks", problem="swap", max_nodes=2))
    assert out["status"] == "budget_exhausted"
    assert "budget exhausted" in out["message"]
