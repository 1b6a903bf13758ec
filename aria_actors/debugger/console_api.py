"""REST surface of aria_debugger's console, hot reload and dependency graph (``/v1/debugger``): thin,
validates then calls the service (console.py and hotreload.py say what the answers mean).

``graph.svg`` is the graph alone, ``image/svg+xml`` with the flame graph's locked-down headers
(``default-src 'none'``: the SVG has no script). Console source is the one piece of code a request
carries here: administrators only, audited, and off unless ``[debugger] console_enabled``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.debugger.api_types import SVG_HEADERS, ServiceName
from aria_actors.debugger.client import DebuggerClient
from aria_actors.runtime import console
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/debugger", tags=["debugger"])
Client = Annotated[DebuggerClient, Depends(service_client(DebuggerClient))]
Session = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A console session, as console_open named it.")]


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(pattern=r"^aria_[a-z]{1,30}$", description="The service whose process the console runs in.")


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(max_length=console.MAX_SOURCE, description="Python: a line, or a block.")


@router.post("/console", summary="Open a debug console session in a service's process (administrators)")
async def console_open(client: Client, body: OpenBody,
                       caller: Principal = permits(DebuggerClient.console_open)) -> dict[str, Any]:
    return await client.console_open(caller, body.service)


@router.post("/console/{session}/run", summary="Run Python in a console session's process")
async def console_run(client: Client, session: Session, body: RunBody,
                      caller: Principal = permits(DebuggerClient.console_run)) -> dict[str, Any]:
    return await client.console_run(caller, session, body.source)


@router.delete("/console/{session}", summary="Close a console session")
async def console_close(client: Client, session: Session,
                        caller: Principal = permits(DebuggerClient.console_close)) -> dict[str, Any]:
    return await client.console_close(caller, session)


@router.post("/services/{service}/reload", summary="Restart one service on its code from disk, the others untouched")
async def reload(client: Client, service: ServiceName,
                 caller: Principal = permits(DebuggerClient.reload)) -> dict[str, Any]:
    return await client.reload(caller, service)


@router.get("/graph", summary="The live service dependency graph: statuses, pids, edges (and SVG)")
async def graph(client: Client, caller: Principal = permits(DebuggerClient.graph)) -> dict[str, Any]:
    return await client.graph(caller)


@router.get("/graph.svg", response_class=Response, summary="The live service dependency graph as SVG")
async def graph_svg(client: Client, caller: Principal = permits(DebuggerClient.graph)) -> Response:
    got = await client.graph(caller)
    return Response(got["svg"], media_type="image/svg+xml", headers=SVG_HEADERS)
