"""Every state transition of a job, on a real PostgreSQL, with an in-process executor."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from aria_actors.queue import admin, plugins, producer
from aria_actors.queue.executor import Executor
from aria_actors.queue.jobs import Cancel, Discard, Snooze
from aria_actors.queue.registry import Registry
from tests.integration.queue.helpers import states, wait_states

pytestmark = pytest.mark.asyncio(loop_scope="session")

reg = Registry()
RAN: list[tuple[int, int]] = []


@reg.worker(name="ok", queue="t")
async def ok(job):
    RAN.append((job.id, job.attempt))
    return {"echo": job.args}


@reg.worker(name="boom", queue="t", max_attempts=3, backoff=lambda attempt: 0.0)
async def boom(job):
    raise ValueError(f"boom {job.attempt}")


@reg.worker(name="slow_backoff", queue="t", max_attempts=5)
async def slow_backoff(job):
    raise RuntimeError("always")


@reg.worker(name="snoozer", queue="t")
async def snoozer(job):
    raise Snooze(3600)


@reg.worker(name="canceller", queue="t")
async def canceller(job):
    raise Cancel("not needed any more")


@reg.worker(name="discarder", queue="t")
async def discarder(job):
    raise Discard("bad payload")


@reg.worker(name="sleeper", queue="t", timeout=0.2, max_attempts=1)
async def sleeper(job):
    await asyncio.sleep(30)


@reg.worker(name="blocker", queue="t")
async def blocker(job):
    await asyncio.sleep(3600)


GATE = asyncio.Event()


@reg.worker(name="gated", queue="t")
async def gated(job):
    await GATE.wait()
    return "late"


@reg.worker(name="plain", queue="t")
def plain(job):
    return job.args["x"] * 2


@pytest.fixture
async def executor(queue_dsn):
    ex = Executor(queue_dsn, {"t": 5}, registry=reg, poll_interval=0.2, stage_interval=None)
    await ex.start()
    yield ex
    await ex.stop(grace=0.5)


async def test_available_to_completed_records_result(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "ok", {"a": 1}, registry=reg)
    assert job.state == "available"
    await wait_states(queue_pool, [job.id], {"completed"})
    got = await admin.get_job(queue_pool, job.id)
    assert got.result == {"echo": {"a": 1}}
    assert got.attempt == 1 and got.completed_at is not None and got.errors == []
    assert got.attempted_by[1] == executor.uuid


async def test_plain_function_runs_in_a_thread(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "plain", {"x": 21}, registry=reg)
    await wait_states(queue_pool, [job.id], {"completed"})
    assert (await admin.get_job(queue_pool, job.id)).result == 42


async def test_raising_max_attempts_times_ends_discarded_with_every_error(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "boom", {}, registry=reg)
    for attempt in (1, 2):
        await wait_states(queue_pool, [job.id], {"retryable"})
        assert (await admin.get_job(queue_pool, job.id)).attempt == attempt
        assert await plugins.stage(queue_pool) == {"t": 1}
    await wait_states(queue_pool, [job.id], {"discarded"})
    got = await admin.get_job(queue_pool, job.id)
    assert got.attempt == 3 and got.discarded_at is not None
    assert [e["attempt"] for e in got.errors] == [1, 2, 3]
    assert [e["error"] for e in got.errors] == ["ValueError: boom 1", "ValueError: boom 2",
                                               "ValueError: boom 3"]
    assert all("Traceback" in e["traceback"] for e in got.errors)


async def test_retry_follows_default_backoff(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "slow_backoff", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"retryable"})
    row = await queue_pool.fetchrow(
        "SELECT extract(epoch FROM scheduled_at - attempted_at) AS d FROM aria_queue.jobs "
        "WHERE id = $1", job.id)
    # attempt 1: 15 + 2**1 = 17 s, plus up to 10 % jitter (and the flush delay)
    assert 17.0 <= float(row["d"]) <= 17 * 1.1 + 1.0
    assert await plugins.stage(queue_pool) == {}  # not due: stays retryable
    assert (await states(queue_pool, [job.id]))[job.id] == "retryable"


async def test_snooze_schedules_without_spending_an_attempt(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "snoozer", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"scheduled"})
    got = await admin.get_job(queue_pool, job.id)
    assert got.max_attempts == 21 and got.meta["snoozed"] == 1
    assert got.scheduled_at > datetime.now(UTC) + timedelta(minutes=59)


async def test_cancel_and_discard_from_inside_a_job(queue_pool, executor):
    c = await producer.enqueue(queue_pool, "canceller", {}, registry=reg)
    d = await producer.enqueue(queue_pool, "discarder", {}, registry=reg)
    await wait_states(queue_pool, [c.id], {"cancelled"})
    await wait_states(queue_pool, [d.id], {"discarded"})
    assert (await admin.get_job(queue_pool, c.id)).errors[0]["error"] == "not needed any more"
    assert (await admin.get_job(queue_pool, d.id)).errors[0]["kind"] == "discard"


async def test_timeout_fails_the_attempt(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "sleeper", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"discarded"})
    err = (await admin.get_job(queue_pool, job.id)).errors[0]
    assert err["kind"] == "timeout" and "0.2" in err["error"]


async def test_operator_cancels_waiting_and_executing_jobs(queue_pool, executor):
    running = await producer.enqueue(queue_pool, "blocker", {}, registry=reg)
    await wait_states(queue_pool, [running.id], {"executing"})
    waiting = await producer.enqueue(queue_pool, "ok", {}, registry=reg, schedule_in=3600)
    assert waiting.state == "scheduled"
    out = await admin.cancel(queue_pool, [running.id, waiting.id])
    assert out == {"cancelled": [waiting.id], "signalled": [running.id]}
    await wait_states(queue_pool, [running.id, waiting.id], {"cancelled"})


async def test_scheduled_job_does_not_run_early_then_runs_when_due(queue_pool, executor):
    RAN.clear()
    job = await producer.enqueue(queue_pool, "ok", {"s": 1}, registry=reg, schedule_in=3600)
    assert await plugins.stage(queue_pool) == {}
    executor.queues["t"].wake.set()
    await asyncio.sleep(0.3)  # give the executor a chance to (wrongly) pick it up
    assert (await states(queue_pool, [job.id]))[job.id] == "scheduled"
    assert (job.id, 1) not in RAN
    await queue_pool.execute("UPDATE aria_queue.jobs SET scheduled_at = now() WHERE id = $1", job.id)
    assert await plugins.stage(queue_pool) == {"t": 1}
    await wait_states(queue_pool, [job.id], {"completed"})


async def test_dead_letter_list_retry_and_cancel(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "discarder", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"discarded"})
    dead = await admin.list_jobs(queue_pool, state="discarded")
    assert [j.id for j in dead] == [job.id]
    assert await admin.retry(queue_pool, [job.id]) == [job.id]
    await wait_states(queue_pool, [job.id], {"discarded"})  # it discards itself again
    got = await admin.get_job(queue_pool, job.id)
    assert got.attempt == 2 and got.max_attempts == 20 and len(got.errors) == 2
    later = await producer.enqueue(queue_pool, "ok", {}, registry=reg, schedule_in=3600)
    assert (await admin.cancel(queue_pool, [later.id]))["cancelled"] == [later.id]
    assert await admin.retry(queue_pool, [later.id]) == [later.id]
    await wait_states(queue_pool, [later.id], {"completed"})


async def test_insert_inside_callers_transaction(queue_pool, executor):
    async with queue_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        job = await producer.enqueue(conn, "ok", {"tx": 1}, registry=reg)
        await tx.rollback()
    assert await states(queue_pool, [job.id]) == {}
    async with queue_pool.acquire() as conn, conn.transaction():
        job = await producer.enqueue(conn, "ok", {"tx": 2}, registry=reg)
    await wait_states(queue_pool, [job.id], {"completed"})


async def test_lifeline_rescues_jobs_of_a_dead_producer(queue_pool):
    job = await producer.enqueue(queue_pool, "ok", {}, registry=reg)
    last = await producer.enqueue(queue_pool, "ok", {"last": 1}, registry=reg, max_attempts=1)
    # A producer that claimed both jobs and died without a word.
    await queue_pool.execute(
        "UPDATE aria_queue.jobs SET state = 'executing', attempt = 1, "
        "attempted_at = now() - interval '1 hour', attempted_by = ARRAY['gone', $1]",
        "00000000-0000-0000-0000-000000000001")
    assert await plugins.rescue(queue_pool, after=60) == {"available": 1, "discarded": 1}
    got = await admin.get_job(queue_pool, job.id)
    assert got.state == "available" and got.errors[0]["kind"] == "orphaned"
    assert (await admin.get_job(queue_pool, last.id)).state == "discarded"


async def test_lifeline_spares_live_producers(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "blocker", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"executing"})
    await queue_pool.execute(
        "UPDATE aria_queue.jobs SET attempted_at = now() - interval '1 hour' WHERE id = $1", job.id)
    assert await plugins.rescue(queue_pool, after=60) == {}
    assert (await states(queue_pool, [job.id]))[job.id] == "executing"


async def test_pruner_deletes_only_old_finished_jobs(queue_pool, executor):
    jobs = [await producer.enqueue(queue_pool, "ok", {"i": i}, registry=reg) for i in range(3)]
    await wait_states(queue_pool, [j.id for j in jobs], {"completed"})
    await queue_pool.execute("UPDATE aria_queue.jobs SET completed_at = now() - interval '2 days' "
                             "WHERE id = $1", jobs[0].id)
    waiting = await producer.enqueue(queue_pool, "ok", {}, registry=reg, schedule_in=3600)
    assert await plugins.prune(queue_pool, retention=86400) == 1
    assert set(await states(queue_pool)) == {jobs[1].id, jobs[2].id, waiting.id}


async def test_errors_are_json_lists(queue_pool, executor):
    job = await producer.enqueue(queue_pool, "boom", {}, registry=reg, max_attempts=1)
    await wait_states(queue_pool, [job.id], {"discarded"})
    raw = await queue_pool.fetchval("SELECT errors FROM aria_queue.jobs WHERE id = $1", job.id)
    assert isinstance(json.loads(raw), list)


async def test_operator_cancels_an_available_job(queue_pool):
    job = await producer.enqueue(queue_pool, "ok", {}, registry=reg, queue="nobody-runs-this")
    assert job.state == "available"
    assert await admin.cancel(queue_pool, [job.id]) == {"cancelled": [job.id], "signalled": []}
    got = await admin.get_job(queue_pool, job.id)
    assert got.state == "cancelled" and got.cancelled_at is not None


async def test_migrations_go_down_and_up_again(fresh_database):
    import asyncpg

    from aria_actors.data.migrations import migrate_down
    from aria_actors.queue.schema import apply_migrations

    column = ("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'aria_queue' "
              "AND table_name = 'jobs' AND column_name = 'enqueued_by'")
    assert await apply_migrations(fresh_database) == ["0001_jobs", "0002_enqueued_by"]
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval(column) == 1
        await migrate_down(conn, "aria_queue")  # 0002 only: jobs stay, who enqueued them goes
        assert await conn.fetchval(column) == 0
        assert await conn.fetchval("SELECT to_regclass('aria_queue.jobs')") is not None
        await migrate_down(conn, "aria_queue")
        assert await conn.fetchval("SELECT to_regclass('aria_queue.jobs')") is None
    finally:
        await conn.close()
    assert await apply_migrations(fresh_database) == ["0001_jobs", "0002_enqueued_by"]


async def test_late_ack_of_a_rescued_attempt_changes_nothing(queue_pool, executor):
    GATE.clear()
    job = await producer.enqueue(queue_pool, "gated", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"executing"})
    # meanwhile the lifeline gave the job to another node, which claimed it again
    other = "00000000-0000-0000-0000-0000000000aa"
    await queue_pool.execute("UPDATE aria_queue.jobs SET attempt = attempt + 1, "
                             "attempted_by = ARRAY['other', $2] WHERE id = $1", job.id, other)
    GATE.set()
    while executor.queues["t"].running:
        await asyncio.sleep(0.01)
    await executor.drain()
    got = await admin.get_job(queue_pool, job.id)
    assert got.state == "executing" and got.attempted_by == ["other", other] and got.result is None


async def test_scheduled_jobs_never_start_before_scheduled_at(queue_dsn, queue_pool):
    ex = Executor(queue_dsn, {"t": 5}, registry=reg, poll_interval=0.05, stage_interval=0.05)
    await ex.start()
    try:
        jobs = [await producer.enqueue(queue_pool, "ok", {"i": i}, registry=reg,
                                       schedule_in=0.1 + 0.05 * i) for i in range(6)]
        assert {j.state for j in jobs} == {"scheduled"}
        await wait_states(queue_pool, [j.id for j in jobs], {"completed"})
    finally:
        await ex.stop()
    early = await queue_pool.fetchval(
        "SELECT count(*) FROM aria_queue.jobs WHERE attempted_at < scheduled_at")
    assert early == 0


async def test_stop_records_unfinished_jobs_as_failed_attempts(queue_dsn, queue_pool):
    ex = Executor(queue_dsn, {"t": 5}, registry=reg, poll_interval=0.05, stage_interval=None)
    await ex.start()
    job = await producer.enqueue(queue_pool, "blocker", {}, registry=reg)
    await wait_states(queue_pool, [job.id], {"executing"})
    await ex.stop(grace=0.1)
    got = await admin.get_job(queue_pool, job.id)
    assert got.state == "retryable" and got.errors[0]["kind"] == "shutdown"
    assert await queue_pool.fetchval("SELECT count(*) FROM aria_queue.producers") == 0
