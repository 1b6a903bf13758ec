"""Settings of aria_queue: ``[queue]`` in aria.toml, ``ARIA_QUEUE_*`` in the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings

QueueName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class CronSetting(BaseModel):
    """One crontab entry: ``{"expression": "*/5 * * * *", "worker": "mod:fn", "args": {...}}``."""

    model_config = ConfigDict(extra="forbid")
    expression: str = Field(description="Five crontab fields or a nickname such as @hourly (UTC).")
    worker: str = Field(min_length=1, description="Registered worker name to enqueue.")
    args: dict = Field(default_factory=dict, description="Args of each job.")
    name: str | None = Field(None, description="Stable name of the entry (default worker@expression).")


class QueueSettings(SectionSettings):
    """How the queue service runs its executors and plugins."""

    section = "queue"
    model_config = SettingsConfigDict(env_prefix="ARIA_QUEUE_", extra="forbid")

    queues: dict[QueueName, Annotated[int, Field(ge=1, le=1000)]] = Field(
        default_factory=lambda: {"default": 10},
        description="Queues this service runs, with each executor's concurrency limit.")
    discovered_queue_concurrency: int = Field(
        1, ge=1, le=1000, description="Concurrency of queues that only registered workers name "
        "(not in QUEUES): low, since their jobs may be heavy; raise it with `aria queue scale`.")
    replicas: int = Field(1, ge=0, le=256, description="Worker actors started per queue.")
    executor: Literal["ray", "local"] = Field(
        "ray", description="Run executors as Ray worker actors, or in the service's own process.")
    worker_modules: list[str] = Field(
        default_factory=list, description="Modules imported by executors to register workers.")
    discover_workers: bool = Field(
        True, description="Also import aria_actors.<svc>.jobs of every other service (their workers).")
    worker_num_cpus: float = Field(0.0, ge=0, description="Ray CPUs reserved per worker actor.")
    pool_size: int = Field(8, ge=2, le=100, description="asyncpg pool size of the service.")
    poll_interval_s: float = Field(1.0, gt=0, le=60, description="Fetch poll fallback to NOTIFY.")
    heartbeat_interval_s: float = Field(1.0, gt=0, le=60, description="Producer heartbeat period.")
    stage_interval_s: float = Field(1.0, gt=0, le=60, description="Stager period.")
    async_commit: bool = Field(
        False, description="Faster, less durable: the executors' claims and outcomes commit "
        "without waiting for the WAL flush; a database crash may forget the last few hundred "
        "ms of them, so a completed job may run again. Enqueues stay durable.")
    rescue_after_s: float = Field(
        30.0, gt=0, description="Lifeline: a producer silent this long is dead; its jobs return.")
    rescue_interval_s: float = Field(5.0, gt=0, description="Lifeline period.")
    prune_retention_s: float = Field(7 * 86400.0, gt=0, description="Keep finished jobs this long.")
    prune_interval_s: float = Field(60.0, gt=0, description="Pruner period.")
    cron: list[CronSetting] = Field(default_factory=list, description="Crontab entries.")
    cron_interval_s: float = Field(1.0, gt=0, le=60, description="How often cron slots are checked.")

