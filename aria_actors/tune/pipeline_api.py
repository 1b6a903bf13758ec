"""REST surface of aria_tune's training pipeline optimisation (pipeline.py says what the answers
mean); thin: validates, then calls the service.

``POST /v1/tune/pipeline-studies {name, target, space?, tolerance, sampler?, budget, parallelism}``:
a study of measured training runs (``POST /v1/tune/studies/{name}/optimize`` runs it).
``GET /v1/tune/studies/{name}/pipeline-proposal``: the proposed settings and every run.
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


class PipelineStudyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=NAME)]
    target: Literal["din"] = Field("din", description="Whose training: din (aria_interpret's DIN).")
    space: dict[str, Any] | None = Field(None, max_length=64, description=(
        "batch_size, threads, precision (fp32|bf16) as in a study; default: the target's usual space."))
    tolerance: float = Field(0.01, allow_inf_nan=False, description=(
        "Validation GAUC a proposal may lose against the best run (0 to 0.5)."))
    sampler: dict[str, Any] | Annotated[str, Field(max_length=32)] | None = None
    budget: int = Field(8, description="Runs to measure in all.")
    parallelism: int = Field(1, description="Runs at once (1: runs do not compete for the CPU).")


@router.post("/pipeline-studies", status_code=201, summary="Create a study of measured training runs")
async def create_pipeline_study(req: PipelineStudyRequest, client: Client,
                                caller: Principal = permits(TuneClient.create_pipeline_study)) -> dict[str, Any]:
    return await client.create_pipeline_study(caller, req.name, req.target, req.space, req.tolerance, req.sampler,
                                              req.budget, req.parallelism)


@router.get("/studies/{name}/pipeline-proposal", summary="The proposed training settings of a pipeline study")
async def pipeline_proposal(name: StudyName, client: Client,
                            caller: Principal = permits(TuneClient.pipeline_proposal)) -> dict[str, Any]:
    return await client.pipeline_proposal(caller, name)
