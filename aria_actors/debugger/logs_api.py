"""REST surface of aria_debugger's log search (``/v1/debugger/logs``): thin, the service checks
every parameter (logs.py) and answers 400 problems for bad ones, 503 when aria_data is down."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from aria_actors.debugger.client import DebuggerClient
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/debugger", tags=["debugger"])
Client = Annotated[DebuggerClient, Depends(service_client(DebuggerClient))]
# the lengths only keep a request small: the service checks each value (400 problems)
When = Annotated[str | None, Query(max_length=100, description="ISO 8601 (no zone: UTC), epoch seconds, or a "
                                   "duration back from now (90s, 15m, 2h, 7d).")]


@router.get("/logs", summary="Search every service's log records: words, service, level, trace id, time")
async def logs(client: Client,
               q: Annotated[str | None, Query(max_length=1000, description="Words (websearch syntax: "
                                              "\"a phrase\", -word, or).")] = None,
               service: Annotated[str | None, Query(max_length=100, description="One service's records.")] = None,
               level: Annotated[str | None, Query(max_length=20, description="This level and above.")] = None,
               trace_id: Annotated[str | None, Query(max_length=100, description="32 hex digits.")] = None,
               since: When = None,
               until: When = None,
               limit: Annotated[int, Query(description="At most this many records, 1-1000.")] = 100,
               caller: Principal = permits(DebuggerClient.logs)) -> dict[str, Any]:
    return await client.logs(caller, q, service, level, trace_id, since, until, limit)
