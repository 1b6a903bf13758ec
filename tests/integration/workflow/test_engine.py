"""The workflow engine on a real PostgreSQL: steps recorded once and replayed after an engine
dies, retries, dead letter, compensation, durable sleeps, signals, parallel branches, pause."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.data.pool import Database
from aria_actors.runtime.principal import Principal
from aria_actors.workflow import definition
from aria_actors.workflow.definition import step, workflow
from aria_actors.workflow.engine import Engine
from aria_actors.workflow.store import WorkflowStore
from tests.fixtures.postgres import DataClientOverDsn

pytestmark = pytest.mark.asyncio(loop_scope="session")
ANN = Principal(subject="ann", roles=("editor",), tenant="acme")
CALLS: dict[str, int] = {}
GATE: dict[str, asyncio.Event] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@step
def add(a: int, b: int) -> int:
    _count(f"add{a}")
    return a + b


@step(retries=2, backoff_s=0.01)
def flaky(tag: str) -> str:
    _count(tag)
    if CALLS[tag] < 3:
        raise RuntimeError(f"attempt {CALLS[tag]} of {tag} fails")
    return tag


@step
def always_fails() -> None:
    raise ValueError("no")


def _undo(result: Any, tag: str) -> None:
    _count(f"undo:{tag}")


@step(compensate=_undo)
def booked(tag: str) -> str:
    return f"booked {tag}"


@workflow(name="t-sum", version=1, input={"n": "integer"})
async def t_sum(ctx, inp):
    total = 0
    for i in range(inp["n"]):
        total = await ctx.step(add, i, total)
        if i == 2 and "hold" in GATE:
            await GATE["hold"].wait()
    return {"total": total}


@workflow(name="t-flaky", version=1)
async def t_flaky(ctx, inp):
    return await ctx.step(flaky, inp)


@workflow(name="t-dead", version=1)
async def t_dead(ctx, inp):
    await ctx.step(add, 100, 1)
    await ctx.step(always_fails)


@workflow(name="t-saga", version=1, on_failure="compensate")
async def t_saga(ctx, inp):
    await ctx.step(booked, "hotel")
    await ctx.step(booked, "car")
    await ctx.step(always_fails)


@workflow(name="t-wait", version=1)
async def t_wait(ctx, inp):
    await ctx.sleep(0.2)
    payload = await ctx.wait_signal("go", timeout_s=30)
    try:
        await ctx.wait_signal("never", timeout_s=0.1)
    except Exception as exc:  # the body may recover from a timeout
        return {"payload": payload, "late": type(exc).__name__}
    return {"payload": payload}


@workflow(name="t-fan", version=1)
async def t_fan(ctx, inp):
    async def branch(c, i=0):
        return await c.step(add, 1000 + i, i)

    return await ctx.parallel([lambda c, i=i: branch(c, i) for i in range(10)], limit=3)


async def _resolve(row: dict[str, Any]) -> definition.WorkflowDef:
    found = definition.get(row["name"], row["version"])
    assert found is not None
    return found


@pytest.fixture
async def store(fresh_database):
    data = DataClientOverDsn(fresh_database, "aria_workflow")
    await data.call("migrate", Principal.internal("aria_workflow"), "aria_workflow")
    db = await Database.connect(fresh_database, name="aria_workflow", min_size=1, max_size=4)
    yield WorkflowStore(db)
    await db.close()


async def _engine(store: WorkflowStore, owner: str = "e1") -> Engine:
    engine = Engine(store, _resolve, owner=owner, lease_s=30, heartbeat_s=0.2, poll_s=0.2)
    await engine.start()
    return engine


async def test_steps_recorded_once_and_replayed_after_the_engine_dies(store):
    CALLS.clear()
    GATE["hold"] = asyncio.Event()
    try:
        first = await _engine(store, "e1")
        run_id, created = await first.submit(definition.get("t-sum", 1), {"n": 6}, ANN, tenant="acme")
        assert created
        for _ in range(200):
            if CALLS.get("add2"):
                break
            await asyncio.sleep(0.02)
        await first.stop(grace_s=0)  # interrupted while step 3 waits: its lease is released
        GATE["hold"].set()
        second = await _engine(store, "e2")
        assert await second.wait(run_id, 30) == "completed"
        run = await store.run(run_id)
        assert run["state"] == "completed" and run["output"] == {"total": 15}
        assert CALLS["add0"] == 1 and CALLS["add1"] == 1  # completed steps never ran again
        steps = await store.steps(run_id)
        assert [s["key"] for s in steps] == ["1", "2", "3", "4", "5", "6"]
        await second.stop()
    finally:
        GATE.pop("hold", None)


async def test_idempotency_key_returns_the_earlier_run(store):
    engine = await _engine(store)
    a, created_a = await engine.submit(definition.get("t-flaky", 1), "k", ANN, idempotency_key="once")
    b, created_b = await engine.submit(definition.get("t-flaky", 1), "k", ANN, idempotency_key="once")
    assert (a, created_a, created_b) == (b, True, False)
    await engine.wait(a, 30)
    await engine.stop()


async def test_retries_then_success_and_dead_letter(store):
    CALLS.clear()
    engine = await _engine(store)
    ok, _ = await engine.submit(definition.get("t-flaky", 1), "f1", ANN)
    dead, _ = await engine.submit(definition.get("t-dead", 1), None, ANN)
    assert await engine.wait(ok, 30) == "completed"
    assert await engine.wait(dead, 30) == "dead"
    assert CALLS["f1"] == 3
    history = await store.history(ok)
    assert [h["kind"] for h in history] == ["retry", "retry"]
    run = await store.run(dead)
    assert run["error"]["step"] == "2" and run["error"]["type"] == "ValueError"
    assert await store.failed_steps(dead) == ["2"]
    await engine.stop()


async def test_compensation_runs_in_reverse(store):
    CALLS.clear()
    engine = await _engine(store)
    run_id, _ = await engine.submit(definition.get("t-saga", 1), None, ANN)
    assert await engine.wait(run_id, 30) == "failed"
    keys = [s["key"] for s in await store.steps(run_id)]
    assert keys == ["1", "2", "3", "compensate:2", "compensate:1"]
    assert CALLS == {"undo:hotel": 1, "undo:car": 1}
    await engine.stop()


async def test_sleep_and_signals(store):
    engine = await _engine(store)
    run_id, _ = await engine.submit(definition.get("t-wait", 1), None, ANN)
    await asyncio.sleep(0.5)
    await store.add_signal(run_id, "go", {"ok": True}, "ann")
    engine.notify_signal(run_id, "go")
    assert await engine.wait(run_id, 30) == "completed"
    run = await store.run(run_id)
    assert run["output"] == {"payload": {"ok": True}, "late": "SignalTimeout"}
    await engine.stop()


async def test_parallel_branches_with_a_limit(store):
    engine = await _engine(store)
    run_id, _ = await engine.submit(definition.get("t-fan", 1), None, ANN)
    assert await engine.wait(run_id, 30) == "completed"
    run = await store.run(run_id)
    assert run["output"] == [1000 + 2 * i for i in range(10)]
    keys = {s["key"] for s in await store.steps(run_id)}
    assert keys == {f"1.{i}/1" for i in range(10)}
    await engine.stop()


async def test_pause_and_resume(store):
    CALLS.clear()
    GATE["hold"] = asyncio.Event()
    try:
        engine = await _engine(store)
        run_id, _ = await engine.submit(definition.get("t-sum", 1), {"n": 5}, ANN)
        for _ in range(200):
            if CALLS.get("add2"):
                break
            await asyncio.sleep(0.02)
        assert engine.request(run_id, "pause")
        GATE["hold"].set()
        assert await engine.wait(run_id, 30) == "paused"
        assert (await store.run(run_id))["state"] == "paused"
        assert await store.resume(run_id, ["paused"])
        await engine.claim()
        assert await engine.wait(run_id, 30) == "completed"
        assert CALLS["add0"] == 1
        await engine.stop()
    finally:
        GATE.pop("hold", None)
