"""``aria.queue``: background jobs, queues and workers (``/v1/queue``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import aria_actors.queue.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body

JobState = Literal["available", "scheduled", "executing", "retryable", "completed", "discarded", "cancelled"]


def job(worker: str, args: dict[str, Any] | None = None, *, queue: str | None = None,
        priority: int | None = None, schedule_in: float | None = None, scheduled_at: datetime | None = None,
        max_attempts: int | None = None, unique: bool | float | dict[str, Any] | None = None,
        tags: list[str] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One job as :meth:`QueueAPI.enqueue_many` takes it (the options of :meth:`QueueAPI.enqueue`)."""
    return body(worker=worker, args=args or {}, queue=queue, priority=priority, schedule_in=schedule_in,
                scheduled_at=scheduled_at.isoformat() if scheduled_at else None, max_attempts=max_attempts,
                unique=unique, tags=tags, meta=meta)


class QueueAPI(Section):
    @route("POST", "/v1/queue/jobs")
    def enqueue(self, worker: str, args: dict[str, Any] | None = None, *, queue: str | None = None,
                priority: int | None = None, schedule_in: float | None = None,
                scheduled_at: datetime | None = None, max_attempts: int | None = None,
                unique: bool | float | dict[str, Any] | None = None, tags: list[str] | None = None,
                meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Enqueue a job for ``worker`` (``scheduled_at``: timezone-aware); ``unique`` is a period in
        seconds, True, or ``{"period", "keys", "states"}``. Returns the job."""
        return Req(json=job(worker, args, queue=queue, priority=priority, schedule_in=schedule_in,
                            scheduled_at=scheduled_at, max_attempts=max_attempts, unique=unique,
                            tags=tags, meta=meta))

    @route("POST", "/v1/queue/jobs/bulk")
    def enqueue_many(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Enqueue many jobs at once (each a dict like :func:`job` builds)."""
        return Req(json={"jobs": jobs})

    @route("GET", "/v1/queue/jobs")
    def list_jobs(self, state: JobState | None = None, queue: str | None = None, worker: str | None = None,
                  after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Jobs by id, after ``after_id`` (the last id of the previous page)."""
        return Req(params={"state": state, "queue": queue, "worker": worker, "after_id": after_id,
                           "limit": limit})

    @route("GET", "/v1/queue/jobs/{job_id}")
    def get_job(self, job_id: int) -> dict[str, Any]:
        return Req(path={"job_id": job_id})

    @route("POST", "/v1/queue/jobs/retry")
    def retry(self, ids: list[int]) -> dict[str, Any]:
        """Make failed jobs available again: ``{"retried": [ids made available]}``."""
        return Req(json={"ids": ids})

    @route("POST", "/v1/queue/jobs/cancel")
    def cancel(self, ids: list[int]) -> dict[str, Any]:
        return Req(json={"ids": ids})

    @route("GET", "/v1/queue/queues")
    def queues(self) -> list[dict[str, Any]]:
        return Req()

    @route("POST", "/v1/queue/queues/{name}/pause")
    def pause(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("POST", "/v1/queue/queues/{name}/resume")
    def resume(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("POST", "/v1/queue/queues/{name}/scale")
    def scale(self, name: str, *, replicas: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
        """Set a queue's worker replicas and/or per-replica concurrency."""
        return Req(path={"name": name}, json=body(replicas=replicas, concurrency=concurrency))

    @route("GET", "/v1/queue/workers")
    def workers(self) -> list[str]:
        return Req()

    @route("GET", "/v1/queue/cron")
    def cron(self) -> dict[str, Any]:
        """The crontab entries with their last and next slot, and whether the node leads."""
        return Req()

    @route("GET", "/v1/queue/metrics")
    def metrics(self) -> bytes:
        """Prometheus text."""
        return Req(raw=True)

    @route("GET", "/v1/queue/health")
    def health(self) -> dict[str, Any]:
        """Database, depths, live executors (returned when failing, too)."""
        return Req(accept=(503,))
