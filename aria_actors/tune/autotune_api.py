"""REST surface of aria_tune's auto-tuner under ``/v1/tune/autotune``: thin, then the service
(autotune.py says what a change goes through).

``GET /knobs``: knobs, limits, targets now. ``POST /scan``: proposals for saturated targets.
``POST /proposals {knob, target, value, reason?}``: an operator's proposal. ``GET /changes``,
``GET /changes/{id}``: the records. ``POST /changes/{id}/apply`` (202: measured in the
background), ``POST /changes/{id}/reject``.

Bodies refuse unknown fields (422); the values' meaning (a known knob and target, within the
limits) is the service's, whose 400 / 404 / 409 names the field or the change at fault.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.client import TuneClient

router = ServiceRouter(prefix="/v1/tune/autotune", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
ChangeId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Status = Literal["proposed", "measuring", "kept", "rolled_back", "rejected", "failed"]


class ProposalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    knob: str = Field(max_length=64, description="A knob (GET /v1/tune/autotune/knobs), e.g. queue.concurrency.")
    target: str = Field(max_length=255, description="What the knob is of: a queue's name.")
    value: int = Field(description="The value to try, within the knob's limits.")
    reason: str | None = Field(None, max_length=1000)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000)


@router.get("/knobs", summary="Knobs, their limits and their targets' values now")
async def autotune_knobs(client: Client, caller: Principal = permits(TuneClient.autotune_knobs)) -> dict[str, Any]:
    return await client.autotune_knobs(caller)


@router.post("/scan", summary="Propose a raise for every saturated target")
async def autotune_scan(client: Client, caller: Principal = permits(TuneClient.autotune_scan)) -> dict[str, Any]:
    return await client.autotune_scan(caller)


@router.post("/proposals", status_code=201, summary="Propose a value for a knob of a target")
async def autotune_propose(req: ProposalRequest, client: Client,
                           caller: Principal = permits(TuneClient.autotune_propose)) -> dict[str, Any]:
    return await client.autotune_propose(caller, req.knob, req.target, req.value, req.reason)


@router.get("/changes", summary="Changes newest first, with measurements and decisions")
async def autotune_changes(client: Client, knob: str | None = Query(None, max_length=64),
                           target: str | None = Query(None, max_length=255), status: Status | None = None,
                           limit: int = Query(100, ge=1, le=1000),
                           caller: Principal = permits(TuneClient.autotune_changes)) -> list[dict[str, Any]]:
    return await client.autotune_changes(caller, knob, target, status, limit)


@router.get("/changes/{change_id}", summary="One change")
async def autotune_change(change_id: ChangeId, client: Client,
                          caller: Principal = permits(TuneClient.autotune_change)) -> dict[str, Any]:
    return await client.autotune_change(caller, change_id)


@router.post("/changes/{change_id}/apply", status_code=202, summary="Apply a proposal: measured, then kept or "
                                                                      "rolled back")
async def autotune_apply(change_id: ChangeId, client: Client,
                         caller: Principal = permits(TuneClient.autotune_apply)) -> dict[str, Any]:
    return await client.autotune_apply(caller, change_id)


@router.post("/changes/{change_id}/reject", summary="Drop a proposal")
async def autotune_reject(change_id: ChangeId, client: Client, req: RejectRequest | None = None,
                          caller: Principal = permits(TuneClient.autotune_reject)) -> dict[str, Any]:
    return await client.autotune_reject(caller, change_id, (req or RejectRequest()).reason)
