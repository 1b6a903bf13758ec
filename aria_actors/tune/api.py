"""REST surface of aria_tune under ``/v1/tune``; thin: validates, then calls the service.

Bodies refuse unknown fields and bound their sizes (a 422 before aria_tune is called); what a
search space means (ranges, log scales, choices) is checked by the service, whose 400 names the
field at fault. Each route names the RPC method it fronts (``permits``), whose permission the
gateway checks here and the service again inside.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.abtest import VERSION
from aria_actors.tune.client import TuneClient
from aria_actors.tune.space import STUDY_NAME as NAME

router = ServiceRouter(prefix="/v1/tune", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
StudyName = Annotated[str, Path(pattern=NAME)]
Settings = dict[str, Any] | Annotated[str, Field(max_length=32)] | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudyRequest(Body):
    name: Annotated[str, Field(pattern=NAME)]
    objective: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="A registered objective (GET /v1/tune/objectives).")
    space: dict[str, Any] | None = Field(None, max_length=1024, description=(
        "Parameter -> {type: float, low, high, log} | {type: int, low, high, step} | "
        "{type: categorical, choices}; default: the objective's usual space."))
    direction: Literal["minimize", "maximize"] | None = None
    sampler: Settings = Field(None, description='{"name": "tpe"|"random", "seed", "n_startup_trials", "multivariate"}')
    pruner: Settings = Field(None, description='{"name": "median", "n_startup_trials", "n_warmup_steps", '
                                               '"interval_steps", "n_min_trials"} | {"name": "asha", "min_resource", '
                                               '"reduction_factor", "min_early_stopping_rate", "bootstrap_count"} | '
                                               '"none"')
    budget: int = Field(20, description="Trials to run in all.")
    parallelism: int = Field(1, description="Trials running at once.")


class OptimizeRequest(Body):
    budget: int | None = Field(None, description="A new trial budget (larger continues a completed study).")
    parallelism: int | None = None


@router.get("/objectives")
async def list_objectives(client: Client,
                          caller: Principal = permits(TuneClient.list_objectives)) -> list[dict[str, Any]]:
    return await client.list_objectives(caller)


@router.post("/studies", status_code=201)
async def create_study(req: StudyRequest, client: Client,
                       caller: Principal = permits(TuneClient.create_study)) -> dict[str, Any]:
    return await client.create_study(caller, req.name, req.objective, req.space, req.direction, req.sampler,
                                     req.pruner, req.budget, req.parallelism)


@router.get("/studies")
async def list_studies(client: Client, limit: int = Query(100, ge=1, le=1000),
                       caller: Principal = permits(TuneClient.list_studies)) -> list[dict[str, Any]]:
    return await client.list_studies(caller, limit)


@router.get("/studies/{name}")
async def get_study(name: StudyName, client: Client,
                    caller: Principal = permits(TuneClient.get_study)) -> dict[str, Any]:
    return await client.get_study(caller, name)


@router.delete("/studies/{name}")
async def delete_study(name: StudyName, client: Client,
                       caller: Principal = permits(TuneClient.delete_study)) -> dict[str, Any]:
    return await client.delete_study(caller, name)


@router.get("/studies/{name}/trials")
async def list_trials(name: StudyName, client: Client,
                      state: Literal["running", "complete", "pruned", "failed"] | None = None,
                      after: int = Query(0, ge=0, le=2**31 - 1), limit: int = Query(1000, ge=1, le=1000),
                      caller: Principal = permits(TuneClient.list_trials)) -> dict[str, Any]:
    return await client.list_trials(caller, name, state, after, limit)


@router.post("/studies/{name}/optimize", status_code=202)
async def optimize(name: StudyName, client: Client, req: OptimizeRequest | None = None,
                   caller: Principal = permits(TuneClient.optimize)) -> dict[str, Any]:
    req = req or OptimizeRequest()
    return await client.optimize(caller, name, req.budget, req.parallelism)


class CandidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(pattern=VERSION, description="The model version to train (a new id).")]
    trial: int | None = Field(None, ge=0, le=2**31 - 1,
                              description="The trial to train (default: the best complete one).")
    dataset: Literal["interactions", "movielens-100k"] = "interactions"
    config: dict[str, Any] | None = Field(None, max_length=32, description=(
        "Training settings over the target's defaults (epochs, patience, ...), none the trial's params set."))


@router.post("/studies/{name}/candidate", status_code=202)
async def train_candidate(name: StudyName, req: CandidateRequest, client: Client,
                          caller: Principal = permits(TuneClient.train_candidate)) -> dict[str, Any]:
    """Train the study's winner into a model version of its service (a job run as you), the
    candidate of an A/B test."""
    return await client.train_candidate(caller, name, req.version, req.trial, req.dataset, req.config)


@router.post("/studies/{name}/stop")
async def stop_study(name: StudyName, client: Client,
                     caller: Principal = permits(TuneClient.stop_study)) -> dict[str, Any]:
    return await client.stop_study(caller, name)


from aria_actors.tune import resources_api  # noqa: E402

router.routes.extend(resources_api.router.routes)


from aria_actors.tune import cacheopt_api  # noqa: E402

router.routes.extend(cacheopt_api.router.routes)


from aria_actors.tune import autotune_api  # noqa: E402

router.routes.extend(autotune_api.router.routes)


from aria_actors.tune import queryopt_api  # noqa: E402

router.routes.extend(queryopt_api.router.routes)


from aria_actors.tune import archsearch_api  # noqa: E402

router.routes.extend(archsearch_api.router.routes)


from aria_actors.tune import pipeline_api  # noqa: E402

router.routes.extend(pipeline_api.router.routes)


from aria_actors.tune import abtest_api  # noqa: E402

router.routes.extend(abtest_api.router.routes)
