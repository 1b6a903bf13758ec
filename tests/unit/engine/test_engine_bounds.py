"""Bounds of the engine's JSON doors (review of the GOAP, behavior tree, coordination, learning and
decision-state methods): each call ends within its budget, holds bounded memory, and answers bad
input with a typed 4xx, never a 500. No database: the decision store is a stand-in."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aria_actors.engine import bt, decisions, goap, learning, wire
from aria_actors.engine.coordination import CharacterRequest, coordinate
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import (
    BudgetExhaustedError,
    DecisionInputError,
    InvalidRequestError,
    StaleDecisionError,
)
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.state import State
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from tests.unit.engine import delivery
from tests.unit.engine.test_features_api import CONFIG, ME, problem  # noqa: F401 (CONFIG: conftest reads it)

COUNTER = {"name": "s", "vars": {"n": {"x": 0}}}  # the built-in aria-health domain: count k -> k x inc


# -- 1. coordination: the delay search jumps, and ends at the call's deadline ---------------------
async def test_long_plans_on_one_resource_wait_in_turn_quickly(service) -> None:
    chars = [{"character": f"c{i}", "domain": "aria-health", "state": COUNTER, "todo": [["count", 1000]],
              "priority": -i} for i in range(12)]
    t0 = time.perf_counter()
    out = await service.coordinate(ME, {"characters": chars, "resources": {"inc": ["lock"]},
                                        "max_delay": 10_000, "max_seconds": 5})
    assert time.perf_counter() - t0 < 5
    assert [s["delay"] for s in out["schedules"][:11]] == [1000 * i for i in range(11)]
    assert out["schedules"][11]["status"] == "unscheduled"  # it would wait 11,000 > max_delay steps
    assert out["reserved"] == 11_000


def _counter_domain() -> Domain:
    d = Domain("counter")

    def inc(s: State) -> State:
        s.n["x"] += 1
        return s

    d.declare_actions(inc)
    d.declare_task_methods("count", lambda s, k: [("inc",)] * k)
    return d


def test_coordinate_stops_at_its_deadline_and_caps_its_claims() -> None:
    d = _counter_domain()
    reqs = [CharacterRequest(f"c{i}", State("s", n={"x": 0}), [("count", 50)]) for i in range(3)]
    with pytest.raises(BudgetExhaustedError) as late:
        coordinate(d, reqs, lambda step: ["lock"], deadline=time.perf_counter() - 1)
    assert late.value.status == 422
    with pytest.raises(InvalidRequestError) as big:
        coordinate(d, reqs, lambda step: ["lock"], max_claims=120)
    assert big.value.fields["field"] == "characters"
    schedules, table = coordinate(d, reqs, lambda step: ["lock"], max_claims=150)
    assert [s.delay for s in schedules] == [0, 50, 100] and len(table) == 150


# -- 2. GOAP: pushed nodes count, total facts capped ---------------------------------------------
def test_goap_counts_pushed_nodes_against_max_nodes() -> None:
    actions = [goap.GoapAction(f"a{i}", effects={("f", f"k{i}"): True}) for i in range(50)]
    r = goap.plan(State("s", f={}), {("f", "never"): True}, actions, max_nodes=10)
    assert r.status == "budget_exhausted" and r.nodes <= 2  # one expansion pushed 50 > 10
    r = goap.plan(State("s", f={}), {("f", "never"): True}, actions, max_nodes=10**6, max_cells=100)
    assert r.status == "budget_exhausted" and r.nodes <= 3


async def test_goap_caps_the_facts_of_all_actions(service) -> None:
    actions = [{"name": f"a{i}", "effects": {"f": {f"k{i}_{j}": True for j in range(500)}}} for i in range(11)]
    with pytest.raises(InvalidRequestError, match="5000"):
        await service.goap(ME, {"state": {"name": "s", "vars": {"f": {}}}, "goal": {"f": {"x": True}},
                                "actions": actions})


# -- 3. behavior trees: plan leaves share one deadline --------------------------------------------
def test_plan_leaves_share_the_deadline(monkeypatch) -> None:
    now = [0.0]
    asked: list[float | None] = []

    def slow_find_plan(*args: Any, budget: Budget | None = None, **kw: Any) -> Any:
        asked.append(budget.max_seconds if budget else None)
        now[0] += 0.6  # each search spends 0.6 s of the shared 1 s
        return find_plan(*args, budget=budget, **kw)

    monkeypatch.setattr(bt, "find_plan", slow_find_plan)
    d = _counter_domain()
    leaves = [bt.RunPlan(d, [("count", 1)], lambda step, s: s, budget=Budget(100, 30.0), deadline=1.0,
                         clock=lambda: now[0]) for _ in range(3)]
    status = bt.Parallel(leaves).tick({"state": State("s", n={"x": 0})})
    assert asked == [pytest.approx(1.0), pytest.approx(0.4)]  # the third leaf had no time: no search
    assert status is bt.Status.RUNNING


async def test_run_tree_ends_within_its_budget_with_many_plan_leaves(service) -> None:
    leaves = [{"task": ["count", 3]} for _ in range(6)]
    out = await service.run_tree(ME, {"domain": "aria-health", "state": COUNTER, "tree": {"parallel": leaves},
                                      "max_seconds": 1})
    assert out["status"] == "success" and out["elapsed_s"] < 1


# -- 4. malformed input is a 4xx ------------------------------------------------------------------
def test_a_fail_step_with_a_list_argument_is_a_422(client) -> None:
    body = {"domain": "delivery", "state": delivery.state(), "tree": {"action": ["walk", "a", "b"]},
            "fail": [["walk", [1], {"x": 1}]]}
    assert problem(client.post("/v1/engine/bt/run", json=body), 422, "engine-invalid-request")["field"] == "fail[0]"


def test_wire_values_are_bounded_in_depth_and_size(client) -> None:
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested"):
        wire.decode_value(deep)
    with pytest.raises(wire.WireError, match="items"):
        wire.decode_value([0] * (wire.MAX_ITEMS + 1))
    assert wire.decode_value({"$tuple": [[1, {"$set": [2]}]]}) == ([1, {2}],)
    with pytest.raises(wire.WireError):
        decisions.check_beliefs({"name": "b", "vars": {"v": {"k": deep}}})
    deep = "x"
    for _ in range(100):  # past the limit, short of what pickling between services allows
        deep = [deep]
    fire = [{"name": "a", "effects": {"f": {"k": 1}}}]
    r = client.post("/v1/engine/goap", json={"state": {"name": "s", "vars": {"f": {"k": deep}}},
                                             "goal": {"f": {"k": 1}}, "actions": fire})
    problem(r, 422, "engine-bad-input")


async def test_a_beliefs_patch_is_checked_before_anything_else() -> None:
    store = decisions.DecisionStore(object())  # never reached: the patch is refused first
    for patch in ({"vars": 5}, {"vars": None}, {"vars": [1, "a"]}, [1]):
        with pytest.raises(DecisionInputError):
            await store.update_beliefs("", "ann", patch)  # type: ignore[arg-type]


# -- 5. stored fields are bounded; lists are summaries --------------------------------------------
def test_stored_fields_are_bounded_in_bytes_count_and_depth() -> None:
    with pytest.raises(DecisionInputError, match="bytes"):
        decisions.check_plan([["say", "x" * 2000]], max_bytes=1024)
    assert decisions.check_plan([["say", "x"]], max_bytes=1024) == [["say", "x"]]
    with pytest.raises(DecisionInputError, match="todo"):
        decisions.check_todo([["go"]] * (decisions.MAX_TODO + 1))
    with pytest.raises(DecisionInputError, match="bytes"):
        decisions.check_todo([["say", "x" * 2000]], max_bytes=1024)
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(DecisionInputError, match="nested"):
        decisions.check_plan([["say", deep]])
    with pytest.raises(DecisionInputError, match="bytes"):
        decisions.check_beliefs({"name": "b", "vars": {"v": {"k": "x" * 2000}}}, max_bytes=1024)


def test_a_listed_state_is_a_summary() -> None:
    from datetime import UTC, datetime  # why: only this test builds a row

    at = datetime(2024, 1, 1, tzinfo=UTC)
    row = {"character": "ann", "tenant": "", "domain": "priced", "status": "executing", "reason": "",
           "step": 1, "steps": 3, "next_step": '["move", "c", "e"]', "version": 4, "created_at": at,
           "updated_at": at}
    out = decisions.summary(row)
    assert out["next"] == ["move", "c", "e"] and out["steps"] == 3 and out["tenant"] is None
    assert not {"plan", "beliefs", "todo"} & set(out)


# -- 6. learning keeps bounded keys ---------------------------------------------------------------
def test_items_with_large_arguments_are_not_learned() -> None:
    assert learning._item_key(("go", "x" * 10_000)) is None
    assert learning._item_key(("go", ["a"])) is None  # unhashable: never a key
    assert learning._item_key(["go", "a"]) == ("go", "a")
    cache = learning.MethodCache()
    assert not cache.known(("go", "x" * 10_000), State("s"))
    assert cache.order(("go", "x" * 10_000), State("s"), ["m"]) == ["m"]


# -- 7-11. the decision-state methods of the service ----------------------------------------------
class FakeStore:
    """What the service asks of DecisionStore, in memory (the PostgreSQL one is in integration)."""

    max_field_bytes = decisions.MAX_FIELD_BYTES

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.refuse_failed = False
        self.unreachable = False

    async def put(self, tenant: str, character: str, *, domain: str, plan: list[Any], beliefs: Any,
                  todo: Any = None, status: str = "executing", reason: str = "",
                  expected_version: int | None = None, event: str = "set", detail: Any = None) -> dict[str, Any]:
        self.calls.append(f"put:{status}")
        if status == "failed" and self.refuse_failed:
            raise StaleDecisionError("someone wrote meanwhile", character=character)
        version = self.rows.get(character, {}).get("version", 0) + 1
        self.rows[character] = {"character": character, "domain": domain, "plan": plan, "beliefs": beliefs,
                                "todo": todo, "status": status, "reason": reason, "version": version,
                                "step": 0}
        return dict(self.rows[character])

    async def get(self, tenant: str, character: str) -> dict[str, Any]:
        self.calls.append("get")
        return dict(self.rows[character])

    async def advance(self, tenant: str, character: str, version: int, *, beliefs: Any = None) -> dict[str, Any]:
        self.calls.append("advance")
        return dict(self.rows[character])

    async def ping(self) -> None:
        if self.unreachable:
            raise OSError("connection refused to 10.0.0.7:5432 (secret host)")


@pytest.fixture
def store(service) -> FakeStore:
    service.decisions = FakeStore()
    return service.decisions


PLAN_BODY = {"domain": "aria-health", "state": COUNTER, "todo": [["count", 3]]}


async def test_a_plan_too_long_to_store_is_a_failed_state(service, store, monkeypatch) -> None:
    monkeypatch.setattr(decisions, "MAX_PLAN_STEPS", 2)
    d = await service.set_decision(ME, "ann", dict(PLAN_BODY))
    assert d["status"] == "failed" and "cannot be stored" in d["reason"] and d["plan"] == []


async def test_any_planning_error_leaves_a_failed_state(service, store, monkeypatch) -> None:
    async def broken(caller: Any, body: Any) -> Any:
        raise RuntimeError("planner bug")

    monkeypatch.setattr(service, "plan", broken)
    with pytest.raises(RuntimeError):
        await service.set_decision(ME, "ann", dict(PLAN_BODY))
    assert store.rows["ann"]["status"] == "failed" and "RuntimeError" in store.rows["ann"]["reason"]

    async def refused(caller: Any, body: Any) -> Any:
        raise BudgetExhaustedError("out of nodes")

    monkeypatch.setattr(service, "plan", refused)
    store.refuse_failed = True  # the failed write meets a 409: the caller still gets the planner's error
    with pytest.raises(BudgetExhaustedError) as err:
        await service.set_decision(ME, "bob", dict(PLAN_BODY))
    assert any("StaleDecisionError" in note for note in err.value.__notes__)


async def test_replan_checks_the_plan_permission_before_reading(service, store) -> None:
    store.rows["ann"] = {"character": "ann", "version": 1, "todo": [["count", 1]], "domain": "aria-health",
                         "beliefs": COUNTER}
    with pytest.raises(AriaError) as denied:
        await service.replan_decision(Principal(subject="svc", roles=("service",)), "ann", {})
    assert denied.value.status == 403 and "get" not in store.calls


async def test_a_stale_simulated_advance_is_a_409_at_once(service, store) -> None:
    await service.set_decision(ME, "ann", dict(PLAN_BODY))
    version = store.rows["ann"]["version"]
    with pytest.raises(StaleDecisionError):
        await service.advance_decision(ME, "ann", version - 1)
    assert "advance" not in store.calls
    with pytest.raises(DecisionInputError):
        await service.advance_decision(ME, "ann", "2")  # type: ignore[arg-type]


def test_a_character_name_ends_at_its_last_character() -> None:
    for bad in ("abc\n", "abc\n\n", "\nabc"):
        with pytest.raises(DecisionInputError):
            decisions.check_character(bad)


async def test_health_shows_totals_and_no_database_error(service, store) -> None:
    service.resumed = {"executing": 2, "planning": 1, "done": 5}
    h = await service.health()
    assert h.details["decisions"] == {"reachable": True, "resumed_executing": 2, "resumed_planning": 1}
    store.unreachable = True
    h = await service.health()
    assert h.details["decisions"] == {"reachable": False}
    assert "secret" not in h.message and "secret" not in str(h.details)
