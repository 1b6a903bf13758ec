"""A test worker, configured into the e2e `aria up` (``ARIA_QUEUE_WORKER_MODULES``) for the
auto-tuner's test: a job that waits on I/O (sleeps) and uses no CPU, so a queue's throughput is
its concurrency over the sleep, whatever else the machine runs. Never registered by Aria itself.
Declares no permission: only holders of ``queue:worker:run@any`` (administrators) enqueue it."""

from __future__ import annotations

import asyncio
from typing import Any

from aria_actors.queue.jobs import Job
from aria_actors.queue.registry import worker

IO_WAIT = "tests.tune.io_wait"
MAX_SLEEP_S = 1.0


@worker(name=IO_WAIT, max_attempts=1, timeout=10)
async def io_wait(job: Job) -> dict[str, Any]:
    """Sleep ``args.seconds`` (at most one second): a job bound by I/O, not CPU."""
    seconds = min(max(float(job.args.get("seconds", 0.1)), 0.0), MAX_SLEEP_S)
    await asyncio.sleep(seconds)
    return {"slept": seconds}
