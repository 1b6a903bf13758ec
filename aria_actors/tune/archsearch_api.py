"""REST surface of aria_tune's architecture search (archsearch.py says what the answers mean);
thin: validates, then calls the service.

``POST /v1/tune/arch-searches {name, target, space?, objectives?, sampler?, budget, parallelism}``:
a multi-objective study (then ``POST /v1/tune/studies/{name}/optimize`` runs it, and the other
study routes follow, stop and delete it). ``GET /v1/tune/studies/{name}/front``: its Pareto front.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.client import TuneClient
from aria_actors.tune.space import STUDY_NAME as NAME

router = ServiceRouter(prefix="/v1/tune", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
StudyName = Annotated[str, Path(pattern=NAME)]


class ArchSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=NAME)]
    target: Literal["din", "qwen3"] = Field("din", description="What is searched: din (aria_interpret's DIN) or "
                                                               "qwen3 (aria_shape's tiny Qwen3).")
    space: dict[str, Any] | None = Field(None, max_length=1024, description=(
        "Architecture parameters as in a study (din: item_dim, category_dim, attention_layers, attention_width, "
        "mlp_layers, mlp_width; qwen3: num_layers, hidden_size, num_heads); default: the target's usual space."))
    objectives: list[str | dict[str, Any]] | None = Field(None, max_length=8, description=(
        "Metrics to optimise together (2+ of the target's: din gauc, parameters, latency_ms; qwen3 loss, "
        "parameters, latency_ms; or {name, direction}); default: all."))
    sampler: dict[str, Any] | Annotated[str, Field(max_length=32)] | None = Field(
        None, description='{"name": "tpe"|"random", "seed", "n_startup_trials"} (TPE: multi-objective)')
    budget: int = Field(20, description="Trials to run in all.")
    parallelism: int = Field(1, description="Trials running at once.")


@router.post("/arch-searches", status_code=201, summary="Create a multi-objective architecture search")
async def create_arch_search(req: ArchSearchRequest, client: Client,
                             caller: Principal = permits(TuneClient.create_arch_search)) -> dict[str, Any]:
    return await client.create_arch_search(caller, req.name, req.target, req.space, req.objectives, req.sampler,
                                           req.budget, req.parallelism)


@router.get("/studies/{name}/front", summary="The Pareto front of a multi-objective study")
async def pareto_front(name: StudyName, client: Client,
                       caller: Principal = permits(TuneClient.pareto_front)) -> dict[str, Any]:
    return await client.pareto_front(caller, name)
