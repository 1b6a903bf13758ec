"""REST surface of aria_debugger under ``/v1/debugger``: thin, validates then calls the service.

A service is named by its registry name in the path (``aria_engine``); nothing else a request
carries is a name: seconds, a rate and a log level. ``profile.svg`` is the flame graph alone, as
``image/svg+xml`` with a Content-Security-Policy that lets it run nothing (``default-src 'none'``;
the SVG has no script) and ``nosniff``, so a browser opening it directly is safe.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from aria_actors.debugger.api_types import SVG_HEADERS, ServiceName
from aria_actors.debugger.client import DebuggerClient
from aria_actors.runtime import introspect
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/debugger", tags=["debugger"])
Client = Annotated[DebuggerClient, Depends(service_client(DebuggerClient))]
Seconds = Annotated[float, Query(ge=introspect.MIN_SECONDS, le=introspect.MAX_SECONDS, allow_inf_nan=False,
                                 description="How long to sample or trace, seconds.")]
Rate = Annotated[int, Query(ge=introspect.MIN_RATE, le=introspect.MAX_RATE, description="Samples a second.")]


class LogLevelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@router.get("/services/{service}/profile", summary="A CPU profile of a service's process: folded stacks, flame graph")
async def profile(client: Client, service: ServiceName, seconds: Seconds = 5.0, rate_hz: Rate = 100,
                  caller: Principal = permits(DebuggerClient.profile)) -> dict[str, Any]:
    return await client.profile(caller, service, seconds, rate_hz)


@router.get("/services/{service}/profile.svg", response_class=Response,
            summary="A CPU profile of a service's process as a flame graph (SVG)")
async def profile_svg(client: Client, service: ServiceName, seconds: Seconds = 5.0, rate_hz: Rate = 100,
                      caller: Principal = permits(DebuggerClient.profile)) -> Response:
    got = await client.profile(caller, service, seconds, rate_hz)
    return Response(got["svg"], media_type="image/svg+xml", headers=SVG_HEADERS)


@router.get("/services/{service}/memory", summary="A service's top allocation sites after tracing for seconds")
async def memory(client: Client, service: ServiceName, seconds: Seconds = 2.0,
                 caller: Principal = permits(DebuggerClient.memory)) -> dict[str, Any]:
    return await client.memory(caller, service, seconds)


@router.get("/services/{service}/inspect", summary="A service process's runtime state, health and settings")
async def inspect(client: Client, service: ServiceName,
                  caller: Principal = permits(DebuggerClient.inspect)) -> dict[str, Any]:
    return await client.inspect(caller, service)


@router.get("/services/{service}/state", summary="A service's health and what its object holds")
async def state(client: Client, service: ServiceName,
                caller: Principal = permits(DebuggerClient.state)) -> dict[str, Any]:
    return await client.state(caller, service)


@router.get("/config", summary="Every service's settings (masked) with their sources, and runtime changes")
async def config(client: Client,
                 service: Annotated[str | None, Query(pattern=r"^aria_[a-z]{1,30}$")] = None,
                 caller: Principal = permits(DebuggerClient.config)) -> dict[str, Any]:
    return await client.config(caller, service)


@router.put("/services/{service}/log-level", summary="Set the level of the aria loggers in a service's process")
async def set_log_level(client: Client, service: ServiceName, body: LogLevelBody,
                        caller: Principal = permits(DebuggerClient.set_log_level)) -> dict[str, Any]:
    return await client.set_log_level(caller, service, body.level)


from aria_actors.debugger import logs_api  # noqa: E402  (the log search part: logs.py)

router.routes.extend(logs_api.router.routes)

from aria_actors.debugger import console_api  # noqa: E402  (the console, hot reload and graph: console.py, hotreload.py)

router.routes.extend(console_api.router.routes)

from aria_actors.debugger import traces_api  # noqa: E402  (the traces part: traces.py)

router.routes.extend(traces_api.router.routes)
