"""aria_queue: durable jobs with Oban's semantics on Postgres, executed by Ray worker actors.

    from aria_actors import queue as aria_queue

    @aria_queue.worker(queue="media", max_attempts=5, timeout=60)
    async def transcode(job: aria_queue.Job) -> dict: ...

    await aria_queue.enqueue(conn_or_pool, transcode, {"asset": 42}, schedule_in=30)

The job state machine is drawn in :mod:`aria_actors.queue.jobs`; guarantees and caveats are in
each module's docstring and in ``docs/queue.md``.
"""

from __future__ import annotations

from aria_actors.queue.jobs import Cancel, Discard, Job, JobState, Snooze
from aria_actors.queue.producer import enqueue, enqueue_many
from aria_actors.queue.registry import Registry, Unique, worker

__all__ = ["Cancel", "Discard", "Job", "JobState", "Registry", "Snooze", "Unique", "enqueue",
           "enqueue_many", "worker"]
