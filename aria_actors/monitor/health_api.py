"""REST surface of aria_monitor's health history and dependency graph (``/v1/monitor``): thin,
validates then calls the service (health.py says what the answers mean)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from aria_actors.monitor.client import MonitorClient
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
MAX_WINDOW_S = 7 * 86400  # the longest retention_s allows; the service refuses more than its own (400)


@router.get("/health/history", summary="Each service's status over a window: transitions, up share, restarts")
async def health_history(
        client: Client,
        service: Annotated[str | None, Query(min_length=1, max_length=100, description="One service's name.")] = None,
        window_s: Annotated[float, Query(ge=10, le=MAX_WINDOW_S, allow_inf_nan=False,
                                         description="Seconds back from the last collection.")] = 3600,
        caller: Principal = permits(MonitorClient.health_history)) -> dict[str, Any]:
    return await client.health_history(caller, service, window_s)


@router.get("/dependencies", summary="The live dependency graph: statuses, edges, blast radius")
async def dependencies(client: Client, caller: Principal = permits(MonitorClient.dependencies)) -> dict[str, Any]:
    return await client.dependencies(caller)
