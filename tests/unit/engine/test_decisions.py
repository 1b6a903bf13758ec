"""The decision state's pure parts (no database): checks, belief merging, a step's transition and
its simulated effect, todo encoding; and the `aria engine decision` commands over a stub gateway.
The store itself runs on PostgreSQL in tests/integration/engine/test_decisions.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from aria_actors.engine import cli, wire
from aria_actors.engine.decisions import (
    advanced,
    check_beliefs,
    check_character,
    check_plan,
    encode_todo,
    merge_beliefs,
    simulate_step,
    storable,
)
from aria_actors.engine.errors import DecisionInputError, DecisionTransitionError
from aria_actors.engine.wire import WireError
from tests.unit.engine.priced import make_domain, state

BELIEFS = {"name": "me", "vars": {"loc": {"me": "a", "cart": "b"}, "tags": {"$set": ["x"]}}}


def test_characters_and_plans_are_checked() -> None:
    assert check_character("npc-7:guard.a_b") == "npc-7:guard.a_b"
    for bad in ("", "a b", "x" * 129, 7, None):
        with pytest.raises(DecisionInputError):
            check_character(bad)
    assert check_plan([["move", "a", "b"], ["wait"]]) == [["move", "a", "b"], ["wait"]]
    for bad in ({"a": 1}, [["move"], []], [[1, 2]], [[""]], ["move"]):
        with pytest.raises(DecisionInputError):
            check_plan(bad)
    with pytest.raises(WireError):
        check_beliefs({"vars": []})
    with pytest.raises(DecisionInputError):
        check_beliefs([1])
    with pytest.raises(DecisionInputError):
        storable({"x": object()}, "beliefs")


def test_beliefs_merge_one_level_deep() -> None:
    out = merge_beliefs(BELIEFS, {"vars": {"loc": {"cart": None, "dog": "c"}, "tags": {"$set": ["y"]},
                                           "hp": {"me": 3}}})
    assert out["vars"]["loc"] == {"me": "a", "dog": "c"}  # merged; null removed the cart
    assert out["vars"]["tags"] == {"$set": ["y"]}  # a set is replaced, not merged as an object
    assert out["vars"]["hp"] == {"me": 3} and out["name"] == "me"
    assert BELIEFS["vars"]["loc"] == {"me": "a", "cart": "b"}  # the input is left alone
    with pytest.raises(DecisionInputError):
        merge_beliefs(BELIEFS, {"vars": [1]})


def test_advancing_moves_one_step_and_the_last_one_is_done() -> None:
    current = {"character": "c", "status": "executing", "plan": [["a"], ["b"]], "step": 0,
               "beliefs": BELIEFS, "reason": ""}
    one = advanced(current, None)
    assert (one["step"], one["status"], one["beliefs"]) == (1, "executing", BELIEFS)
    two = advanced(one, {"name": "n", "vars": {}})
    assert (two["step"], two["status"], two["beliefs"]) == (2, "done", {"name": "n", "vars": {}})
    for status in ("done", "failed", "planning"):
        with pytest.raises(DecisionTransitionError):
            advanced({**current, "status": status}, None)


def test_a_simulated_step_applies_the_domains_action() -> None:
    domain = make_domain()
    after = simulate_step(domain, state(), ["move", "a", "c"])
    assert after["vars"]["loc"] == {"me": "c"} and after["name"] == "s"
    with pytest.raises(DecisionTransitionError, match="does not apply"):
        simulate_step(domain, state(), ["move", "b", "d"])  # not at b
    with pytest.raises(DecisionTransitionError, match="no action"):
        simulate_step(domain, state(), ["fly", "a"])
    with pytest.raises(DecisionTransitionError, match="raised"):
        simulate_step(domain, {"vars": {"loc": {}}}, ["move", "a", "c"])  # the action's KeyError


def test_todo_lists_round_trip_through_the_wire_format() -> None:
    todo = [["go", "d"], ["carry", {"$tuple": [1, 2]}], {"multigoal": "g", "vars": {"loc": {"me": "d"}}}]
    assert encode_todo(wire.decode_todo(todo)) == todo


class Gateway:
    """What `_remote` and `gateway_call` would send, answered from canned states."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def __call__(self, verb: str, path: str, body: Any = None) -> Any:
        self.calls.append((verb, path, body))
        if path.endswith("/history"):
            return [{"at": "t", "version": 2, "event": "advance", "step": 1, "status": "executing"}]
        return {"character": "npc 1", "status": "executing", "step": 1, "steps": 2, "domain": "priced",
                "version": 2, "reason": "", "plan": [["move", "a", "c"], ["move", "c", "e"]],
                "beliefs": {"name": "s", "vars": {}}}


def test_the_cli_sends_each_command_to_its_route(tmp_path, monkeypatch) -> None:
    gateway = Gateway()
    monkeypatch.setattr(cli, "_remote", gateway)
    monkeypatch.setattr(cli, "gateway_call", lambda _t, verb, path, **kw: (
        gateway.calls.append((verb, path, kw["params"])) or {"items": [gateway("GET", "x")], "next": "npc 1"}))
    runner = CliRunner()
    s = tmp_path / "s.json"
    s.write_text(json.dumps(state()))
    t = tmp_path / "t.json"
    t.write_text(json.dumps([["go", "d"]]))
    r = runner.invoke(cli.app, ["decision", "show", "npc 1", "--history"])
    assert r.exit_code == 0 and "step 1/2" in r.output and "->   2  move(c, e)" in r.output, r.output
    assert gateway.calls[:2] == [("GET", "/v1/engine/characters/npc%201/decision", None),
                                 ("GET", "/v1/engine/characters/npc%201/decision/history", None)]
    assert runner.invoke(cli.app, ["decision", "set", "n", "priced", "--state", str(s), "--tasks", str(t),
                                   "--version", "3"]).exit_code == 0
    assert gateway.calls[-1] == ("PUT", "/v1/engine/characters/n/decision",
                                 {"domain": "priced", "state": state(), "todo": [["go", "d"]], "version": 3})
    assert runner.invoke(cli.app, ["decision", "advance", "n", "--version", "2"]).exit_code == 0
    assert gateway.calls[-1] == ("POST", "/v1/engine/characters/n/decision/advance",
                                 {"version": 2, "simulate": True})
    r = runner.invoke(cli.app, ["decision", "list", "--status", "executing"])
    assert r.exit_code == 0 and "more: --after npc 1" in r.output
    assert ("GET", "/v1/engine/decisions", {"limit": 50, "status": "executing"}) in gateway.calls
    assert runner.invoke(cli.app, ["decision", "set", "n", "priced"]).exit_code == 2  # nothing to plan
