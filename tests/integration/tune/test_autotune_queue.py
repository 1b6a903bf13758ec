"""The auto-tuner on a real aria_queue (an in-process executor over PostgreSQL, no Ray, no
gateway): a queue mis-set to concurrency 1 under jobs that sleep 0.1 s, arriving 20 a second, is
found saturated, raised, measured better from the queue's own numbers (completed jobs, oldest
wait, the wait histogram) and kept; a decrease measures worse and the old value is set again in
the executor. The path through the gateway is tests/e2e/test_features_tune_autotune.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.queue.config import QueueSettings
from aria_actors.queue.service import QueueService
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.tune.autotune_knobs import QUEUE_CONCURRENCY, QueueConcurrency
from aria_actors.tune.autotune_store import MemoryChanges
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore
from tests.unit.tune.fixture_workers import IO_WAIT

pytestmark = pytest.mark.asyncio(loop_scope="session")
OPERATOR = Principal.operator()
EDITOR = Principal("ed", roles=("editor",))
QUEUE = "io"
ARRIVALS_PER_S, WORKLOAD_S = 20, 60


@pytest.fixture
async def queue_service(queue_deps: Deps, tmp_path: Any) -> Any:
    svc = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="local", queues={QUEUE: 1}, worker_modules=["tests.unit.tune.fixture_workers"],
        poll_interval_s=0.2, stage_interval_s=0.2))
    await svc.start(queue_deps)
    yield svc
    await svc.stop()


async def _decided(tune: TuneService, change_id: int) -> dict[str, Any]:
    await asyncio.gather(*list(tune._autotune_tasks.values()))
    return await tune.autotune_change(EDITOR, change_id)


async def test_a_mis_set_queue_is_raised_and_kept_and_a_decrease_rolled_back(queue_service: QueueService) -> None:
    config = TuneSettings(sweep_interval_s=3600, autotune_window_s=3, autotune_settle_s=0.5)
    tune = TuneService(SimpleNamespace(health_timeout_s=5.0), config,
                       store=MemoryStore(), queue=FakeQueue())
    tune.at_knobs = {QUEUE_CONCURRENCY: QueueConcurrency(queue_service)}
    tune.at_store = MemoryChanges()
    events: list[dict[str, Any]] = []

    async def audit(**event: Any) -> None:
        events.append(event)

    tune.at_audit = audit
    await tune.start(Deps())
    jobs = [{"worker": IO_WAIT, "args": {"seconds": 0.1}, "queue": QUEUE, "max_attempts": 1,
             "schedule_in": i / ARRIVALS_PER_S} for i in range(ARRIVALS_PER_S * WORKLOAD_S)]
    ids = [j["id"] for j in await queue_service.enqueue_many(OPERATOR, jobs)]
    try:
        proposal = None
        while proposal is None:  # until the backlog shows with its one slot busy
            await asyncio.sleep(0.5)
            proposal = next(iter((await tune.autotune_scan(EDITOR))["proposed"]), None)
        assert (proposal["target"], proposal["old_value"], proposal["new_value"]) == (QUEUE, 1, 2)
        kept = await _decided(tune, (await tune.autotune_apply(EDITOR, proposal["id"]))["id"])
        print(f"raise: {kept['decision_reason']}; before {kept['before']}, after {kept['after']}")
        assert kept["status"] == "kept", kept
        assert queue_service._local.queues[QUEUE].concurrency == 2
        lower = await tune.autotune_propose(EDITOR, QUEUE_CONCURRENCY, QUEUE, 1)
        back = await _decided(tune, (await tune.autotune_apply(EDITOR, lower["id"]))["id"])
        print(f"decrease: {back['decision_reason']}; before {back['before']}, after {back['after']}")
        assert back["status"] == "rolled_back", back
        await asyncio.sleep(0.5)  # the executor reloads its settings on the NOTIFY
        assert queue_service._local.queues[QUEUE].concurrency == 2
        assert [e["op"] for e in events] == ["tune.autotune.apply", "tune.autotune.set", "tune.autotune.apply",
                                             "tune.autotune.set", "tune.autotune.rollback"]
    finally:
        await tune.stop()
        await queue_service.cancel(OPERATOR, ids)
