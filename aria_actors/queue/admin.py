"""Operations on jobs and queues: inspect, dead-letter (list, retry, cancel), pause, resume, scale.

Guarantees and caveats:
- ``retry`` moves a job back to ``available`` now; an exhausted job gets exactly one more attempt
  (``max_attempts`` raised to ``attempt + 1``). Retrying a unique job whose key a live job now
  holds raises :class:`JobStateConflict` and changes nothing.
- ``cancel`` cancels waiting jobs in the database at once; an executing job is cancelled by the
  executor running it, told through ``NOTIFY aria_queue_signal``: it ends ``cancelled`` shortly
  after (or completes, if it finished first). If that executor is dead the lifeline rescues the job
  and a second ``cancel`` catches it.
- Pause/resume/concurrency live in ``aria_queue.queues`` and reach every executor by NOTIFY and at
  start; ``replicas`` (worker actors per queue) is acted on by the service's worker pool.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from aria_actors.queue.errors import InvalidJob, JobNotFound, JobStateConflict, QueueNotFound
from aria_actors.queue.executor import SIGNAL_CHANNEL
from aria_actors.queue.jobs import Job, JobState
from aria_actors.queue.registry import check_queue
from aria_actors.queue.sql import q


async def get_job(pool: Any, job_id: int) -> Job:
    row = await pool.fetchrow(q("get_job"), job_id)
    if row is None:
        raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
    return Job.from_record(row)


async def list_jobs(pool: Any, *, state: str | None = None, queue: str | None = None,
                    worker: str | None = None, after_id: int = 0, limit: int = 100,
                    owner: str | None = None, tenant: str | None = None,
                    in_tenant: bool = False) -> list[Job]:
    """Jobs in id order (``after_id`` pages on); filter by state, queue, worker, and by who may see
    them: ``owner`` (jobs that subject enqueued), ``in_tenant`` (jobs of ``tenant`` or of none)."""
    if state is not None:
        try:
            state = JobState(state).value
        except ValueError:
            raise InvalidJob(f"no job state {state!r}; one of {[s.value for s in JobState]}",
                             field="state") from None
    rows = await pool.fetch(q("list_jobs"), state, queue, worker, after_id, max(1, min(limit, 1000)),
                            owner, in_tenant, tenant)
    return [Job.from_record(r) for r in rows]


async def enqueuers(pool: Any, ids: list[int]) -> dict[int, dict[str, Any] | None]:
    """Who enqueued each existing job of ``ids`` (``Principal.to_dict()``, or None)."""
    rows = await pool.fetch(q("enqueuers_of"), list(ids))
    return {r["id"]: json.loads(r["enqueued_by"]) if isinstance(r["enqueued_by"], str) else r["enqueued_by"]
            for r in rows}


async def retry(pool: Any, ids: list[int]) -> list[int]:
    """Make jobs available now; returns the ids moved (executing and unknown ids are skipped)."""
    try:
        rows = await pool.fetch(q("retry_jobs"), list(ids))
    except asyncpg.UniqueViolationError as exc:
        raise JobStateConflict("a live job holds the unique key of a job to retry",
                               ids=list(ids), detail=str(exc)) from None
    return sorted(r["id"] for r in rows)


async def cancel(pool: Any, ids: list[int]) -> dict[str, list[int]]:
    """Cancel jobs: waiting ones now, executing ones through their executor."""
    rows = await pool.fetch(q("cancel_jobs"), list(ids))
    out: dict[str, list[int]] = {"cancelled": [], "signalled": []}
    for r in rows:
        out[r["how"]].append(r["id"])
    if out["signalled"]:
        await pool.execute(q("signal"), SIGNAL_CHANNEL,
                           json.dumps({"action": "cancel", "ids": out["signalled"]}))
    for v in out.values():
        v.sort()
    return out


async def configure_queue(pool: Any, name: str, *, paused: bool | None = None,
                          concurrency: int | None = None, replicas: int | None = None) -> dict[str, Any]:
    """Change a queue's run-time settings (creating its row) and tell every executor."""
    check_queue(name)
    row = await pool.fetchrow(q("upsert_queue"), name, paused, concurrency, replicas)
    await pool.execute(q("signal"), SIGNAL_CHANNEL,
                       json.dumps({"action": "queue", "queue": name}))
    return _queue_dict(row)


async def get_queue(pool: Any, name: str) -> dict[str, Any]:
    row = await pool.fetchrow(q("get_queue"), name)
    if row is None:
        raise QueueNotFound(f"no queue named {name!r}", queue=name)
    return _queue_dict(row)


async def queues(pool: Any) -> list[dict[str, Any]]:
    """Every queue with its settings, job counts by state and oldest available age."""
    counts: dict[str, dict[str, int]] = {}
    for r in await pool.fetch(q("count_by_state")):
        counts.setdefault(r["queue"], {})[r["state"]] = r["n"]
    ages = {r["queue"]: r["age_s"] for r in await pool.fetch(q("oldest_available"))}
    out = {r["name"]: _queue_dict(r) for r in await pool.fetch(q("list_queues"))}
    for name in counts.keys() | out.keys():
        entry = out.setdefault(name, {"name": name, "paused": False, "concurrency": None,
                                      "replicas": None})
        entry["jobs"] = {s.value: counts.get(name, {}).get(s.value, 0) for s in JobState}
        entry["oldest_available_s"] = ages.get(name)
    return [out[k] for k in sorted(out)]


async def job_counts(pool: Any) -> list[tuple[str, str, int]]:
    return [(r["queue"], r["state"], r["n"]) for r in await pool.fetch(q("count_by_state"))]


def _queue_dict(row: Any) -> dict[str, Any]:
    return {"name": row["name"], "paused": row["paused"], "concurrency": row["concurrency"],
            "replicas": row["replicas"], "updated_at": row["updated_at"].isoformat()}
