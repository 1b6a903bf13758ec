"""Producing jobs on a real PostgreSQL: bulk, uniqueness under concurrency, bad input, priorities."""

from __future__ import annotations

import asyncio
import math

import asyncpg
import pytest

from aria_actors.queue import producer
from aria_actors.queue.errors import ArgsNotSerializable, InvalidJob, UnknownWorker
from aria_actors.queue.executor import Executor
from aria_actors.queue.registry import Registry, Unique
from tests.integration.queue.helpers import wait_states

pytestmark = pytest.mark.asyncio(loop_scope="session")

reg = Registry()
ORDER: list[int] = []


@reg.worker(name="record", queue="p")
async def record(job):
    ORDER.append(job.args["n"])


@reg.worker(name="uniq", queue="u", unique=Unique(period=None))
async def uniq(job):
    return None


async def count(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM aria_queue.jobs")


@pytest.mark.parametrize("kwargs, error", [
    ({"worker": "nope", "args": {}}, UnknownWorker),
    ({"worker": "record", "args": {"x": object()}}, ArgsNotSerializable),
    ({"worker": "record", "args": {"x": {1, 2}}}, ArgsNotSerializable),
    ({"worker": "record", "args": {"x": math.nan}}, ArgsNotSerializable),
    ({"worker": "record", "args": [1, 2]}, ArgsNotSerializable),
    ({"worker": "record", "args": {}, "priority": -1}, InvalidJob),
    ({"worker": "record", "args": {}, "priority": 10}, InvalidJob),
    ({"worker": "record", "args": {}, "priority": "1"}, InvalidJob),
    ({"worker": "record", "args": {}, "max_attempts": 0}, InvalidJob),
    ({"worker": "record", "args": {}, "schedule_in": -5}, InvalidJob),
])
async def test_bad_input_raises_typed_error_and_inserts_nothing(queue_pool, kwargs, error):
    opts = dict(kwargs)
    with pytest.raises(error):
        await producer.enqueue(queue_pool, opts.pop("worker"), opts.pop("args"), registry=reg, **opts)
    # one bad job in a batch inserts none of the batch
    with pytest.raises(error):
        await producer.enqueue_many(queue_pool, [{"worker": "record", "args": {"n": 1}}, kwargs],
                                    registry=reg)
    assert await count(queue_pool) == 0


async def test_bulk_insert_is_one_statement_in_order(queue_pool):
    jobs = await producer.enqueue_many(
        queue_pool, [{"worker": "record", "args": {"n": i}, "priority": i % 10} for i in range(500)],
        registry=reg)
    assert [j.args["n"] for j in jobs] == list(range(500))
    assert await count(queue_pool) == 500


async def test_uniqueness_under_8_concurrent_producers(queue_dsn, queue_pool):
    async def produce(i: int) -> list[int]:
        conn = await asyncpg.connect(queue_dsn)
        try:
            ids = []
            for k in range(40):
                job = await producer.enqueue(conn, "uniq", {"key": k % 10}, registry=reg)
                ids.append(job.id)
            bulk = await producer.enqueue_many(
                conn, [{"worker": "uniq", "args": {"key": k}} for k in range(10)], registry=reg)
            return ids + [j.id for j in bulk]
        finally:
            await conn.close()

    results = await asyncio.gather(*(produce(i) for i in range(8)))
    rows = await queue_pool.fetch("SELECT args->>'key' AS k, count(*) AS n FROM aria_queue.jobs "
                                  "GROUP BY 1")
    assert {r["k"]: r["n"] for r in rows} == {str(k): 1 for k in range(10)}
    assert len({i for ids in results for i in ids}) == 10  # everyone got one of the 10 jobs


async def test_unique_by_chosen_keys_and_states(queue_pool):
    u = Unique(period=None, keys=("user",), states=("available",))
    a = await producer.enqueue(queue_pool, "record", {"user": 1, "n": 1}, registry=reg, unique=u)
    b = await producer.enqueue(queue_pool, "record", {"user": 1, "n": 2}, registry=reg, unique=u)
    assert b.conflict and b.id == a.id
    await queue_pool.execute("UPDATE aria_queue.jobs SET state = 'completed' WHERE id = $1", a.id)
    c = await producer.enqueue(queue_pool, "record", {"user": 1, "n": 3}, registry=reg, unique=u)
    assert not c.conflict and c.id != a.id


async def test_unique_period_window(queue_pool):
    first = await producer.enqueue(queue_pool, "record", {"n": 1}, registry=reg, unique=3600)
    again = await producer.enqueue(queue_pool, "record", {"n": 1}, registry=reg, unique=3600)
    assert again.conflict and again.id == first.id
    other = await producer.enqueue(queue_pool, "record", {"n": 2}, registry=reg, unique=3600)
    assert not other.conflict


async def test_priorities_are_honoured(queue_dsn, queue_pool):
    ORDER.clear()
    await producer.enqueue_many(
        queue_pool, [{"worker": "record", "args": {"n": p}, "priority": p} for p in
                     (5, 9, 0, 3, 7, 1, 8, 2, 6, 4, 0, 9)], registry=reg)
    ex = Executor(queue_dsn, {"p": 1}, registry=reg, stage_interval=None)
    await ex.start()
    try:
        ids = [r["id"] for r in await queue_pool.fetch("SELECT id FROM aria_queue.jobs")]
        await wait_states(queue_pool, ids, {"completed"})
    finally:
        await ex.stop()
    assert ORDER == sorted(ORDER) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]


async def test_retry_refuses_to_break_uniqueness(queue_pool):
    from aria_actors.queue import admin
    from aria_actors.queue.errors import JobStateConflict

    u = Unique(period=None, states=("available", "scheduled"))
    old = await producer.enqueue(queue_pool, "record", {"n": 1}, registry=reg, unique=u)
    await queue_pool.execute("UPDATE aria_queue.jobs SET state = 'discarded', "
                             "discarded_at = now() WHERE id = $1", old.id)
    new = await producer.enqueue(queue_pool, "record", {"n": 1}, registry=reg, unique=u)
    assert not new.conflict
    with pytest.raises(JobStateConflict):
        await admin.retry(queue_pool, [old.id])
    assert (await admin.get_job(queue_pool, old.id)).state == "discarded"


async def test_fetch_and_stage_use_their_partial_indexes(queue_pool):
    await producer.enqueue_many(queue_pool, [{"worker": "record", "args": {"n": i}}
                                             for i in range(3000)], registry=reg)
    await queue_pool.execute("UPDATE aria_queue.jobs SET state = 'completed' WHERE id % 100 <> 0")
    await queue_pool.execute("ANALYZE aria_queue.jobs")
    fetch = "\n".join(r[0] for r in await queue_pool.fetch(
        "EXPLAIN SELECT id FROM aria_queue.jobs WHERE state = 'available' AND queue = 'p' "
        "ORDER BY priority, scheduled_at, id LIMIT 10 FOR UPDATE SKIP LOCKED"))
    assert "jobs_fetch_idx" in fetch and "Sort" not in fetch, fetch
    stage = "\n".join(r[0] for r in await queue_pool.fetch(
        "EXPLAIN SELECT id FROM aria_queue.jobs WHERE state IN ('scheduled', 'retryable') "
        "AND scheduled_at <= now() ORDER BY scheduled_at, id LIMIT 10"))
    assert "jobs_stage_idx" in stage, stage
