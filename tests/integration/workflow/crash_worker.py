"""The processes of test_crash.py: a workflow engine and an aria_queue executor, each its own OS
process so the test can kill -9 it.

    python -m tests.integration.workflow.crash_worker engine DSN OWNER
    python -m tests.integration.workflow.crash_worker queue DSN

The workflow ``crash-thousand`` runs ``steps`` steps; every 100th is an aria_queue job
(``crash.echo``, 0.2 s), the others a side effect that is idempotent by the step's
``idempotency_key()`` (a row in ``crash.effects``) and counts its executions (``crash.counter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.queue import admin, producer
from aria_actors.queue.executor import Executor
from aria_actors.queue.plugins import rescue
from aria_actors.queue.registry import worker
from aria_actors.runtime.principal import Principal
from aria_actors.workflow import definition
from aria_actors.workflow.context import idempotency_key
from aria_actors.workflow.definition import step, workflow
from aria_actors.workflow.engine import Engine
from aria_actors.workflow.store import WorkflowStore

JOB_EVERY = 100
_pool: asyncpg.Pool | None = None
SETUP = """
CREATE SCHEMA IF NOT EXISTS crash;
CREATE TABLE IF NOT EXISTS crash.effects (key text PRIMARY KEY, i integer NOT NULL);
CREATE TABLE IF NOT EXISTS crash.counter (id integer PRIMARY KEY, executions integer NOT NULL);
INSERT INTO crash.counter VALUES (1, 0) ON CONFLICT DO NOTHING;
"""


@step(retries=20, backoff_s=0.05, backoff_max_s=1.0)
async def effect(i: int) -> int:
    assert _pool is not None
    async with _pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE crash.counter SET executions = executions + 1 WHERE id = 1")
        await conn.execute("INSERT INTO crash.effects (key, i) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           idempotency_key(), i)
    return i


@workflow(name="crash-thousand", version=1, input={"steps": "integer"})
async def thousand(ctx: Any, inp: dict[str, Any]) -> int:
    total = 0
    for i in range(inp["steps"]):
        if i % JOB_EVERY == JOB_EVERY - 1:
            total += (await ctx.job("crash.echo", {"i": i}, timeout_s=300))["i"]
        else:
            total += await ctx.step(effect, i)
    return total


@worker(queue="crash", name="crash.echo", max_attempts=10)
async def echo(job: Any) -> dict[str, int]:
    await asyncio.sleep(0.2)
    return {"i": int(job.args["i"])}


class QueueOverDb:
    """aria_queue's producer and admin on the database (the queue service's own code, minus Ray)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, caller: Principal, worker: str, args: dict[str, Any] | None = None,
                      **options: Any) -> dict[str, Any]:
        async with self.db.acquire() as conn:
            job = await producer.enqueue(conn, worker, args, enqueued_by=caller, **options)
        return job.to_dict()

    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]:
        return (await admin.get_job(self.db, job_id)).to_dict()


async def _resolve(row: dict[str, Any]) -> definition.WorkflowDef:
    found = definition.get(row["name"], row["version"])
    assert found is not None
    return found


async def run_engine(dsn: str, owner: str) -> None:
    global _pool
    while True:  # the database may be down when this process starts: wait for it
        try:
            _pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
            db = await Database.connect(dsn, name="aria_workflow", min_size=1, max_size=6)
            break
        except Exception:  # whatever failed to connect: the database is starting, retry
            await asyncio.sleep(0.2)
    engine = Engine(WorkflowStore(db), _resolve, owner=owner, queue=QueueOverDb(db), lease_s=5.0,
                    heartbeat_s=0.5, poll_s=0.2)
    await engine.start()
    print("engine up", flush=True)
    await asyncio.Event().wait()


async def run_queue(dsn: str) -> None:
    executor = Executor(dsn, {"crash": 4}, poll_interval=0.1, heartbeat_interval=0.5, stage_interval=0.5)
    await executor.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    print("queue up", flush=True)
    while True:  # the lifeline: jobs of an executor that stopped heartbeating go back to available
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await rescue(pool, after=2.0)
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    role, dsn = sys.argv[1], sys.argv[2]
    asyncio.run(run_engine(dsn, sys.argv[3]) if role == "engine" else run_queue(dsn))
