"""The executor's outcome writes are one retried transaction: a deadlock while acknowledging is
retried at once (not left to the flush loop's error path), and every outcome lands once."""

from __future__ import annotations

import logging

import pytest

from aria_actors.queue import admin, producer
from aria_actors.queue.executor import Executor
from aria_actors.queue.registry import Registry
from tests.integration.data.injected import failing_once
from tests.integration.queue.helpers import wait_states

pytestmark = pytest.mark.asyncio(loop_scope="session")

reg = Registry()


@reg.worker(name="echo", queue="acks")
async def echo(job):
    return job.args


@reg.worker(name="fails", queue="acks", max_attempts=1)
async def fails(job):
    raise ValueError("no")


async def test_a_deadlocked_ack_is_retried_and_lands_once(queue_pool, queue_dsn, caplog) -> None:
    ex = Executor(queue_dsn, {"acks": 5}, registry=reg, poll_interval=0.2, stage_interval=None)
    await ex.start()
    try:
        async with failing_once(queue_pool, "aria_queue.jobs", "UPDATE", "40P01",
                                "NEW.state = 'completed'"):
            with caplog.at_level(logging.ERROR, logger="aria.queue.executor"):
                ok = await producer.enqueue(queue_pool, "echo", {"n": 1}, registry=reg)
                bad = await producer.enqueue(queue_pool, "fails", {}, registry=reg)
                await wait_states(queue_pool, [ok.id], {"completed"})
                await wait_states(queue_pool, [bad.id], {"discarded"})
                await ex.drain()
        assert ex._db is not None and ex._db.stats()["retries"] >= 1
        assert not [r for r in caplog.records if "writing job outcomes failed" in r.getMessage()]
        done = await admin.get_job(queue_pool, ok.id)
        assert done.result == {"n": 1} and done.attempt == 1
        assert len((await admin.get_job(queue_pool, bad.id)).errors) == 1
    finally:
        await ex.stop(grace=0.5)


@pytest.mark.parametrize("async_commit, outcome_commit", [(False, "on"), (True, "off")])
async def test_outcomes_wait_for_the_wal_flush_and_claims_do_not(queue_pool, queue_dsn, async_commit,
                                                                  outcome_commit) -> None:
    """Durable by default: the outcome transaction runs with synchronous_commit on, while the
    executor's other writes (claims, heartbeats), which acknowledge nothing, skip the flush."""
    ex = Executor(queue_dsn, {"acks": 2}, registry=reg, poll_interval=0.2, stage_interval=None,
                  async_commit=async_commit)
    await ex.start()
    seen: list[str] = []
    run = ex._db.transaction  # type: ignore[union-attr]

    async def spying(fn, **kw):
        async def body(conn):
            out = await fn(conn)
            seen.append(await conn.fetchval("SHOW synchronous_commit"))
            return out
        return await run(body, **kw)

    ex._db.transaction = spying  # type: ignore[union-attr,method-assign]
    try:
        job = await producer.enqueue(queue_pool, "echo", {"n": 2}, registry=reg)
        await wait_states(queue_pool, [job.id], {"completed"})
        await ex.drain()
        assert seen and set(seen) == {outcome_commit}
        assert await ex._pool.fetchval("SHOW synchronous_commit") == "off"  # claims, heartbeats
    finally:
        await ex.stop(grace=0.5)
