"""aria_queue.testing.drain runs jobs inline for other services' tests."""

from __future__ import annotations

import pytest

from aria_actors.queue import producer
from aria_actors.queue.jobs import Snooze
from aria_actors.queue.registry import Registry
from aria_actors.queue.testing import drain

pytestmark = pytest.mark.asyncio(loop_scope="session")

reg = Registry()


@reg.worker(name="fine", queue="d")
async def fine(job):
    return job.args


@reg.worker(name="flaky", queue="d", max_attempts=2, backoff=lambda a: 3600)
async def flaky(job):
    if job.attempt == 1:
        raise RuntimeError("first time fails")


@reg.worker(name="sleepy", queue="d")
async def sleepy(job):
    if not job.meta.get("snoozed"):
        raise Snooze(3600)


async def test_drain_runs_available_jobs(queue_dsn, queue_pool):
    await producer.enqueue(queue_pool, "fine", {"other": "queue"}, registry=reg, queue="elsewhere")
    await producer.enqueue_many(queue_pool, [{"worker": "fine", "args": {"i": i}} for i in range(5)]
                                + [{"worker": "flaky"}], registry=reg)
    assert await drain(queue_dsn, "d", registry=reg) == {"completed": 5, "retryable": 1}


async def test_drain_with_scheduled_runs_retries_and_snoozes(queue_dsn, queue_pool):
    await producer.enqueue_many(queue_pool, [{"worker": "flaky"}, {"worker": "sleepy"},
                                             {"worker": "fine", "schedule_in": 3600}], registry=reg)
    assert await drain(queue_dsn, "d", registry=reg, with_scheduled=True) == {"completed": 3}
    # a second drain finds nothing left to run
    assert await drain(queue_dsn, "d", registry=reg) == {}
