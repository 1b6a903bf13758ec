"""REST surface of aria_engine under ``/v1/engine``: thin, validates then calls the service.

Only registered domains can be planned in; states and todo lists are JSON data (see
:mod:`aria_actors.engine.wire`), never code or pickles.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi import Path as PathParam
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


# -- decision state: each character's plan, current step and beliefs (stored; see decisions.py) ----
Character = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                                     description="The character's id (the caller's own naming).")]
Version = Annotated[int, Field(ge=0, description="The version this write expects (a stale one is a 409).")]


class DecisionBody(BaseModel):
    """A character's new plan, from step 0: a plan request planned here, or a plan given as it is."""

    model_config = ConfigDict(extra="forbid")

    domain: Name
    problem: Name | None = None
    state: dict[str, Any] | None = Field(None, description="Plan request: the start state (the beliefs).")
    todo: list[Any] | None = Field(None, description="The todo list (kept for replanning).")
    strategy: Literal["dfs", "greedy"] = "dfs"
    max_nodes: int | None = Field(None, ge=1)
    max_seconds: float | None = Field(None, gt=0)
    optimise_cost: bool = False
    plan: list[list[Any]] | None = Field(None, description="A plan given as it is: [[action, args...]].")
    beliefs: dict[str, Any] | None = Field(None, description="With a given plan: the character's beliefs.")
    version: Version | None = None

    @model_validator(mode="after")
    def _request_or_plan(self) -> DecisionBody:
        if self.plan is not None:
            if self.beliefs is None or self.problem is not None or self.state is not None:
                raise ValueError("a given plan comes with beliefs (and optionally todo), not problem or state")
        elif self.problem is None and (self.state is None or self.todo is None):
            raise ValueError("give a plan and beliefs, a problem, or both state and todo")
        elif self.problem is not None and (self.state is not None or self.todo is not None):
            raise ValueError("give either problem, or state and todo, not both")
        elif self.beliefs is not None:
            raise ValueError("beliefs go with a given plan; a plan request's beliefs are its state")
        return self

    def service_body(self) -> dict[str, Any]:
        if self.plan is not None:
            return self.model_dump(include={"domain", "plan", "beliefs", "todo", "version"}, exclude_none=True)
        return self.model_dump(exclude={"plan", "beliefs"}, exclude_none=True)


class AdvanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version
    beliefs: dict[str, Any] | None = Field(None, description="What the character observed after the step.")
    simulate: bool = Field(True, description="Without beliefs: apply the step's action to the beliefs.")


class BeliefsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vars: dict[str, Any] = Field(..., description='{"var": {"key": value}}: merged (null removes a key).')
    name: str | None = Field(None, max_length=128)
    replace: bool = Field(False, description="Replace the whole beliefs instead of merging.")
    version: Version | None = None


class FailBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=1, max_length=1000)
    version: Version | None = None


class ReplanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    todo: list[Any] | None = Field(None, description="A new todo list (default: the stored one).")
    strategy: Literal["dfs", "greedy"] = "dfs"
    max_nodes: int | None = Field(None, ge=1)
    max_seconds: float | None = Field(None, gt=0)
    optimise_cost: bool = False
    version: Version | None = None


@router.put("/characters/{character}/decision", summary="Give a character a plan (planned here or given)")
async def set_decision(client: Client, character: Character, body: DecisionBody,
                       caller: Principal = permits(EngineClient.set_decision)) -> dict[str, Any]:
    return await client.set_decision(caller, character, body.service_body())


@router.get("/characters/{character}/decision", summary="A character's plan, current step and beliefs")
async def get_decision(client: Client, character: Character,
                       caller: Principal = permits(EngineClient.get_decision)) -> dict[str, Any]:
    return await client.get_decision(caller, character)


@router.post("/characters/{character}/decision/advance", summary="The character did its current step")
async def advance_decision(client: Client, character: Character, body: AdvanceBody,
                           caller: Principal = permits(EngineClient.advance_decision)) -> dict[str, Any]:
    return await client.advance_decision(caller, character, body.version, body.beliefs, body.simulate)


@router.patch("/characters/{character}/decision/beliefs", summary="Change what the character believes")
async def update_beliefs(client: Client, character: Character, body: BeliefsBody,
                         caller: Principal = permits(EngineClient.update_beliefs)) -> dict[str, Any]:
    beliefs = body.model_dump(include={"vars", "name"}, exclude_none=True)
    return await client.update_beliefs(caller, character, beliefs, body.replace, body.version)


@router.post("/characters/{character}/decision/fail", summary="The character's plan failed")
async def fail_decision(client: Client, character: Character, body: FailBody,
                        caller: Principal = permits(EngineClient.fail_decision)) -> dict[str, Any]:
    return await client.fail_decision(caller, character, body.reason, body.version)


@router.post("/characters/{character}/decision/replan", summary="Plan again from the character's beliefs")
async def replan_decision(client: Client, character: Character, body: ReplanBody,
                          caller: Principal = permits(EngineClient.replan_decision)) -> dict[str, Any]:
    return await client.replan_decision(caller, character, body.model_dump(exclude_none=True))


@router.get("/characters/{character}/decision/history", summary="A character's newest decision events")
async def decision_history(client: Client, character: Character,
                           limit: Annotated[int, Query(ge=1, le=100)] = 50,
                           caller: Principal = permits(EngineClient.decision_history)) -> list[dict[str, Any]]:
    return await client.decision_history(caller, character, limit)


@router.get("/decisions", summary="Characters' decision states, a page at a time")
async def list_decisions(client: Client,
                         status: Literal["planning", "executing", "done", "failed"] | None = None,
                         after: Annotated[str | None, Query(max_length=128)] = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50,
                         caller: Principal = permits(EngineClient.list_decisions)) -> dict[str, Any]:
    return await client.list_decisions(caller, status, after, limit)


# -- GOAP, behavior trees, coordination, repair, learning --------------------------------------
# Bodies are bounded here and checked again by the service (aria_actors.engine.features), which
# also serves queue jobs and in-process callers that skip these models.
Facts = Annotated[dict[str, dict[str, Any]], Field(max_length=500, description='{"has": {"axe": true}}')]
Step = Annotated[list[Any], Field(min_length=1, max_length=64, description='["drive", "a", "c"]')]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Todo = Annotated[list[Any], Field(max_length=1000, description='[["deliver", "p1", "c"]]')]
State = Annotated[dict[str, Any], Field(description='{"name": "s0", "vars": {...}}')]


class Budgeted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_nodes: int | None = Field(None, ge=1, description="Node budget (capped by the server's).")
    max_seconds: float | None = Field(None, gt=0, description="Time budget (capped by the server's).")


class GoapActionBody(BaseModel):
    """A declarative GOAP action: facts that must hold, facts it makes hold, a positive cost."""

    model_config = ConfigDict(extra="forbid")

    name: Label
    preconditions: Facts = Field(default_factory=dict)
    effects: Annotated[dict[str, dict[str, Any]], Field(min_length=1, max_length=500)]
    cost: float = Field(1.0, gt=0, allow_inf_nan=False)


class GoapBody(Budgeted):
    state: State
    goal: Facts
    actions: list[GoapActionBody] = Field(..., min_length=1, max_length=500)


class TreeBody(Budgeted):
    """A behavior tree over a registered domain (node kinds: see aria_actors.engine.features)."""

    domain: Name
    state: State
    tree: dict[str, Any] = Field(..., description='{"sequence": [{"task": ["deliver", "p1", "c"]}]}')
    fail: list[Step] = Field(default_factory=list, max_length=256,
                             description="Action instances the simulated world refuses.")
    max_ticks: int | None = Field(None, ge=1, le=10_000)


class CharacterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    character: Label
    domain: Name
    state: State
    todo: Todo = Field(default_factory=list)
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="Higher keeps contested resources.")


class CoordinateBody(Budgeted):
    characters: list[CharacterBody] = Field(..., min_length=1, max_length=256)
    resources: dict[str, list[int | str]] = Field(
        default_factory=dict, max_length=256,
        description='Resources a step uses, per action: {"use": [2]} (argument index, 1 = first) or a name.')
    joint_goal: dict[str, Any] | None = Field(None, description='{"multigoal": "g", "vars": {...}}, split')
    assign: dict[str, dict[str, Label]] | None = Field(
        None, max_length=500, description="Who takes a joint goal: {var: {arg: character}}; else round robin.")
    max_delay: int = Field(1000, ge=0, le=10_000)


class RepairBody(Budgeted):
    domain: Name
    state: State = Field(..., description="The state the plan was made from.")
    todo: Todo
    plan: list[Step] = Field(..., min_length=1, max_length=10_000)
    failed: int = Field(..., ge=0, description="Index of the step that could not run.")
    observed: State | None = Field(None, description="The state when it failed (default: simulated).")
    strategy: Literal["dfs", "greedy"] = "dfs"


class LearnBody(Budgeted):
    domain: Name
    problem: Name | None = None
    state: State | None = None
    todo: Todo | None = None
    strategy: Literal["dfs", "greedy"] = "dfs"

    @model_validator(mode="after")
    def _problem_or_state(self) -> LearnBody:
        if (self.problem is None) == (self.state is None or self.todo is None):
            raise ValueError("give either problem, or both state and todo")
        return self


DomainQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.post("/goap", summary="A cheapest GOAP plan over declarative actions")
async def goap(client: Client, body: GoapBody, caller: Principal = permits(EngineClient.goap)) -> dict[str, Any]:
    return await client.goap(caller, body.model_dump(exclude_none=True))


@router.post("/bt/run", summary="Run a behavior tree over a registered domain, replanning on failure")
async def run_tree(client: Client, body: TreeBody,
                   caller: Principal = permits(EngineClient.run_tree)) -> dict[str, Any]:
    return await client.run_tree(caller, body.model_dump(exclude_none=True))


@router.post("/coordinate", summary="Plan several characters sharing resources, conflicts by priority")
async def coordinate(client: Client, body: CoordinateBody,
                     caller: Principal = permits(EngineClient.coordinate)) -> dict[str, Any]:
    return await client.coordinate(caller, body.model_dump(exclude_none=True))


@router.post("/repair", summary="Repair a plan below the node whose step failed")
async def repair(client: Client, body: RepairBody,
                 caller: Principal = permits(EngineClient.repair)) -> dict[str, Any]:
    return await client.repair(caller, body.model_dump(exclude_none=True))


@router.post("/learn", summary="Plan with the domain's learned method choices, and learn from the plan")
async def learn(client: Client, body: LearnBody,
                caller: Principal = permits(EngineClient.plan_learned)) -> dict[str, Any]:
    return await client.plan_learned(caller, body.model_dump(exclude_none=True))


@router.get("/learn/stats", summary="Learned method caches: entries, lookups, hits per domain")
async def learn_stats(client: Client, domain: DomainQuery = None,
                      caller: Principal = permits(EngineClient.learning_stats)) -> dict[str, Any]:
    return await client.learning_stats(caller, domain)


@router.delete("/learn", summary="Forget learned method choices (one domain, or all)")
async def learn_clear(client: Client, domain: DomainQuery = None,
                      caller: Principal = permits(EngineClient.clear_learning)) -> dict[str, Any]:
    return await client.clear_learning(caller, domain)
