"""REST surface of aria_monitor's usage analytics and business metrics (``/v1/monitor``): thin,
validates then calls the service (usage.py says what the answers mean).

    GET /v1/monitor/usage?days=7&tenant=&service=   calls and errors per day, tenant, service, method
    GET /v1/monitor/business?days=30&tenant=        characters, plans, jobs, models per day and tenant
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from aria_actors.monitor.client import MonitorClient
from aria_actors.monitor.usage import MAX_DAYS
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
Tenant = Annotated[str | None, Query(description="One tenant ('' for none); default: every tenant "
                                                                 "the caller may read.")]


# Bounds are the service's (a 400 naming the field), not the router's
def _days(default: int) -> Any:
    return Query(description=f"UTC days back, today included: 1 to {MAX_DAYS}.")


@router.get("/usage", summary="Calls and errors per day, tenant, service and method; active users")
async def usage(client: Client, days: Annotated[int, _days(7)] = 7, tenant: Tenant = None,
                service: Annotated[str | None, Query(min_length=1, max_length=100,
                                                     description="One service's name.")] = None,
                caller: Principal = permits(MonitorClient.usage)) -> dict[str, Any]:
    return await client.usage(caller, days, tenant, service)


@router.get("/business", summary="Characters created, plans made, jobs run, models trained per day and tenant")
async def business(client: Client, days: Annotated[int, _days(30)] = 30, tenant: Tenant = None,
                   caller: Principal = permits(MonitorClient.business)) -> dict[str, Any]:
    return await client.business(caller, days, tenant)
