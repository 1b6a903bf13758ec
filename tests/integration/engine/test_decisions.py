"""aria_engine's decision state on a real PostgreSQL: each character's plan, step and beliefs,
versioned writes, the bounded history, tenants kept apart, and a service restarted against the
same database finding its characters where they were."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from aria_actors.data.migrations import migrate_down, migrate_up
from aria_actors.engine.api import router
from aria_actors.engine.config import EngineConfig
from aria_actors.engine.decisions import DecisionStore
from aria_actors.engine.errors import (
    DecisionInputError,
    DecisionStoreUnavailable,
    DecisionTransitionError,
    StaleDecisionError,
    UnknownCharacterError,
)
from aria_actors.engine.service import EngineService
from aria_actors.engine.wire import WireError
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.runtime.testing import api_app
from tests.fixtures.postgres import DataClientOverDsn
from tests.unit.engine.priced import state

OPS = Principal.operator()
ACME = Principal(subject="ann", roles=("editor",), tenant="acme")
CONFIG = EngineConfig(domains={"workshop": "python:tests.unit.engine.workshop:make_domain",
                               "priced": "python:tests.unit.engine.priced:make_domain"},
                      gtpyhop_examples=False, max_nodes=100_000)
WORKSHOP = {"name": "bob", "vars": {"done": {}, "made": {}}}
pytestmark = pytest.mark.asyncio(loop_scope="session")  # the fixtures' loop: the pool lives on it


async def _started(home, dsn: str) -> EngineService:
    svc = EngineService(AriaSettings(home=home), config=CONFIG)
    await svc.start(Deps({"aria_data": DataClientOverDsn(dsn, "aria_engine")}))
    return svc


@pytest.fixture
async def engine(tmp_path, fresh_database):
    svc = await _started(tmp_path, fresh_database)
    yield svc
    await svc.stop()


async def test_plan_store_advance_to_done_and_survive_a_restart(tmp_path, fresh_database) -> None:
    svc = await _started(tmp_path, fresh_database)
    try:
        d = await svc.set_decision(OPS, "bob", {"domain": "workshop", "state": WORKSHOP,
                                                "todo": [["craft", "bob", "box"]]})
        assert d["status"] == "executing" and d["step"] == 0 and d["steps"] == 3
        assert d["next"] == ["use", "bob", "hammer"] and d["planned"]["status"] == "found"
        assert d["version"] == 2  # planning, then the plan: two writes
        d = await svc.advance_decision(OPS, "bob", d["version"])  # simulated: the action's effect
        assert d["step"] == 1 and d["beliefs"]["vars"]["done"] == {"bob": {"$tuple": ["hammer"]}}
        assert d["beliefs"]["name"] == "bob"
        with pytest.raises(StaleDecisionError) as stale:
            await svc.advance_decision(OPS, "bob", d["version"] - 1)  # that step was counted already
        assert stale.value.status == 409 and stale.value.fields["current"] == d["version"]
        h = await svc.health()
        assert h.status is Status.READY and h.details["decisions"]["reachable"] is True
        assert "executing" not in h.details["decisions"]  # totals resumed at start only, no live counts
    finally:
        await svc.stop()

    again = await _started(tmp_path, fresh_database)  # a restart: the same database, a new service
    try:
        h = await again.health()
        assert h.details["decisions"]["resumed_executing"] == 1
        d = await again.get_decision(OPS, "bob")
        assert d["status"] == "executing" and d["step"] == 1 and d["version"] == 3
        for _ in range(2):
            d = await again.advance_decision(OPS, "bob", d["version"])
        assert d["status"] == "done" and d["step"] == 3 and d["next"] is None
        assert d["beliefs"]["vars"]["made"] == {"bob": "box"}
        with pytest.raises(DecisionTransitionError):
            await again.advance_decision(OPS, "bob", d["version"])
        events = [e["event"] for e in await again.decision_history(OPS, "bob")]
        assert events == ["advance", "advance", "advance", "set", "planning"]
    finally:
        await again.stop()


async def test_no_plan_is_a_failed_state_and_replan_from_changed_beliefs(engine) -> None:
    closed = state([["a", "b"], ["a", "c"], ["a", "d"]])
    d = await engine.set_decision(OPS, "rover", {"domain": "priced", "state": closed, "todo": [["go", "d"]]})
    assert d["status"] == "failed" and d["plan"] == [] and "no_plan" in d["reason"]
    # the character learns the road to c is open after all: replan from its beliefs
    d = await engine.update_beliefs(OPS, "rover", {"vars": {"closed": {"roads": [["a", "b"], ["a", "d"]]}}},
                                    version=d["version"])
    assert d["beliefs"]["vars"]["closed"]["roads"] == [["a", "b"], ["a", "d"]]
    assert d["beliefs"]["vars"]["loc"] == {"me": "a"}  # merged, not replaced
    d = await engine.replan_decision(OPS, "rover", {"optimise_cost": True})
    assert d["status"] == "executing" and d["plan"][0] == ["move", "a", "c"]
    d = await engine.fail_decision(OPS, "rover", "blocked by a cart", version=d["version"])
    assert d["status"] == "failed" and d["reason"] == "blocked by a cart" and d["plan"]
    with pytest.raises(DecisionTransitionError):
        await engine.fail_decision(OPS, "rover", "again")


async def test_a_given_plan_observed_beliefs_and_a_step_that_does_not_apply(engine) -> None:
    plan = [["move", "a", "b"], ["move", "b", "d"]]
    d = await engine.set_decision(OPS, "cart", {"domain": "priced", "plan": plan, "beliefs": state()})
    assert d["status"] == "executing" and d["version"] == 1 and d["todo"] is None
    moved = state()
    moved["vars"]["loc"]["me"] = "b"
    d = await engine.advance_decision(OPS, "cart", 1, beliefs=moved)  # what it observed
    assert d["beliefs"]["vars"]["loc"] == {"me": "b"}
    await engine.update_beliefs(OPS, "cart", {"vars": {"loc": {"me": "a"}}})  # it was pushed back
    d = await engine.get_decision(OPS, "cart")
    with pytest.raises(DecisionTransitionError, match="does not apply"):
        await engine.advance_decision(OPS, "cart", d["version"])  # move b->d from a: replan
    with pytest.raises(DecisionTransitionError, match="no todo list"):
        await engine.replan_decision(OPS, "cart")
    d = await engine.set_decision(OPS, "cart", {"domain": "priced", "plan": [], "beliefs": state(),
                                                "version": d["version"]})
    assert d["status"] == "done"  # nothing to do


async def test_bad_input_unknown_characters_and_stale_versions(engine) -> None:
    with pytest.raises(UnknownCharacterError) as missing:
        await engine.get_decision(OPS, "nobody")
    assert missing.value.status == 404
    with pytest.raises(UnknownCharacterError):
        await engine.advance_decision(OPS, "nobody", 1)
    with pytest.raises(DecisionInputError) as bad:
        await engine.get_decision(OPS, "bad name!")
    assert bad.value.status == 422
    with pytest.raises(DecisionInputError):
        await engine.set_decision(OPS, "c1", {"domain": "priced", "plan": [["", 1]], "beliefs": state()})
    with pytest.raises(WireError):
        await engine.set_decision(OPS, "c1", {"domain": "priced", "plan": [], "beliefs": {"vars": 3}})
    with pytest.raises(DecisionInputError):
        await engine.set_decision(OPS, "c1", {"domain": "priced", "plan": [], "beliefs": state(), "x": 1})
    with pytest.raises(StaleDecisionError):  # nothing stored: version 4 cannot be current
        await engine.set_decision(OPS, "c1", {"domain": "priced", "plan": [], "beliefs": state(), "version": 4})
    with pytest.raises(DecisionInputError):
        await engine.list_decisions(OPS, status="sleeping")
    with pytest.raises(DecisionInputError):
        await engine.list_decisions(OPS, limit=0)
    with pytest.raises(UnknownCharacterError):
        await engine.get_decision(OPS, "c1")  # no failed write left anything behind


async def test_concurrent_advances_count_a_step_once(engine) -> None:
    d = await engine.set_decision(OPS, "race", {"domain": "workshop", "state": WORKSHOP,
                                                "todo": [["craft", "race", "box"]]})
    results = await asyncio.gather(*(engine.advance_decision(OPS, "race", d["version"]) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, StaleDecisionError) for r in results if not isinstance(r, dict))
    assert (await engine.get_decision(OPS, "race"))["step"] == 1


async def test_tenants_are_kept_apart_and_pages_follow_names(engine) -> None:
    for name in ("t1", "t2", "t3"):
        await engine.set_decision(ACME, name, {"domain": "priced", "plan": [["mark", "a"]], "beliefs": state()})
    await engine.set_decision(OPS, "t1", {"domain": "priced", "plan": [], "beliefs": state()})
    first = await engine.list_decisions(ACME, limit=2)
    assert [d["character"] for d in first["items"]] == ["t1", "t2"] and first["next"] == "t2"
    listed = first["items"][0]  # a summary: the plan's length and next step, not the plan or beliefs
    assert (listed["steps"], listed["next"], listed["step"]) == (1, ["mark", "a"], 0)
    assert not {"plan", "beliefs", "todo"} & set(listed)
    rest = await engine.list_decisions(ACME, after=first["next"], limit=2)
    assert [d["character"] for d in rest["items"]] == ["t3"] and rest["next"] is None
    assert {d["tenant"] for d in first["items"] + rest["items"]} == {"acme"}
    mine = await engine.list_decisions(OPS, status="done")
    assert [(d["character"], d["tenant"]) for d in mine["items"]] == [("t1", None)]
    assert (await engine.list_decisions(OPS, status="executing"))["items"] == []
    other = Principal(subject="eve", roles=("editor",), tenant="other")
    with pytest.raises(UnknownCharacterError):
        await engine.get_decision(other, "t2")


async def test_the_history_keeps_the_newest_events(fresh_database, engine) -> None:
    store = DecisionStore(engine._db, max_events=3)
    d = await store.put("", "h", domain="priced", plan=[["mark", "a"]] * 5, beliefs=state())
    for _ in range(4):
        d = await store.advance("", "h", d["version"])
    events = await store.history("", "h")
    assert [(e["event"], e["version"]) for e in events] == [("advance", 5), ("advance", 4), ("advance", 3)]


async def test_without_aria_data_the_engine_plans_but_stores_nothing(tmp_path) -> None:
    svc = EngineService(AriaSettings(home=tmp_path), config=CONFIG)
    await svc.start(Deps())
    try:
        assert (await svc.health()).details["decisions"].startswith("not stored")
        with pytest.raises(DecisionStoreUnavailable) as err:
            await svc.get_decision(OPS, "bob")
        assert err.value.status == 503
    finally:
        await svc.stop()


async def test_the_routes_answer_with_states_and_problems(engine) -> None:
    app = api_app(router, clients={"aria_engine": LocalClient(engine)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria") as http:
        r = await http.put("/v1/engine/characters/ann/decision",
                           json={"domain": "priced", "state": state(), "todo": [["go", "d"]]})
        assert r.status_code == 200 and r.json()["steps"] == 4, r.text
        v = r.json()["version"]
        r = await http.post("/v1/engine/characters/ann/decision/advance", json={"version": v})
        assert r.status_code == 200 and r.json()["step"] == 1
        r = await http.post("/v1/engine/characters/ann/decision/advance", json={"version": v})
        assert r.status_code == 409 and r.json()["type"].endswith("engine-stale-decision")
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await http.patch("/v1/engine/characters/ann/decision/beliefs", json={"vars": {"loc": {"me": "b"}}})
        assert r.status_code == 200 and r.json()["beliefs"]["vars"]["loc"] == {"me": "b"}
        r = await http.post("/v1/engine/characters/ann/decision/replan", json={})
        assert r.status_code == 200 and r.json()["next"] == ["move", "b", "d"], r.text
        r = await http.post("/v1/engine/characters/ann/decision/fail", json={"reason": "tired"})
        assert r.status_code == 200 and r.json()["status"] == "failed"
        r = await http.get("/v1/engine/characters/ann/decision/history", params={"limit": 2})
        assert [e["event"] for e in r.json()] == ["fail", "replan"]
        r = await http.get("/v1/engine/decisions", params={"status": "failed"})
        assert [d["character"] for d in r.json()["items"]] == ["ann"]
        for verb, url, body, status in [
            ("GET", "/v1/engine/characters/bob/decision", None, 404),
            ("GET", "/v1/engine/characters/bad%20name/decision", None, 422),
            ("PUT", "/v1/engine/characters/x/decision", {"domain": "priced", "plan": [["a"]]}, 422),
            ("PUT", "/v1/engine/characters/x/decision", {"domain": "chess", "plan": [], "beliefs": state()}, 404),
            ("PUT", "/v1/engine/characters/x/decision",
             {"domain": "priced", "plan": [], "beliefs": {"vars": {"s": {"$set": [[1]]}}}}, 422),
            ("POST", "/v1/engine/characters/ann/decision/advance", {}, 422),
            ("GET", "/v1/engine/decisions?limit=0", None, 422),
        ]:
            r = await http.request(verb, url, json=body)
            assert r.status_code == status, (verb, url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), (url, r.headers)


async def test_the_migration_goes_down_and_up_again(fresh_database) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate_up(conn, ["aria_data"])
        assert [a.name for a in await migrate_up(conn, ["aria_engine"])] == ["decision_state"]
        assert [a.name for a in await migrate_down(conn, "aria_engine")] == ["decision_state"]
        assert await conn.fetchval("SELECT to_regclass('aria_engine.decision_states')") is None
        assert [a.name for a in await migrate_up(conn, ["aria_engine"])] == ["decision_state"]
    finally:
        await conn.close()
