"""Ray worker actors run jobs; killing them mid-run loses no job."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from aria_actors.queue import admin, plugins, producer
from aria_actors.queue.registry import default_registry
from tests.integration.queue import ray_jobs  # registers it.flaky / it.echo here too
from tests.integration.queue.helpers import wait_states

pytestmark = pytest.mark.asyncio(loop_scope="session")
MODULES = ["tests.integration.queue.ray_jobs"]
assert ray_jobs.flaky.worker_name in default_registry


async def test_worker_actors_run_jobs_and_scale(ray_session, queue_dsn, queue_pool):
    from aria_actors.queue.workers import WorkerPool

    pool = WorkerPool(queue_dsn, MODULES, executor_options={"poll_interval": 0.2})
    try:
        assert await pool.scale("ray", 2, concurrency=4) == 2
        jobs = await producer.enqueue_many(
            queue_pool, [{"worker": "it.echo", "args": {"i": i}} for i in range(40)])
        await wait_states(queue_pool, [j.id for j in jobs], {"completed"})
        pids = {(await admin.get_job(queue_pool, j.id)).result["pid"] for j in jobs}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        assert await pool.scale("ray", 1) == 1
        stats = await pool.stats()
        assert len(stats) == 1 and stats[0]["queues"]["ray"]["concurrency"] == 4
    finally:
        await pool.shutdown(grace=1)


async def test_scale_many_starts_every_queue(ray_session, queue_dsn):
    from aria_actors.queue.workers import WorkerPool

    pool = WorkerPool(queue_dsn, MODULES, executor_options={"poll_interval": 0.2})
    try:
        assert await pool.scale_many({"ray": (1, 3), "other": (2, 1)}) == {"ray": 1, "other": 2}
        queues = sorted((q, v["concurrency"]) for st in await pool.stats() for q, v in st["queues"].items())
        assert queues == [("other", 1), ("other", 1), ("ray", 3)]
    finally:
        await pool.shutdown(grace=1)


async def chaos(ray_session, dsn, pool_db, n_jobs: int, kills: int) -> None:
    """Run ``n_jobs`` flaky jobs on 3 actors, killing actors ``kills`` times mid-run, then check
    every job ended as its attempts dictate."""
    import ray

    from aria_actors.queue.workers import WorkerPool

    await pool_db.execute("CREATE TABLE IF NOT EXISTS runs (job_id bigint, attempt int)")
    await pool_db.execute("TRUNCATE runs")
    opts = {"poll_interval": 0.2, "heartbeat_interval": 0.3}
    pool = WorkerPool(dsn, MODULES, executor_options=opts)
    try:
        await pool.scale("chaos", 3, concurrency=20)
        ids: list[int] = []
        for start in range(0, n_jobs, 1000):
            batch = await producer.enqueue_many(
                pool_db, [{"worker": "it.flaky", "args": {"i": i}, "meta": {"dsn": dsn}}
                          for i in range(start, min(start + 1000, n_jobs))])
            ids.extend(j.id for j in batch)
        assert len(ids) == n_jobs
        done_target = n_jobs // (kills + 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 600  # a ceiling so a broken run fails instead of hanging
        for k in range(kills):
            # wait for progress, then kill one actor: alternately ray.kill and SIGKILL
            while await pool_db.fetchval("SELECT count(*) FROM aria_queue.jobs WHERE state IN "
                                         "('completed','discarded')") < done_target * (k + 1) * 0.8:
                assert loop.time() < deadline, "no progress"
                await plugins.stage(pool_db)
                await asyncio.sleep(0.05)
            victim = pool.actors["chaos"][k % 3]
            if k % 2 == 0:
                ray.kill(victim, no_restart=True)
            else:
                os.kill(await victim.pid.remote(), signal.SIGKILL)
            await asyncio.sleep(0.1)
            await pool.reconcile({"chaos": 20})
        while loop.time() < deadline:
            await plugins.stage(pool_db)
            await plugins.rescue(pool_db, after=1.5)
            left = await pool_db.fetchval("SELECT count(*) FROM aria_queue.jobs WHERE state NOT IN "
                                          "('completed','discarded')")
            if left == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        await pool.shutdown(grace=1)

    rows = await pool_db.fetch("SELECT id, state::text AS state, attempt, max_attempts, errors "
                               "FROM aria_queue.jobs")
    runs: dict[int, set[int]] = {}
    for r in await pool_db.fetch("SELECT job_id, attempt FROM runs"):
        runs.setdefault(r["job_id"], set()).add(r["attempt"])
    assert len(rows) == n_jobs and {r["id"] for r in rows} == set(ids)  # none missing
    by_state: dict[str, int] = {}
    orphaned = 0
    import json

    for r in rows:
        by_state[r["state"]] = by_state.get(r["state"], 0) + 1
        errors = json.loads(r["errors"])
        # one error per failed attempt, in order; a planned failure or an orphaned attempt
        assert [e["attempt"] for e in errors] == list(range(1, len(errors) + 1)), r
        for e in errors:
            if e["kind"] == "orphaned":
                orphaned += 1
            else:
                assert e["kind"] == "error" and ray_jobs.fails(r["id"], e["attempt"]), (r, e)
        if r["state"] == "completed":
            assert len(errors) == r["attempt"] - 1 and not ray_jobs.fails(r["id"], r["attempt"])
            assert r["attempt"] in runs.get(r["id"], set())  # the successful attempt really ran
        else:
            assert r["state"] == "discarded", r
            assert r["attempt"] == r["max_attempts"] == len(errors) == 3
    assert set(by_state) <= {"completed", "discarded"}
    print(f"chaos: {n_jobs} jobs {by_state}, orphaned attempts {orphaned}, kills {kills}")


async def test_no_job_lost_1000_jobs_two_kills(ray_session, queue_dsn, queue_pool):
    await chaos(ray_session, queue_dsn, queue_pool, 1000, kills=2)


@pytest.mark.slow
async def test_no_job_lost_10000_jobs_six_kills(ray_session, queue_dsn, queue_pool):
    await chaos(ray_session, queue_dsn, queue_pool, 10_000, kills=6)


async def test_cross_service_job_runs_in_the_owning_service(ray_session, queue_dsn, queue_pool):
    import ray

    from aria_actors.queue.errors import JobNotAllowed, UnknownWorker
    from aria_actors.queue.registry import Registry
    from aria_actors.queue.workers import WorkerPool
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.runtime.shell import ActorShell

    spec = ray_jobs.EchoService.SPEC
    shell = ray.remote(num_cpus=0)(ActorShell).options(name=spec.name).remote(spec, AriaSettings())
    await shell.start.remote(())
    producer_reg = Registry(services={spec.name: ray_jobs.EchoService})
    admin_ = Principal("a1", ("admin",))
    pool = WorkerPool(queue_dsn, MODULES, executor_options={"poll_interval": 0.2})
    try:
        await pool.scale("svc", 1, concurrency=2)
        ok = await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "hi"},
                                    queue="svc", registry=producer_reg, enqueued_by=admin_)
        bad = await producer.enqueue(queue_pool, "service:aria_qtest_echo.refuse", {},
                                     queue="svc", max_attempts=1, registry=producer_reg,
                                     enqueued_by=admin_)
        # enqueued as an admin, then its recorded enqueuer is a plain user (as if inserted around
        # the enqueue check): the target service refuses it, and the queue does not retry (5
        # attempts allowed, 1 made)
        weak = await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "x"},
                                      queue="svc", max_attempts=5, registry=producer_reg,
                                      enqueued_by=admin_)
        await queue_pool.execute("UPDATE aria_queue.jobs SET enqueued_by = $1 WHERE id = $2",
                                 json.dumps(Principal("u1", ("user",)).to_dict()), weak.id)
        await wait_states(queue_pool, [ok.id], {"completed"})
        await wait_states(queue_pool, [bad.id, weak.id], {"discarded"})
        result = (await admin.get_job(queue_pool, ok.id)).result
        assert result["text"] == "HI" and result["as"] == "a1"  # ran as its enqueuer
        # it ran in the service's own actor process, not in the worker actor or here
        assert result["pid"] == (await shell.placement.remote())["pid"] != os.getpid()
        assert "echo refuses" in (await admin.get_job(queue_pool, bad.id)).errors[0]["error"]
        weak_job = await admin.get_job(queue_pool, weak.id)
        assert weak_job.attempt == 1 and "refused the job's enqueuer 'u1'" in weak_job.errors[0]["error"]
        for name in ("service:aria_nope.shout", "service:aria_qtest_echo._private", "service:x"):
            with pytest.raises(UnknownWorker):
                await producer.enqueue(queue_pool, name, {}, registry=producer_reg, enqueued_by=admin_)
        with pytest.raises(JobNotAllowed):
            await producer.enqueue(queue_pool, "service:aria_qtest_echo.direct_only", {},
                                   registry=producer_reg, enqueued_by=admin_)
    finally:
        await pool.shutdown(grace=1)
        ray.kill(shell)
