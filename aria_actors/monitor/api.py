"""REST surface of aria_monitor under ``/v1/monitor``: thin, validates then calls the service.

``GET /v1/monitor/metrics`` is the one scrape of every service (what a Prometheus server is
pointed at, with a token); the gateway's own ``/metrics`` stays its public, gateway-only series.
``query`` and ``query_range`` answer as Prometheus's HTTP API does (``{"status": "success",
"data": …}``), so tools that read that API read these.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import PlainTextResponse

from aria_actors.monitor.client import MonitorClient
from aria_actors.monitor.exposition import CONTENT_TYPE
from aria_actors.monitor.service import MAX_QUERY_CHARS
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/monitor", tags=["monitor"])
Client = Annotated[MonitorClient, Depends(service_client(MonitorClient))]
Expr = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="A PromQL expression.")]
Time = Annotated[float, Query(ge=0, le=1e11, allow_inf_nan=False, description="Unix time, seconds.")]


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Every service's metrics in one Prometheus scrape")
async def metrics(client: Client, caller: Principal = permits(MonitorClient.scrape)) -> PlainTextResponse:
    return PlainTextResponse(await client.scrape(caller), media_type=CONTENT_TYPE)


@router.get("/targets", summary="Each service's last metrics read: up, seconds, error")
async def targets(client: Client, caller: Principal = permits(MonitorClient.targets)) -> dict[str, Any]:
    return await client.targets(caller)


@router.get("/query", summary="PromQL instant query over the kept history")
async def query(client: Client, query: Expr, time: Time | None = None,
                caller: Principal = permits(MonitorClient.query)) -> dict[str, Any]:
    return {"status": "success", "data": await client.query(caller, query, time)}


@router.get("/query_range", summary="PromQL range query over the kept history")
async def query_range(client: Client, query: Expr, start: Time, end: Time,
                      step: Annotated[float, Query(gt=0, le=86400, allow_inf_nan=False)],
                      caller: Principal = permits(MonitorClient.query_range)) -> dict[str, Any]:
    return {"status": "success", "data": await client.query_range(caller, query, start, end, step)}


@router.get("/alerts", summary="Pending, firing and recently resolved alerts")
async def alerts(client: Client, caller: Principal = permits(MonitorClient.alerts)) -> list[dict[str, Any]]:
    return await client.alerts(caller)


@router.get("/rules", summary="Rule groups and each rule's last evaluation")
async def rules(client: Client, caller: Principal = permits(MonitorClient.rules)) -> list[dict[str, Any]]:
    return await client.rules(caller)


@router.get("/prometheus-config", response_class=PlainTextResponse,
            summary="A prometheus.yml that scrapes this Aria and loads its rules")
async def prometheus_config(client: Client,
                            caller: Principal = permits(MonitorClient.prometheus_config)) -> PlainTextResponse:
    return PlainTextResponse(await client.prometheus_config(caller), media_type="application/yaml")


from aria_actors.monitor import health_api  # noqa: E402

router.routes.extend(health_api.router.routes)

from aria_actors.monitor import capacity_api  # noqa: E402

router.routes.extend(capacity_api.router.routes)

from aria_actors.monitor import performance_api  # noqa: E402

router.routes.extend(performance_api.router.routes)

from aria_actors.monitor import dashboards_api  # noqa: E402

router.routes.extend(dashboards_api.router.routes)

from aria_actors.monitor import usage_api  # noqa: E402

router.routes.extend(usage_api.router.routes)
