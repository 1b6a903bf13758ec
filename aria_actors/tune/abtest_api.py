"""REST surface of aria_tune's A/B tests of model versions (abtest.py says what the answers mean);
thin: validates, then calls the service.

``POST /v1/tune/ab-tests {name, target, control, candidate, share, alpha, min_samples, max_samples,
direction, study}``: split the target's traffic; ``GET /v1/tune/ab-tests`` (``?status=``),
``GET /v1/tune/ab-tests/{name}`` with the live statistics; ``POST .../{name}/decide`` promotes the
winner once the verdict is in (409 before); ``POST .../{name}/stop`` ends it, the control served.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.abtest import MAX_EFFECT, MAX_LIST, MAX_SAMPLES, NAME, VERSION
from aria_actors.tune.client import TuneClient
from aria_actors.tune.space import STUDY_NAME

router = ServiceRouter(prefix="/v1/tune/ab-tests", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
TestName = Annotated[str, Path(pattern=NAME)]
Version = Annotated[str, Field(pattern=VERSION)]


class ABTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=NAME)]
    target: Literal["aria_shape", "aria_interpret"] = Field(description="The service whose traffic is split.")
    control: Version = Field(description="The version served now.")
    candidate: Version = Field(description="The version tested against it.")
    share: float = Field(0.5, gt=0, le=0.99, allow_inf_nan=False, description="The candidate's share of traffic.")
    alpha: float = Field(0.05, gt=0, le=0.2, allow_inf_nan=False, description="Significance level (two-sided).")
    min_samples: int = Field(100, ge=2, le=MAX_SAMPLES, description="Feedback scores per arm before any verdict.")
    max_samples: int | None = Field(None, ge=2, le=MAX_SAMPLES,
                                    description="Per arm: no significant difference by then keeps the control.")
    direction: Literal["maximize", "minimize"] = Field("maximize", description="Which mean feedback is better.")
    study: Annotated[str, Field(pattern=STUDY_NAME)] | None = Field(
        None, description="The study whose winner the candidate is (recorded).")
    method: Literal["sequential", "fixed"] = Field(
        "sequential", description="sequential: mSPRT, valid however often decide is called; fixed: Welch's "
                                  "p-value, valid for one look at a planned sample size.")
    effect: float | None = Field(None, gt=0, le=MAX_EFFECT, allow_inf_nan=False,
                                 description="sequential: the standardised effect size (difference / sd) to tune "
                                             "to; absent: a mixture from 0.05 to 2.")


@router.post("", status_code=201, summary="Start an A/B test of two model versions")
async def start_ab_test(req: ABTestRequest, client: Client,
                        caller: Principal = permits(TuneClient.start_ab_test)) -> dict[str, Any]:
    return await client.start_ab_test(caller, req.name, req.target, req.control, req.candidate, req.share, req.alpha,
                                      req.min_samples, req.max_samples, req.direction, req.study,
                                      method=req.method, effect=req.effect)


@router.get("", summary="A/B tests, newest first")
async def list_ab_tests(client: Client,
                        status: Literal["running", "promoted", "kept", "stopped"] | None = None,
                        limit: int = Query(100, ge=1, le=MAX_LIST),
                        caller: Principal = permits(TuneClient.list_ab_tests)) -> list[dict[str, Any]]:
    return await client.list_ab_tests(caller, status, limit)


@router.get("/{name}", summary="One A/B test with its statistics and verdict")
async def ab_test(name: TestName, client: Client,
                  caller: Principal = permits(TuneClient.ab_test)) -> dict[str, Any]:
    return await client.ab_test(caller, name)


@router.post("/{name}/decide", summary="Promote the winner once the verdict is in (audited)")
async def decide_ab_test(name: TestName, client: Client,
                         caller: Principal = permits(TuneClient.decide_ab_test)) -> dict[str, Any]:
    return await client.decide_ab_test(caller, name)


@router.post("/{name}/stop", summary="End the test without a verdict: the control is served (audited)")
async def stop_ab_test(name: TestName, client: Client,
                       caller: Principal = permits(TuneClient.stop_ab_test)) -> dict[str, Any]:
    return await client.stop_ab_test(caller, name)
