"""REST surface of aria_monitor's dashboards (``/v1/monitor/dashboards``): thin, validates then calls
the service (dashboards.py says what the answers mean).

    GET /v1/monitor/dashboards                       the built-in dashboards and their panels
    GET /v1/monitor/dashboards/{name}?window=1h      each panel's series (source: memory | postgres)
    GET /v1/monitor/dashboards/{name}/grafana        the dashboard as Grafana JSON
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query

from aria_actors.monitor.client import MonitorClient
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
Name = Annotated[str, Path(min_length=1, max_length=64, description="A dashboard's name (GET /v1/monitor/dashboards).")]


@router.get("/dashboards", summary="The built-in dashboards and their panels")
async def dashboards(client: Client, caller: Principal = permits(MonitorClient.dashboards)) -> list[dict[str, Any]]:
    return await client.dashboards(caller)


@router.get("/dashboards/{name}", summary="A dashboard's panels with their series over a window")
async def dashboard(
        client: Client, name: Name,
        window: Annotated[str, Query(description="A duration (15m, 6h, 7d) or seconds, from 1 minute.")] = "1h",
        source: Annotated[Literal["auto", "memory", "postgres"],
                          Query(description="Where the series come from; auto: memory for the recent range, "
                                            "PostgreSQL's rollups for older ones.")] = "auto",
        caller: Principal = permits(MonitorClient.dashboard)) -> dict[str, Any]:
    return await client.dashboard(caller, name, window, source)


@router.get("/dashboards/{name}/grafana", summary="A dashboard as Grafana JSON (Prometheus datasource)")
async def grafana_dashboard(client: Client, name: Name,
                            caller: Principal = permits(MonitorClient.grafana_dashboard)) -> dict[str, Any]:
    return await client.grafana_dashboard(caller, name)
