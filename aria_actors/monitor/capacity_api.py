"""REST surface of aria_monitor's cost insights and capacity planning (``/v1/monitor``): thin,
validates then calls the service (capacity.py says what the answers mean).

``GET /v1/monitor/costs?window_s=``: each service's CPU and memory against its reservation and the
node, with findings. ``GET /v1/monitor/capacity?horizon_s=&window_s=``: straight-line projections
and the time until the node's memory, its CPUs or the history's series cap run out.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from aria_actors.monitor.capacity import MAX_HORIZON_S, MIN_HORIZON_S, MIN_WINDOW_S
from aria_actors.monitor.client import MonitorClient
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
MAX_WINDOW_S = 7 * 86400  # the longest history the settings allow; the service refuses more than its own (400)
Window = Annotated[float, Query(ge=MIN_WINDOW_S, le=MAX_WINDOW_S, allow_inf_nan=False,
                                description="Seconds back from the last collection.")]
Horizon = Annotated[float, Query(ge=MIN_HORIZON_S, le=MAX_HORIZON_S, allow_inf_nan=False,
                                 description="Seconds ahead of the last collection to project to.")]


@router.get("/costs", summary="Each service's CPU and memory against its reservation and the node, with findings")
async def costs(client: Client, window_s: Window = 3600,
                caller: Principal = permits(MonitorClient.costs)) -> dict[str, Any]:
    return await client.costs(caller, window_s)


@router.get("/capacity", summary="Linear projections of memory, CPU, series and queues; time to exhaustion")
async def capacity(client: Client, horizon_s: Horizon = 86400, window_s: Window = 3600,
                   caller: Principal = permits(MonitorClient.capacity)) -> dict[str, Any]:
    return await client.capacity(caller, horizon_s, window_s)
