"""The Aria side of bench/workflow.py: aria_workflow's engine in-process on a PostgreSQL database,
as DBOS runs in-process on its own: each step recorded (synchronous commit) before the next.

``aria_sequential(dsn, steps)``: seconds for one run of ``steps`` sequential no-op steps.
``aria_parallel(dsn, workflows, branches)``: seconds for ``workflows`` runs started together, each
fanning out ``branches`` parallel no-op steps (``ctx.parallel``).
"""

from __future__ import annotations

import time
from typing import Any

from aria_actors.data.migrations import migrate_up
from aria_actors.data.pool import Database
from aria_actors.runtime.principal import Principal
from aria_actors.workflow import definition
from aria_actors.workflow.definition import step, workflow
from aria_actors.workflow.engine import Engine
from aria_actors.workflow.store import WorkflowStore

BENCH = Principal(subject="bench", roles=("admin",))


@step
def noop(i: int) -> int:
    return i


@workflow(name="bench-sequential", version=1)
async def sequential(ctx: Any, steps: int) -> int:
    for i in range(steps):
        await ctx.step(noop, i)
    return steps


@workflow(name="bench-parallel", version=1)
async def parallel(ctx: Any, branches: int) -> int:
    results = await ctx.parallel([lambda c, i=i: c.step(noop, i) for i in range(branches)])
    return len(results)


async def _resolve(row: dict[str, Any]) -> definition.WorkflowDef:
    found = definition.get(row["name"], row["version"])
    if found is None:
        raise LookupError(row["name"])
    return found


async def _engine(dsn: str) -> tuple[Engine, Database]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await migrate_up(conn, ["aria_data"])
        await migrate_up(conn, ["aria_workflow"])
    finally:
        await conn.close()
    db = await Database.connect(dsn, name="aria_workflow", min_size=2, max_size=10)
    engine = Engine(WorkflowStore(db), _resolve, owner="bench", poll_s=60, heartbeat_s=60)
    await engine.start(background=False)
    return engine, db


async def aria_sequential(dsn: str, steps: int) -> float:
    engine, db = await _engine(dsn)
    try:
        t0 = time.perf_counter()
        run_id, _ = await engine.submit(definition.get("bench-sequential", 1), steps, BENCH)
        state = await engine.wait(run_id)
        elapsed = time.perf_counter() - t0
        assert state == "completed", state
        return elapsed
    finally:
        await engine.stop()
        await db.close()


async def aria_parallel(dsn: str, workflows: int, branches: int) -> float:
    import asyncio

    engine, db = await _engine(dsn)
    try:
        t0 = time.perf_counter()
        ids = [(await engine.submit(definition.get("bench-parallel", 1), branches, BENCH))[0]
               for _ in range(workflows)]
        states = await asyncio.gather(*(engine.wait(r) for r in ids))
        elapsed = time.perf_counter() - t0
        assert set(states) == {"completed"}, states
        return elapsed
    finally:
        await engine.stop()
        await db.close()
