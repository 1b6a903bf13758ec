"""REST surface of aria_queue under ``/v1/queue``: thin, validates then calls the service.

Every route names the RPC method it fronts (``permits(QueueClient.x)``): the caller needs that
method's permission before its body is looked at, and the service checks again, as the caller,
on the jobs it touches. A job's enqueuer is the caller, never a field of the body (``extra`` is
forbidden everywhere, so a body naming one is a 422).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from aria_actors.queue.client import QueueClient
from aria_actors.queue.producer import MAX_SCHEDULE_IN
from aria_actors.runtime.http import ServiceRouter, health_response, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/queue", tags=["queue"])
Client = Annotated[QueueClient, Depends(service_client(QueueClient))]
State = Literal["available", "scheduled", "executing", "retryable", "completed", "discarded",
                "cancelled"]
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # PostgreSQL text holds no NUL; names hold no control characters
QueueName = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE)]
WorkerName = Annotated[str, Field(min_length=1, max_length=255, pattern=PRINTABLE)]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
MAX_ID = 2**63 - 1
JobId = Annotated[int, Field(ge=1, le=MAX_ID)]
MAX_ARGS_BYTES = 256 * 1024
MAX_BULK_BYTES = 16 * 1024 * 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


class UniqueIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    period: float | None = Field(60.0, gt=0, description="Seconds; null for ever.")
    keys: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, max_length=32, description="Args keys that make a job unique.")
    states: list[State] | None = Field(None, min_length=1,
                                       description="States in which a job blocks duplicates.")


class JobIn(BaseModel):
    """One job. It runs as the caller: who enqueued it is not a field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    worker: WorkerName = Field(description="A registered worker, or service:aria_<svc>.<method>.")
    args: dict[str, Any] = Field(default_factory=dict)
    queue: QueueName | None = None
    priority: int | None = Field(None, ge=0, le=9)
    schedule_in: float | None = Field(None, ge=0, le=MAX_SCHEDULE_IN)
    scheduled_at: AwareDatetime | None = None
    max_attempts: int | None = Field(None, ge=1, le=10_000)
    unique: bool | Annotated[float, Field(gt=0)] | UniqueIn | None = None
    tags: list[Tag] | None = Field(None, max_length=32)
    meta: dict[str, Any] | None = None

    @field_validator("args", "meta")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and _size(value) > MAX_ARGS_BYTES:
            raise ValueError(f"at most {MAX_ARGS_BYTES} bytes of JSON")
        return value

    def options(self) -> dict[str, Any]:
        out = self.model_dump(exclude_none=True, exclude={"worker", "args", "unique"})
        if isinstance(self.unique, UniqueIn):
            out["unique"] = self.unique.model_dump(exclude_none=True)
        elif self.unique is not None:
            out["unique"] = self.unique
        return out


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[JobIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _bounded(self) -> BulkIn:
        if sum(_size(j.args) + _size(j.meta or {}) for j in self.jobs) > MAX_BULK_BYTES:
            raise ValueError(f"at most {MAX_BULK_BYTES} bytes of args and meta in one batch")
        return self


class IdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[JobId] = Field(min_length=1, max_length=10_000)


class ScaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicas: int | None = Field(None, ge=0, le=256)
    concurrency: int | None = Field(None, ge=1, le=1000)


QueuePath = Annotated[str, Path(min_length=1, max_length=128, pattern=PRINTABLE)]


@router.post("/jobs", status_code=201, summary="Enqueue a job; it runs as the caller")
async def enqueue(body: JobIn, client: Client,
                  caller: Principal = permits(QueueClient.enqueue)) -> dict[str, Any]:
    return await client.enqueue(caller, body.worker, body.args, **body.options())


@router.post("/jobs/bulk", status_code=201, summary="Enqueue many jobs in one statement")
async def enqueue_many(body: BulkIn, client: Client,
                       caller: Principal = permits(QueueClient.enqueue_many)) -> list[dict[str, Any]]:
    jobs = [{"worker": j.worker, "args": j.args, **j.options()} for j in body.jobs]
    return await client.enqueue_many(caller, jobs)


@router.get("/jobs", summary="Jobs the caller may see, in id order")
async def list_jobs(client: Client, state: State | None = None,
                    queue: Annotated[str | None, Query(max_length=128, pattern=PRINTABLE)] = None,
                    worker: Annotated[str | None, Query(max_length=255, pattern=PRINTABLE)] = None,
                    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    caller: Principal = permits(QueueClient.list_jobs)) -> list[dict[str, Any]]:
    return await client.list_jobs(caller, state=state, queue=queue, worker=worker,
                                  after_id=after_id, limit=limit)


@router.get("/jobs/{job_id}", summary="One job")
async def get_job(job_id: Annotated[int, Path(ge=1, le=MAX_ID)], client: Client,
                  caller: Principal = permits(QueueClient.get_job)) -> dict[str, Any]:
    return await client.get_job(caller, job_id)


@router.post("/jobs/retry", summary="Run jobs again now (the dead letter's retry)")
async def retry(body: IdsIn, client: Client,
                caller: Principal = permits(QueueClient.retry)) -> dict[str, Any]:
    return {"retried": await client.retry(caller, body.ids)}


@router.post("/jobs/cancel", summary="Cancel jobs")
async def cancel(body: IdsIn, client: Client,
                 caller: Principal = permits(QueueClient.cancel)) -> dict[str, Any]:
    return await client.cancel(caller, body.ids)


@router.get("/queues", summary="Queues, job counts, live executors")
async def queues(client: Client, caller: Principal = permits(QueueClient.queues)) -> list[dict[str, Any]]:
    return await client.queues(caller)


@router.post("/queues/{name}/pause", summary="Stop fetching a queue's jobs")
async def pause(name: QueuePath, client: Client,
                caller: Principal = permits(QueueClient.pause)) -> dict[str, Any]:
    return await client.pause(caller, name)


@router.post("/queues/{name}/resume", summary="Fetch a queue's jobs again")
async def resume(name: QueuePath, client: Client,
                 caller: Principal = permits(QueueClient.resume)) -> dict[str, Any]:
    return await client.resume(caller, name)


@router.post("/queues/{name}/scale", summary="Set a queue's worker actors and concurrency")
async def scale(name: QueuePath, body: ScaleIn, client: Client,
                caller: Principal = permits(QueueClient.scale)) -> dict[str, Any]:
    return await client.scale(caller, name, replicas=body.replicas, concurrency=body.concurrency)


@router.get("/workers", summary="Registered worker names")
async def workers(client: Client, caller: Principal = permits(QueueClient.workers)) -> list[str]:
    return await client.workers(caller)


@router.get("/cron", summary="Crontab entries: last and next slot, and whether this node leads")
async def cron(client: Client, caller: Principal = permits(QueueClient.cron)) -> dict[str, Any]:
    return await client.cron(caller)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(client: Client, caller: Principal = permits(QueueClient.metrics)) -> str:
    return await client.metrics(caller)


@router.get("/health", summary="Queue health: database, depths, live executors")
async def health(client: Client, caller: Principal = permits(QueueClient.probe)) -> JSONResponse:
    return health_response(await client.probe(caller))
