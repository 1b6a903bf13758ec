"""REST surface of aria_queue under ``/v1/queue``: thin, validates then calls the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient

router = APIRouter(prefix="/v1/queue", tags=["queue"])
Client = Annotated[ServiceClient, Depends(service_client("aria_queue"))]
State = Literal["available", "scheduled", "executing", "retryable", "completed", "discarded",
                "cancelled"]
QueueName = Annotated[str, Field(min_length=1, max_length=128)]


class UniqueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: float | None = Field(60.0, gt=0, description="Seconds; null for ever.")
    keys: list[str] | None = Field(None, description="Args keys that make a job unique.")
    states: list[State] | None = Field(None, description="States in which a job blocks duplicates.")


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker: str = Field(min_length=1, max_length=255)
    args: dict[str, Any] = Field(default_factory=dict)
    queue: QueueName | None = None
    priority: int | None = Field(None, ge=0, le=9)
    schedule_in: float | None = Field(None, ge=0)
    scheduled_at: datetime | None = None
    max_attempts: int | None = Field(None, ge=1)
    unique: bool | float | UniqueIn | None = None
    tags: list[str] | None = None
    meta: dict[str, Any] | None = None

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


class IdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=10_000)


class ScaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicas: int | None = Field(None, ge=0, le=256)
    concurrency: int | None = Field(None, ge=1, le=1000)


@router.post("/jobs", status_code=201)
async def enqueue(body: JobIn, client: Client) -> dict[str, Any]:
    return await client.call("enqueue", body.worker, body.args, **body.options())


@router.post("/jobs/bulk", status_code=201)
async def enqueue_many(body: BulkIn, client: Client) -> list[dict[str, Any]]:
    jobs = [{"worker": j.worker, "args": j.args, **j.options()} for j in body.jobs]
    return await client.call("enqueue_many", jobs)


@router.get("/jobs")
async def list_jobs(client: Client, state: State | None = None, queue: str | None = None,
                    worker: str | None = None, after_id: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return await client.call("list_jobs", state=state, queue=queue, worker=worker,
                             after_id=after_id, limit=limit)


@router.get("/jobs/{job_id}")
async def get_job(job_id: int, client: Client) -> dict[str, Any]:
    return await client.call("get_job", job_id)


@router.post("/jobs/retry")
async def retry(body: IdsIn, client: Client) -> dict[str, Any]:
    return {"retried": await client.call("retry", body.ids)}


@router.post("/jobs/cancel")
async def cancel(body: IdsIn, client: Client) -> dict[str, Any]:
    return await client.call("cancel", body.ids)


@router.get("/queues")
async def queues(client: Client) -> list[dict[str, Any]]:
    return await client.call("queues")


@router.post("/queues/{name}/pause")
async def pause(name: str, client: Client) -> dict[str, Any]:
    return await client.call("pause", name)


@router.post("/queues/{name}/resume")
async def resume(name: str, client: Client) -> dict[str, Any]:
    return await client.call("resume", name)


@router.post("/queues/{name}/scale")
async def scale(name: str, body: ScaleIn, client: Client) -> dict[str, Any]:
    return await client.call("scale", name, replicas=body.replicas, concurrency=body.concurrency)


@router.get("/workers")
async def workers(client: Client) -> list[str]:
    return await client.call("workers")


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(client: Client) -> str:
    return await client.call("metrics")


@router.get("/health")
async def health(client: Client) -> dict[str, Any]:
    return (await client.call("health")).to_dict()
