"""REST surface of aria_data under ``/v1/data``: thin, validates then calls the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient
from aria_actors.runtime.spec import Status

router = APIRouter(prefix="/v1/data", tags=["data"])
Client = Annotated[ServiceClient, Depends(service_client("aria_data"))]
ServiceName = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


@router.get("/health", summary="Database health: ping, pool, connections, table sizes, slow queries")
async def health(client: Client) -> JSONResponse:
    h = await client.call("health")
    code = 503 if h.status in (Status.FAILED, Status.STARTING) else 200
    return JSONResponse(h.to_dict(), status_code=code)


@router.get("/migrations", summary="Every service's migrations and whether each is applied")
async def migrations(client: Client, service: ServiceName | None = None) -> list[dict[str, Any]]:
    return await client.call("migrate_status", [service] if service else None)


@router.post("/migrations/{service}", summary="Apply a service's pending migrations")
async def migrate(client: Client, service: str) -> dict[str, Any]:
    from aria_actors.runtime.errors import BadRequest

    if not service.replace("_", "").isalnum() or not service.islower():
        raise BadRequest("service must be a lowercase service name like aria_queue",
                         service=service)
    return {"service": service, "applied": await client.call("migrate", service)}


@router.get("/advice", summary="Indexing and vacuum advice from PostgreSQL's statistics")
async def advice(client: Client,
                 min_rows: Annotated[int, Query(ge=1, le=10**9)] = 10_000) -> list[dict[str, Any]]:
    return await client.call("query_advice", min_rows)
