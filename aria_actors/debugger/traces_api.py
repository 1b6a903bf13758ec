"""REST surface of aria_debugger's traces (``/v1/debugger/traces``): thin, the service checks every
parameter (traces.py) and answers 400 problems for bad ones (a malformed trace id included), 404
for a trace it does not hold."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from aria_actors.debugger.client import DebuggerClient
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/debugger", tags=["debugger"])
Client = Annotated[DebuggerClient, Depends(service_client(DebuggerClient))]


@router.get("/traces", summary="Recent traces, newest first: filters service, minimum duration, limit")
async def traces(client: Client,
                 service: Annotated[str | None, Query(max_length=100, description="Traces touching this "
                                                      "service, e.g. aria_storage.")] = None,
                 min_duration_ms: Annotated[float | None, Query(allow_inf_nan=False, description="Traces lasting "
                                                                "at least this, milliseconds.")] = None,
                 limit: Annotated[int, Query(description="At most this many traces, 1-500.")] = 20,
                 caller: Principal = permits(DebuggerClient.traces)) -> dict[str, Any]:
    return await client.traces(caller, service, min_duration_ms, limit)


@router.get("/traces/{trace_id}", summary="One trace's span tree (the X-Trace-Id of a gateway response)")
async def trace(client: Client,
                trace_id: Annotated[str, Path(max_length=100, description="32 lowercase hex digits.")],
                caller: Principal = permits(DebuggerClient.trace)) -> dict[str, Any]:
    return await client.trace(caller, trace_id)
