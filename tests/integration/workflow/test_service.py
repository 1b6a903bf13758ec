"""aria_workflow's service on a real PostgreSQL, calling a real aria_storage in-process: documents
validated and versioned, runs with parallel map and branches acting as their starter, signals,
pause/resume, dead letter with retry and skip, editing a paused run, migration, rollback, the
timeline and statistics, and what other callers may not see."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.runtime.errors import AriaError, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.workflow.config import WorkflowSettings
from aria_actors.workflow.errors import InvalidDefinition, InvalidInput, RunStateConflict, UnknownRun
from aria_actors.workflow.service import WorkflowService
from tests.fixtures.postgres import DataClientOverDsn

pytestmark = pytest.mark.asyncio(loop_scope="session")
ANN = Principal(subject="ann", roles=("editor",), tenant="acme")
BEA = Principal(subject="bea", roles=("editor",), tenant="acme")
ZED = Principal(subject="zed", roles=("editor",), tenant="globex")
VIC = Principal(subject="vic", roles=("viewer",), tenant="acme")

STORE_ALL = {
    "name": "store-all",
    "input": {"items": "array", "threshold": "integer"},
    "steps": [
        {"id": "save", "map": {"over": "${input.items}", "concurrency": 2,
                               "do": {"call": {"service": "aria_storage", "method": "put",
                                               "args": {"name": "users/ann/wf/${item}",
                                                        "data": None, "metadata": {"i": "${index}"}}}}}},
        {"id": "count", "needs": ["save"], "set": {"value": "${input.threshold}"}},
        {"id": "decide", "needs": ["count"], "branch": [
            {"when": {"ref": "input.threshold", "op": ">", "value": 1}, "goto": ["big"]},
            {"else": ["small"]}]},
        {"id": "big", "needs": ["decide"], "set": {"value": "big"}},
        {"id": "small", "needs": ["decide"], "set": {"value": "small"}},
        {"id": "done", "needs": ["big", "small"], "join": "any",
         "set": {"value": {"big": "${steps.big.output}", "small": "${steps.small.output}"}}},
    ],
    "output": "${steps.done.output}",
}

WAITER = {
    "name": "waiter",
    "steps": [
        {"id": "approve", "signal": {"name": "approved", "timeout_s": 60}},
        {"id": "after", "needs": ["approve"], "set": {"value": "${steps.approve.output}"}},
    ],
    "output": "${steps.after.output}",
}

BROKEN = {
    "name": "broken",
    "steps": [
        {"id": "first", "set": {"value": 1}},
        {"id": "read", "needs": ["first"],
         "call": {"service": "aria_storage", "method": "info", "args": {"name": "users/ann/missing"}}},
        {"id": "last", "needs": ["read"], "set": {"value": "${steps.read.output}"}},
    ],
    "output": "${steps.last.output}",
}


@pytest.fixture
async def service(tmp_path, fresh_database, shape_storage):
    svc = WorkflowService(AriaSettings(home=tmp_path),
                          config=WorkflowSettings(modules=["aria_actors.workflow.library"], poll_s=0.2,
                                                  heartbeat_s=0.2))
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_workflow"),
                          "aria_storage": shape_storage}))
    yield svc
    await svc.stop()


async def _until(svc: WorkflowService, caller: Principal, run_id: str, states: tuple[str, ...],
                 tries: int = 300) -> dict[str, Any]:
    for _ in range(tries):
        run = await svc.run(caller, run_id)
        if run["state"] in states:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} stayed {run['state']}")


def _with_data(doc: dict[str, Any]) -> dict[str, Any]:
    # storage.put takes bytes; a document passes text (JSON has no bytes): use metadata only
    steps = [dict(s) for s in doc["steps"]]
    steps[0] = {"id": "save", "map": {"over": "${input.items}", "concurrency": 2, "do": {"call": {
        "service": "aria_storage", "method": "put",
        "args": {"name": "users/ann/wf/${item}", "data": "${item}", "metadata": {"i": "${index}"}}}}}}
    return {**doc, "steps": steps}


async def test_health_is_ready_and_python_workflows_are_registered(service):
    health = await service.health()
    assert health.status is Status.READY, health
    names = {d["name"] for d in await service.definitions(ANN)}
    assert {"create-character", "retrain-and-promote"} <= names


async def test_bad_documents_are_refused_with_the_place(service):
    cyclic = {"name": "c", "steps": [{"id": "a", "needs": ["b"], "set": {"value": 1}},
                                     {"id": "b", "needs": ["a"], "set": {"value": 2}}]}
    with pytest.raises(InvalidDefinition) as bad:
        await service.publish(ANN, cyclic)
    assert bad.value.fields["problem"] == "cycle"
    unknown = {"name": "u", "steps": [{"id": "a", "call": {"service": "aria_nowhere", "method": "x", "args": {}}}]}
    with pytest.raises(InvalidDefinition) as bad:
        await service.publish(ANN, unknown)
    assert bad.value.fields["problem"] == "unknown-service" and bad.value.fields["where"].startswith("steps[0]")
    with pytest.raises(InvalidDefinition) as bad:  # aria_workflow itself is not callable from a run
        await service.publish(ANN, {"name": "self", "steps": [
            {"id": "a", "call": {"service": "aria_workflow", "method": "start_run", "args": {"name": "x"}}}]})
    assert bad.value.fields["problem"] == "unknown-service"
    with pytest.raises(InvalidDefinition):
        await service.publish(ANN, "name: [unclosed")
    with pytest.raises(InvalidDefinition) as bad:
        await service.publish(ANN, {**WAITER, "name": "create-character"})
    assert bad.value.fields["problem"] == "name-taken"
    assert await service.definitions(ANN) == [d for d in await service.definitions(ANN) if d["name"] != "c"]


async def test_a_document_run_maps_in_parallel_branches_and_acts_as_its_starter(service):
    doc = _with_data(STORE_ALL)
    doc["steps"][0]["map"]["do"]["call"]["method"] = "search"
    doc["steps"][0]["map"]["do"]["call"]["args"] = {"name_prefix": "users/ann/${item}", "limit": "many"}
    with pytest.raises(InvalidDefinition) as bad:  # limit is an integer
        await service.publish(ANN, doc)
    assert bad.value.fields["problem"] == "type-mismatch"
    assert bad.value.fields["where"] == "steps[0].map.do.call.args.limit"
    doc["steps"][0]["map"]["do"]["call"]["args"]["limit"] = 5
    published = await service.publish(ANN, doc)
    assert published["version"] == 1
    started = await service.start_run(ANN, "store-all", {"items": ["a", "b", "c"], "threshold": 2})
    run = await _until(service, ANN, started["run_id"], ("completed", "dead"))
    assert run["state"] == "completed", run
    assert run["output"] == {"big": "big", "small": None}
    keys = {s["key"]: s["state"] for s in run["steps"]}
    assert {"save[0]", "save[1]", "save[2]"} <= set(keys)
    with pytest.raises(InvalidInput):
        await service.start_run(ANN, "store-all", {"items": "x", "threshold": 2})
    with pytest.raises(UnknownRun):  # another tenant's run does not exist for zed
        await service.run(ZED, started["run_id"])
    assert await service.runs(ZED) == []
    assert [r["run_id"] if "run_id" in r else r["id"] for r in await service.runs(ANN, name="store-all")] == \
        [started["run_id"]]
    timeline = await service.history(ANN, started["run_id"])
    kinds = [e["kind"] for e in timeline["events"]]
    assert kinds[0] == "started" and kinds[-1] == "completed" and "step-completed" in kinds
    stats = await service.stats(ANN, name="store-all")
    assert stats["workflows"]["store-all"]["by_state"] == {"completed": 1}
    assert stats["workflows"]["store-all"]["failure_rate"] == 0.0
    assert any(s["step"] == "aria_storage.search" for s in stats["steps"])


async def test_signals_reach_a_waiting_run_and_finished_runs_refuse_them(service):
    await service.publish(ANN, WAITER)
    run_id = (await service.start_run(ANN, "waiter"))["run_id"]
    await asyncio.sleep(0.3)
    await service.signal(ANN, run_id, "approved", {"by": "boss"})
    run = await _until(service, ANN, run_id, ("completed", "dead"))
    assert run["output"] == {"by": "boss"}
    with pytest.raises(RunStateConflict):
        await service.signal(ANN, run_id, "approved", {})
    with pytest.raises(UnknownRun):
        await service.signal(ZED, run_id, "approved", {})


async def test_pause_resume_and_cancel(service):
    await service.publish(ANN, WAITER)
    run_id = (await service.start_run(ANN, "waiter"))["run_id"]
    await asyncio.sleep(0.3)
    await service.pause(ANN, run_id)
    assert (await _until(service, ANN, run_id, ("paused",)))["state"] == "paused"
    with pytest.raises(RunStateConflict):
        await service.pause(ANN, run_id)
    await service.resume(ANN, run_id)
    await service.signal(ANN, run_id, "approved", 7)
    assert (await _until(service, ANN, run_id, ("completed",)))["output"] == 7
    other = (await service.start_run(ANN, "waiter"))["run_id"]
    await asyncio.sleep(0.3)
    await service.cancel(ANN, other)
    assert (await _until(service, ANN, other, ("cancelled",)))["error"]["type"] == "Cancelled"
    with pytest.raises(AriaError):  # a viewer may read but not control
        await service.cancel(VIC, run_id)


async def test_dead_letter_retry_skip_and_edit(service):
    await service.publish(ANN, BROKEN)
    run_id = (await service.start_run(ANN, "broken"))["run_id"]
    dead = await _until(service, ANN, run_id, ("dead",))
    assert dead["error"]["step"] == "read"
    await service.retry(ANN, run_id)  # fails again: the asset still does not exist
    assert (await _until(service, ANN, run_id, ("dead",)))["state"] == "dead"
    # an operator replaces the failing step of this run only, then resumes it
    await service.edit(ANN, run_id, replace=[{"id": "read", "needs": ["first"], "set": {"value": "patched"}}])
    await service.retry(ANN, run_id)
    done = await _until(service, ANN, run_id, ("completed", "dead"))
    assert done["state"] == "completed" and done["output"] == "patched"
    kinds = [e["kind"] for e in (await service.history(ANN, run_id))["events"]]
    assert "dead-letter" in kinds and "edited" in kinds and "retried" in kinds
    second = (await service.start_run(ANN, "broken"))["run_id"]
    await _until(service, ANN, second, ("dead",))
    await service.skip(ANN, second, {"name": "stand-in"})
    assert (await _until(service, ANN, second, ("completed",)))["output"] == {"name": "stand-in"}
    with pytest.raises(RunStateConflict):
        await service.edit(ANN, second, add=[{"id": "x", "set": {"value": 1}}])


async def test_versions_migration_and_rollback(service):
    await service.publish(ANN, WAITER)
    after = {"id": "after", "needs": ["approve"], "set": {"value": {"v2": "${steps.approve.output}"}}}
    v2 = {**WAITER, "steps": [WAITER["steps"][0], after]}
    run_id = (await service.start_run(ANN, "waiter"))["run_id"]
    assert (await service.publish(ANN, v2))["version"] == 2
    newer = (await service.start_run(ANN, "waiter"))
    assert newer["version"] == 2
    run = await service.run(ANN, run_id)
    assert run["version"] == 1  # a running instance keeps its version
    await asyncio.sleep(0.3)
    await service.pause(ANN, run_id)
    await _until(service, ANN, run_id, ("paused",))
    await service.migrate(ANN, run_id, 2)
    await service.resume(ANN, run_id)
    await service.signal(ANN, run_id, "approved", "yes")
    assert (await _until(service, ANN, run_id, ("completed",)))["output"] == {"v2": "yes"}
    rolled = await service.rollback(ANN, "waiter")
    assert rolled == {"name": "waiter", "current": 1, "previous": 2}
    assert (await service.start_run(ANN, "waiter"))["version"] == 1
    versions = await service.versions(ANN, "waiter")
    assert [r["action"] for r in versions["releases"]][:2] == ["rollback", "publish"]
    with pytest.raises(AriaError):
        await service.migrate(ANN, run_id, 9)
    with pytest.raises(Forbidden):  # Python workflows serve every tenant: rolling one back needs @any
        await service.rollback(ANN, "create-character", 1)


async def test_idempotency_key_and_unknown_names(service):
    await service.publish(ANN, WAITER)
    a = await service.start_run(ANN, "waiter", idempotency_key="order-1")
    b = await service.start_run(ANN, "waiter", idempotency_key="order-1")
    assert a["run_id"] == b["run_id"] and b["created"] is False
    with pytest.raises(AriaError) as unknown:
        await service.start_run(ANN, "nope")
    assert unknown.value.status == 404
    with pytest.raises(AriaError) as bad_version:
        await service.start_run(ANN, "waiter", version=7)
    assert bad_version.value.status == 404
    with pytest.raises(UnknownRun):
        await service.run(ANN, "not-a-uuid")
    await service.cancel(ANN, a["run_id"])


async def test_only_the_starter_rewrites_a_run_and_tenantless_runs_stay_out_of_tenants(service):
    # a run acts with its starter's rights: another editor of the tenant may pause it, not rewrite it
    await service.publish(ANN, BROKEN)
    run_id = (await service.start_run(ANN, "broken"))["run_id"]
    await _until(service, ANN, run_id, ("dead",))
    calls = [service.edit(BEA, run_id, replace=[{"id": "read", "needs": ["first"], "set": {"value": 1}}]),
             service.skip(BEA, run_id, {"x": 1}), service.migrate(BEA, run_id, 1)]
    for call in calls:
        with pytest.raises(Forbidden):
            await call
    operator = Principal(subject="op", roles=("operator",))
    with pytest.raises(Forbidden):  # operators control runs @any, but do not rewrite them
        await service.skip(operator, run_id, None)
    await service.cancel(operator, run_id)
    # an admin's (tenant-less) run is invisible to a tenant's editor and viewer, listed or by id
    admin = Principal(subject="root", roles=("admin",))
    await service.publish(admin, {**WAITER, "name": "ops-waiter"})
    ops_run = (await service.start_run(admin, "ops-waiter"))["run_id"]
    for caller in (ANN, VIC, ZED):
        with pytest.raises(UnknownRun):
            await service.run(caller, ops_run)
        with pytest.raises(UnknownRun):
            await service.signal(caller, ops_run, "approved", 1)
        assert ops_run not in {r["run_id"] for r in await service.runs(caller, limit=100)}
    tenantless_viewer = Principal(subject="tv", roles=("viewer",))
    assert run_id not in {r["run_id"] for r in await service.runs(tenantless_viewer, limit=100)}
    with pytest.raises(Forbidden):  # a shared (tenant-less) definition changes only with @any rights
        await service.publish(Principal(subject="ed", roles=("editor",)), {**WAITER, "name": "ops-waiter"})
    await service.cancel(admin, ops_run)
    await service.start_run(ANN, "broken", idempotency_key="k1")
    with pytest.raises(RunStateConflict):  # someone else's idempotency key does not hand out their run
        await service.start_run(BEA, "broken", idempotency_key="k1")
