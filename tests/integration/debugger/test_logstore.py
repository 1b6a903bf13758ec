"""aria_debugger's log collection and search on a real PostgreSQL (its migration, its .sql
queries): records of two services' rings collected once each, searched by words, service, level
and time, a restarted process read from its first record, a ring's losses counted, pruning past
the row cap, and user text that never becomes SQL. The doors are the rings themselves, in process
(the path through Ray and the gateway is tests/e2e/test_features_debugger_logs.py)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from aria_actors.debugger.config import DebuggerSettings
from aria_actors.debugger.service import DebuggerService
from aria_actors.runtime import logring
from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from tests.fixtures.postgres import DataClientOverDsn

pytestmark = pytest.mark.asyncio(loop_scope="session")
ADMIN = Principal("root", ("admin",), kind="user")


class Rings:
    """The ``logs`` door of each service: a ring of its own, replaced to play a restart."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.rings: dict[str, logring.LogRing] = {}

    def ring(self, service: str) -> logring.LogRing:
        if service not in self.rings:
            self.rings[service] = logring.LogRing(service, "node-1", self.capacity)
        return self.rings[service]

    def log(self, service: str, level: int, message: str) -> None:
        self.ring(service).handle(logging.LogRecord(f"aria.{service}", level, __file__, 1, message, (), None))

    async def door(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        assert door == "logs"
        if name not in self.rings:  # a process without a ring
            return {"service": None, "pid": 0, "node": None, "start_id": None, "last_seq": 0, "dropped": 0,
                    "evicted": 0, "records": []}
        return self.rings[name].read(**kwargs)


@pytest.fixture
async def world(tmp_path, fresh_database):
    rings = Rings(capacity=50)
    svc = DebuggerService(AriaSettings(home=tmp_path))
    svc.logs_config = DebuggerSettings(logs_interval_s=3600, logs_prune_interval_s=3600, logs_batch=10,
                                       logs_max_rows=1000)
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_debugger")}, door_of=rings.door))
    yield svc, rings
    await svc.stop()


async def test_records_are_collected_once_and_found(world: tuple[DebuggerService, Rings]) -> None:
    svc, rings = world
    since = time.time() - 1
    rings.log("aria_engine", logging.INFO, "plan blocks found in 12 ms")
    rings.log("aria_engine", logging.ERROR, "planner failed: deadlock on blocks")
    rings.log("aria_storage", logging.WARNING, "disk of /data almost full")
    for i in range(25):  # more than one batch of 10
        rings.log("aria_storage", logging.DEBUG, f"chunk {i} stored")
    assert await svc.collect_logs() == 28
    assert await svc.collect_logs() == 0  # nothing twice
    got = await svc.logs(ADMIN, q="blocks")
    assert [r["message"] for r in got["records"]] == ["planner failed: deadlock on blocks",
                                                      "plan blocks found in 12 ms"]  # newest first
    assert got["records"][0]["level"] == "ERROR" and got["records"][0]["service"] == "aria_engine"
    assert [r["message"] for r in (await svc.logs(ADMIN, q="blocks", level="ERROR"))["records"]] == [
        "planner failed: deadlock on blocks"]
    assert (await svc.logs(ADMIN, service="aria_storage", limit=1000))["count"] == 26
    assert (await svc.logs(ADMIN, service="aria_storage", level="warning"))["count"] == 1
    assert (await svc.logs(ADMIN, q='"almost full" -engine'))["count"] == 1
    assert (await svc.logs(ADMIN, q="chunk", since=since, limit=5))["count"] == 5
    assert (await svc.logs(ADMIN, q="chunk", until=since))["count"] == 0
    # user text is a bound parameter: quotes and SQL are words to look for, nothing more
    assert (await svc.logs(ADMIN, q="'; DROP TABLE aria_debugger.logs; --"))["count"] == 0
    assert (await svc.logs(ADMIN, q="chunk"))["count"] == 25


async def test_a_restart_is_read_from_its_first_record_and_losses_are_counted(
        world: tuple[DebuggerService, Rings]) -> None:
    svc, rings = world
    for i in range(5):
        rings.log("aria_queue", logging.INFO, f"before restart {i}")
    assert await svc.collect_logs() == 5
    del rings.rings["aria_queue"]  # the process restarted: a new ring, numbers from 1 again
    rings.log("aria_queue", logging.INFO, "after restart")
    assert await svc.collect_logs() == 1
    assert (await svc.logs(ADMIN, q="restart", service="aria_queue"))["count"] == 6
    for i in range(80):  # the ring holds 50: 30 are lost before the next collection
        rings.log("aria_queue", logging.INFO, f"flood {i}")
    assert await svc.collect_logs() == 50
    assert svc.log_counts["dropped"] == 30
    health = await svc._logs_health()
    assert health["store"] is True and health["dropped"] == 30 and health["collected"] == 56


async def test_pruning_keeps_the_newest_rows(world: tuple[DebuggerService, Rings]) -> None:
    svc, rings = world
    svc.logs_config = DebuggerSettings(logs_batch=1000, logs_max_rows=1000)
    rings.capacity = 2000
    for i in range(1500):
        rings.log("aria_shape", logging.INFO, f"row {i}")
    assert await svc.collect_logs() == 1500
    assert await svc.prune_logs() == 500
    got = await svc.logs(ADMIN, service="aria_shape", limit=1)
    assert got["records"][0]["message"] == "row 1499"
    assert (await svc.logs(ADMIN, q="row", service="aria_shape", limit=1000))["count"] == 1000


async def test_search_is_503_naming_aria_data_while_its_database_is_down(tmp_path) -> None:
    svc = DebuggerService(AriaSettings(home=tmp_path))
    down = DataClientOverDsn("postgresql://aria@127.0.0.1:1/aria", "aria_debugger")  # nothing listens there
    await svc.start(Deps({"aria_data": down}, door_of=Rings().door))
    try:
        with pytest.raises(ServiceUnavailable) as err:
            await svc.logs(ADMIN, q="anything")
        assert err.value.fields.get("service") == "aria_data"
        assert await svc.collect_logs() == 0 and "store" in svc.log_problems
        assert (await svc._logs_health())["store"] is False
    finally:
        await svc.stop()
