"""aria_engine's built features through the gateway of a running `aria up` (the shared one, which
registers tests/unit/engine/priced.py as domain ``priced``): HTN planning with GTPyhop's
domains, action costs and derived predicates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.unit.engine.priced import state


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=60) as client:
        yield client


def _moves(plan: list[list[str]]) -> list[list[str]]:
    return [step for step in plan if step[0] == "move"]


def test_gtpyhop_domains_plan_their_problems(aria: AriaClient) -> None:
    names = {d["name"] for d in aria.engine.list_domains()}
    assert {"gtpyhop-blocksworld-gtohp", "priced"} <= names
    out = aria.engine.plan("gtpyhop-blocksworld-gtohp", problem="BW_rand_11")
    assert out["status"] == "found" and out["plan"], out
    assert {step[0] for step in out["plan"]} <= {"pick_up", "put_down", "stack", "unstack"}


def test_the_cheapest_plan_follows_action_costs_and_a_derived_predicate(aria: AriaClient) -> None:
    described = aria.engine.describe_domain("priced")
    assert described["predicates"] == ["road"] and "go" in described["tasks"]
    first = aria.engine.plan("priced", state=state(), todo=[["go", "d"]])
    assert _moves(first["plan"]) == [["move", "a", "b"], ["move", "b", "d"]]  # found first, cost 10
    best = aria.engine.plan("priced", state=state(), todo=[["go", "d"]], optimise_cost=True)
    assert _moves(best["plan"]) == [["move", "a", "c"], ["move", "c", "e"], ["move", "e", "d"]]
    assert best["cost"] == 3 and best["optimal"] is True
    # the predicate `road` reads the state: with c-e closed, the cheapest way goes through b
    closed, again = aria.engine.plan_many([
        {"domain": "priced", "state": state([["c", "e"]]), "todo": [["go", "d"]], "optimise_cost": True},
        {"domain": "priced", "state": state(), "todo": [["go", "d"]], "optimise_cost": True}])
    assert closed["cost"] == 10 and ["move", "c", "e"] not in closed["plan"]
    assert again["cost"] == 3
