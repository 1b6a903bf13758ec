"""REST surface of aria_engine under ``/v1/engine``: thin, validates then calls the service.

Only registered domains can be planned in; states and todo lists are JSON data (see
:mod:`aria_actors.engine.wire`), never code or pickles.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aria_actors.engine.client import EngineClient
from aria_actors.runtime.http import ServiceRouter, health_response, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/engine", tags=["engine"])
Client = Annotated[EngineClient, Depends(service_client(EngineClient))]
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class PlanBody(BaseModel):
    """One plan: a registered domain and either a named problem or a state and a todo list."""

    model_config = ConfigDict(extra="forbid")

    domain: Name
    problem: Name | None = None
    state: dict[str, Any] | None = Field(None, description='{"name": "s0", "vars": {"loc": {...}}}')
    todo: list[Any] | None = Field(None, description='[["travel", "alice", "park"], {"multigoal": ...}]')
    strategy: Literal["dfs", "greedy"] = "dfs"
    max_nodes: int | None = Field(None, ge=1, description="Node budget (capped by the server's).")
    max_seconds: float | None = Field(None, gt=0, description="Time budget (capped by the server's).")
    optimise_cost: bool = Field(False, description="Branch and bound for the cheapest plan.")
    character: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _problem_or_state(self) -> PlanBody:
        if self.problem is None and (self.state is None or self.todo is None):
            raise ValueError("give either problem, or both state and todo")
        if self.problem is not None and (self.state is not None or self.todo is not None):
            raise ValueError("give either problem, or state and todo, not both")
        return self


class PlanManyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[PlanBody] = Field(..., min_length=1, max_length=10_000)


@router.get("/health", summary="Planner health: probe plan latency, planner actors alive")
async def health(client: Client, caller: Principal = permits(EngineClient.probe)) -> JSONResponse:
    return health_response(await client.probe(caller))


@router.get("/domains", summary="Registered planning domains")
async def domains(client: Client, caller: Principal = permits(EngineClient.list_domains)) -> list[dict[str, Any]]:
    return await client.list_domains(caller)


@router.get("/domains/{name}", summary="A domain's actions, methods and named problems")
async def domain(client: Client, name: str,
                 caller: Principal = permits(EngineClient.describe_domain)) -> dict[str, Any]:
    return await client.describe_domain(caller, name)


@router.post("/plan", summary="Plan in a registered domain")
async def plan(client: Client, body: PlanBody, caller: Principal = permits(EngineClient.plan)) -> dict[str, Any]:
    return await client.plan(caller, body.model_dump())


@router.post("/plan_many", summary="Plan many requests, in parallel on the planner pool")
async def plan_many(client: Client, body: PlanManyBody,
                    caller: Principal = permits(EngineClient.plan_many)) -> list[dict[str, Any]]:
    return await client.plan_many(caller, [r.model_dump() for r in body.requests])
