"""aria_debugger's trace store on a real PostgreSQL (its migration 0002, its .sql queries): spans of
two services collected once, read back from the database as a tree and in the listing (also once
the debugger's memory is gone), stored once however often a round repeats, and the reads falling
back to memory when the database is not there. The doors are fakes in process (the path through
Ray and the gateway is tests/e2e/test_features_debugger_tracing.py)."""

from __future__ import annotations

import pytest

from aria_actors.debugger.config import DebuggerSettings
from aria_actors.debugger.service import DebuggerService
from aria_actors.debugger.traces import TraceBuffer
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.tracing_config import TracingSettings
from tests.fixtures.postgres import DataClientOverDsn
from tests.unit.debugger.test_traces import ADMIN, T1, Doors

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def world(tmp_path, fresh_database):
    doors = Doors()

    async def door(name: str, kind: str, timeout_s: float, **kwargs):
        if kind != "spans":  # the log collector's door: no records here
            raise ConnectionError("no such door in this test")
        return await doors(name, kind, timeout_s, **kwargs)

    svc = DebuggerService(AriaSettings(home=tmp_path))
    svc.logs_config = DebuggerSettings(logs_interval_s=3600, logs_prune_interval_s=3600)
    svc.trace_config = TracingSettings(collect_interval_s=3600)
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_debugger")}, door_of=door))
    yield svc, doors
    await svc.stop()


async def test_spans_are_stored_once_and_read_back_as_trees(world: tuple[DebuggerService, Doors]) -> None:
    svc, _ = world
    assert await svc.collect_spans() == 4
    assert svc.traces_health()["trace_store"] is True
    svc._cursors.clear()  # a round that reads the same spans again stores nothing twice
    assert await svc.collect_spans() == 4
    svc.trace_buffer = TraceBuffer(10)  # the debugger's memory gone (a restart): the database answers
    got = await svc.trace(ADMIN, T1)
    assert got["source"] == "database" and got["spans"] == 4
    [root] = got["tree"]
    assert root["name"] == "PUT /v1/storage/assets/{name:path}"
    assert root["attributes"] == {"http.response.status_code": 201}
    [call] = root["children"]
    [serving] = call["children"]
    [query] = serving["children"]
    assert (call["name"], serving["name"], query["name"]) == ("call aria_storage.put", "aria_storage.put",
                                                              "db transaction")
    assert query["parent_id"] == serving["span_id"] and serving["service"] == "aria_storage"
    listing = await svc.traces(ADMIN, service="aria_storage", limit=10)
    assert listing["source"] == "database" and [t["trace_id"] for t in listing["traces"]] == [T1]
    assert listing["traces"][0]["spans"] == 4
    assert (await svc.traces(ADMIN, min_duration_ms=11.0))["traces"] == []


async def test_without_the_database_the_reads_answer_from_memory(world: tuple[DebuggerService, Doors]) -> None:
    svc, _ = world
    store = svc._trace_store = None  # as if aria_data never answered
    svc.deps = Deps({}, door_of=svc.deps._door_of)
    assert await svc.collect_spans() == 4
    got = await svc.trace(ADMIN, T1)
    assert got["source"] == "memory" and got["spans"] == 4 and store is None
    assert (await svc.traces(ADMIN))["source"] == "memory"
