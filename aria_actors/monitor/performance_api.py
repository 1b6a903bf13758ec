"""REST surface of aria_monitor's performance views (``/v1/monitor``): thin, validates then calls the
service (performance.py says what the answers mean)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from aria_actors.monitor.client import MonitorClient
from aria_actors.monitor.performance import MAX_LIMIT, MIN_WINDOW_S
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
MAX_WINDOW_S = 7 * 86400  # the longest retention_s allows; the service refuses more than its own (400)
Window = Annotated[float, Query(ge=MIN_WINDOW_S, le=MAX_WINDOW_S, allow_inf_nan=False,
                                description="Seconds back from the last collection.")]


@router.get("/performance", summary="Per route and RPC method: rate, error ratio, p50/p90/p99; CPU and memory")
async def performance(client: Client, window_s: Window = 300,
                      caller: Principal = permits(MonitorClient.performance)) -> dict[str, Any]:
    return await client.performance(caller, window_s)


@router.get("/bottlenecks", summary="Where the time goes: methods and routes by time spent, services by CPU")
async def bottlenecks(client: Client, window_s: Window = 300,
                      limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per ranking.")] = 10,
                      caller: Principal = permits(MonitorClient.bottlenecks)) -> dict[str, Any]:
    return await client.bottlenecks(caller, window_s, limit)
