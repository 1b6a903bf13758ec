"""REST surface of aria_data under ``/v1/data``: thin, validates then calls the service.

Each route fronts one declared method of :class:`~aria_actors.data.client.DataClient` and carries
its permission (checked here before the input is validated, and again inside the service).
``dsn`` has no route: credentials are for services over Ray only. Partition maintenance runs on
the service's own timer; ``POST /partitions/maintain`` runs it now. A backup is written on the
service's node (``<ARIA_HOME>/backups``), never to a path the caller names.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from fastapi.responses import JSONResponse

from aria_actors.data.client import DataClient
from aria_actors.runtime.http import ServiceRouter, health_response, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/data", tags=["data"])
Client = Annotated[DataClient, Depends(service_client(DataClient))]
_NAME = r"^[a-z][a-z0-9_]*$"
ServiceQuery = Annotated[str, Query(min_length=1, max_length=64, pattern=_NAME,
                                    description="A service, like aria_queue or queue.")]
ServicePath = Annotated[str, Path(min_length=1, max_length=64, pattern=_NAME,
                                  description="A service, like aria_queue or queue.")]


@router.get("/health", summary="Database health: ping, pool, connections, table sizes, slow queries")
async def health(client: Client, caller: Principal = permits(DataClient.probe)) -> JSONResponse:
    return health_response(await client.probe(caller))


@router.get("/migrations", summary="Every service's migrations and whether each is applied")
async def migrations(client: Client, service: ServiceQuery | None = None,
                     caller: Principal = permits(DataClient.migrate_status)) -> list[dict[str, Any]]:
    return await client.migrate_status(caller, [service] if service else None)


@router.post("/migrations/{service}", summary="Apply a service's pending migrations")
async def migrate(client: Client, service: ServicePath,
                  caller: Principal = permits(DataClient.migrate)) -> dict[str, Any]:
    return {"service": service, "applied": await client.migrate(caller, service)}


@router.get("/advice", summary="Indexing and vacuum advice from PostgreSQL's statistics")
async def advice(client: Client,
                 min_rows: Annotated[int, Query(ge=1, le=10**9)] = 10_000,
                 caller: Principal = permits(DataClient.query_advice)) -> list[dict[str, Any]]:
    return await client.query_advice(caller, min_rows)


@router.post("/partitions/maintain", summary="Create, archive and drop time partitions now")
async def maintain_partitions(client: Client,
                              caller: Principal = permits(DataClient.maintain_partitions)) -> dict[str, Any]:
    return await client.maintain_partitions(caller)


@router.post("/backups", status_code=201, summary="Dump the whole database to a new file on the service's node")
async def backup(client: Client, caller: Principal = permits(DataClient.backup)) -> dict[str, Any]:
    return await client.backup(caller)


@router.get("/backups", summary="The backups the service wrote, newest first")
async def backups(client: Client, caller: Principal = permits(DataClient.backups)) -> list[dict[str, Any]]:
    return await client.backups(caller)
