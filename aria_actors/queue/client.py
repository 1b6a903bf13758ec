"""Typed client of aria_queue: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(QueueClient)``, ``Depends(service_client(QueueClient))`` or
``bind(QueueClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py queue
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_queue")
class QueueClient:
    @rpc("queue:job:write", scope="own", feature="jobs")
    async def cancel(self, caller: Principal, ids: list[int]) -> dict[str, list[int]]:
        """Cancel the caller's jobs: waiting ones now, executing ones through their executor."""

    @rpc("queue:cron:read", scope="any", feature="cron")
    async def cron(self, caller: Principal) -> dict[str, Any]:
        """The crontab entries this service runs (``ARIA_QUEUE_CRON``) with their last and next slot..."""

    @rpc("queue:job:write", scope="own", features=("jobs", "priorities", "retries", "cross-service-jobs"))
    async def enqueue(
        self,
        caller: Principal,
        worker: str,
        args: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Enqueue one job that runs as ``caller``, who must be allowed to enqueue ``worker``."""

    @rpc("queue:job:write", scope="own", features=("jobs", "priorities", "retries", "cross-service-jobs"))
    async def enqueue_many(self, caller: Principal, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Enqueue many jobs in one statement, all running as ``caller`` (checked before any insert)."""

    @rpc("queue:job:read", scope="own", feature="jobs")
    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """One job the caller may read (another's job is answered as not found)."""

    @rpc("queue:job:list", scope="own", features=("jobs", "dead-letter"))
    async def list_jobs(
        self,
        caller: Principal,
        state: str | None = None,
        queue: str | None = None,
        worker: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Jobs the caller may see, in id order: its own, its tenant's, or all (by its rights)."""

    @rpc("queue:metrics:read", scope="any", feature="job-metrics")
    async def metrics(self, caller: Principal) -> str:
        """Prometheus text: ``aria_queue_jobs{queue,state}`` and latency histograms."""

    @rpc("queue:queue:pause", scope="any")
    async def pause(self, caller: Principal, queue: str) -> dict[str, Any]:
        """Stop fetching jobs of ``queue`` on every node (running jobs finish)."""

    @rpc("queue:health:read", feature="queue-health")
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (database, queue depths, live executors), as a dict."""

    @rpc("queue:queue:list", scope="any", features=("job-metrics", "queue-scaling"))
    async def queues(self, caller: Principal) -> list[dict[str, Any]]:
        """Every queue: settings, job counts by state, oldest available age, live executors."""

    @rpc("queue:queue:resume", scope="any")
    async def resume(self, caller: Principal, queue: str) -> dict[str, Any]:
        """Fetch jobs of ``queue`` again."""

    @rpc("queue:job:write", scope="own", features=("retries", "dead-letter"))
    async def retry(self, caller: Principal, ids: list[int]) -> list[int]:
        """Make the caller's jobs available now; returns the ids moved (others are skipped)."""

    @rpc("queue:queue:scale", scope="any", feature="queue-scaling")
    async def scale(
        self,
        caller: Principal,
        queue: str,
        replicas: int | None = None,
        concurrency: int | None = None,
    ) -> dict[str, Any]:
        """Set a queue's worker actors (``replicas``) and per-executor ``concurrency``."""

    @rpc("queue:worker:list", features=("jobs", "cross-service-jobs"))
    async def workers(self, caller: Principal) -> list[str]:
        """Registered worker names (``service:<svc>.<method>`` jobs come on top)."""
