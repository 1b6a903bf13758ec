"""REST surface of aria_tune's resource proposals (``/v1/tune/resources``): thin, validates then
calls the service (resources.py says what the answers mean).

``GET /v1/tune/resources?window_s=`` every service's use against its reservation with a proposal;
``GET /v1/tune/resources/{service}`` one service (unknown: 404); ``POST .../proposals`` records them;
``GET .../proposals``, ``GET .../proposals/{id}``; ``POST .../proposals/{id}/decision`` (administrators,
audited). The proposal routes come before ``/{service}``, which would otherwise take "proposals".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.client import TuneClient
from aria_actors.tune.resources import MAX_LIST, MAX_NOTE

router = ServiceRouter(prefix="/v1/tune/resources", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
# The range the service checks against the history aria_monitor keeps (its 400 names window_s);
# only non-numbers are refused here.
Window = Annotated[float, Query(allow_inf_nan=False, description="Seconds back from now (60 .. the history kept).")]
ServiceName = Annotated[str, Path(max_length=64)]
ProposalId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ProposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_s: float = Field(3600.0, description="Seconds of history the proposals follow.")
    service: Annotated[str, Field(max_length=64)] | None = Field(None, description="One service (default: all).")


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"]
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = None


@router.get("", summary="Every service's CPU and memory use against its reservation, with a proposal")
async def resources(client: Client, window_s: Window = 3600,
                    caller: Principal = permits(TuneClient.resources)) -> dict[str, Any]:
    return await client.resources(caller, window_s, None)


@router.post("/proposals", status_code=201, summary="Record each service's proposal with its evidence")
async def propose_resources(client: Client, req: ProposeRequest | None = None,
                            caller: Principal = permits(TuneClient.propose_resources)) -> dict[str, Any]:
    req = req or ProposeRequest()
    return await client.propose_resources(caller, req.window_s, req.service)


@router.get("/proposals", summary="Recorded proposals, newest first")
async def list_resource_proposals(client: Client, service: Annotated[str | None, Query(max_length=64)] = None,
                                  status: Literal["proposed", "accepted", "rejected"] | None = None,
                                  limit: int = Query(100, ge=1, le=MAX_LIST),
                                  caller: Principal = permits(TuneClient.list_resource_proposals)
                                  ) -> list[dict[str, Any]]:
    return await client.list_resource_proposals(caller, service, status, limit)


@router.get("/proposals/{proposal_id}", summary="One recorded proposal")
async def get_resource_proposal(proposal_id: ProposalId, client: Client,
                                caller: Principal = permits(TuneClient.get_resource_proposal)) -> dict[str, Any]:
    return await client.get_resource_proposal(caller, proposal_id)


@router.post("/proposals/{proposal_id}/decision", summary="Accept or reject a proposal (administrators, audited)")
async def decide_resource_proposal(proposal_id: ProposalId, req: DecisionRequest, client: Client,
                                   caller: Principal = permits(TuneClient.decide_resource_proposal)
                                   ) -> dict[str, Any]:
    return await client.decide_resource_proposal(caller, proposal_id, req.decision, req.note)


@router.get("/{service}", summary="One service's use against its reservation, with a proposal")
async def service_resources(service: ServiceName, client: Client, window_s: Window = 3600,
                            caller: Principal = permits(TuneClient.resources)) -> dict[str, Any]:
    return await client.resources(caller, window_s, service)
