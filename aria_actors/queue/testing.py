"""Helpers for other services' tests: run queued jobs inline, as Oban.Testing's ``drain_jobs``.

    from aria_actors.queue.testing import drain
    counts = await drain(dsn, "media")            # {"completed": 3, "retryable": 1, ...}

Guarantees and caveats:
- ``drain`` runs a real executor against the real database until no job of the queues is
  ``available`` or ``executing``; it returns how the jobs it ran ended, by state.
- ``with_scheduled=True`` first makes scheduled and retryable jobs of those queues due now, so
  snoozed or backed-off jobs run too (repeatedly, until none is left or ``max_rounds`` passes).
- Workers must be registered in this process (the default registry or ``registry=``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aria_actors.queue.executor import Executor
from aria_actors.queue.plugins import stage
from aria_actors.queue.registry import Registry
from aria_actors.queue.sql import q


async def drain(dsn: str, *queues: str, registry: Registry | None = None,
                with_scheduled: bool = False, concurrency: int = 10,
                max_rounds: int = 100) -> dict[str, int]:
    """Run the jobs of ``queues`` now; returns the states the jobs it ran ended in."""
    ex = Executor(dsn, dict.fromkeys(queues, concurrency), registry=registry, poll_interval=0.05,
                  stage_interval=None)
    await ex.start()
    pool: Any = ex.pool
    ran: set[int] = set()
    names = list(queues)
    try:
        for _ in range(max_rounds):
            if with_scheduled:
                await pool.execute(q("testing_make_due"), names)
                await stage(pool)
            busy = True
            while busy:
                await asyncio.sleep(0.01)
                busy = await pool.fetchval(q("testing_count_in_states"), names,
                                           ["available", "executing"]) > 0
            await ex.drain()
            rows = await pool.fetch(q("testing_claimed_by"), ex.uuid)
            ran.update(r["id"] for r in rows)
            more = with_scheduled and await pool.fetchval(
                q("testing_count_in_states"), names, ["scheduled", "retryable"]) > 0
            if not more:
                break
        rows = await pool.fetch(q("testing_states_of"), sorted(ran))
        return {r["state"]: r["n"] for r in rows}
    finally:
        await ex.stop()
