"""REST surface of aria_workflow under ``/v1/workflow``; thin: validates, then calls the service.

::

    /definitions [/validate | /{name} [/versions | /rollback]]   documents, versions, rollback
    /catalog                                                      what a document may name
    /runs [/{run_id} [/history | /signals/{name} | /pause | /resume | /cancel | /retry | /skip
                      | /migrate | /edit]]                        runs and an operator's controls
    /stats, /metrics                                              what happened, and how fast

Guarantees and caveats
----------------------
- Every body is a pydantic model that refuses unknown fields and bounds its sizes (a document,
  an input, a payload, the steps of an edit), and path and query values are checked against the
  service's own patterns (workflow names, run ids as UUIDs, signal names), so a malformed request
  is a 422 problem+json before aria_workflow is called.
- Each route names the RPC method it fronts (``permits``): the gateway checks that method's
  permission here and the service checks it again inside, as the caller, on the run it touches.
  Who a run acts as is the caller: no body can name it.
- The service's limits that are settings (``[workflow] max_input_bytes``) are checked there; the
  bounds here are the largest any setting allows.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.workflow.client import WorkflowClient
from aria_actors.workflow.definition import NAME
from aria_actors.workflow.document import MAX_BYTES

router = ServiceRouter(prefix="/v1/workflow", tags=["workflow"])
Client = Annotated[WorkflowClient, Depends(service_client(WorkflowClient))]

# The service's own patterns (service.SIGNAL, service.STATES; a unit test keeps them equal): not
# imported from there, since importing the service loads its engine and database pool.
SIGNAL = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_PAYLOAD = 16 * 1024 * 1024  # [workflow] max_input_bytes at most; the configured limit is the service's
MAX_EDIT_STEPS = 100
MAX_VERSION = 1_000_000

Name = Annotated[str, Field(pattern=NAME)]
NamePath = Annotated[str, Path(pattern=NAME, description="A workflow's name.")]
RunPath = Annotated[str, Path(pattern=UUID, description="A run's id (a UUID).")]
SignalPath = Annotated[str, Path(pattern=SIGNAL, description="The signal's name.")]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
State = Literal["pending", "running", "waiting", "paused", "completed", "failed", "cancelled", "dead"]
STATES = get_args(State)


def _json_size(value: Any, field: str, limit: int) -> Any:
    try:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")))
    except ValueError:
        raise ValueError(f"{field} must be JSON (no NaN or infinities)") from None
    if size > limit:
        raise ValueError(f"{field} is {size} bytes of JSON; at most {limit}")
    return value


def _payload_size(value: Any, info: ValidationInfo) -> Any:
    return _json_size(value, info.field_name or "value", MAX_PAYLOAD)


# A JSON value of at most MAX_PAYLOAD bytes (an input, a signal's payload, a skipped step's output).
Payload = Annotated[Any, AfterValidator(_payload_size)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- definitions -----------------------------------------------------------------------------------
class DocumentRequest(Body):
    document: dict[str, Any] | Annotated[str, Field(min_length=1, max_length=MAX_BYTES)] = Field(
        description="A workflow document: the parsed object, or its YAML or JSON text.")

    @field_validator("document")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | str) -> dict[str, Any] | str:
        return value if isinstance(value, str) else _json_size(value, "document", MAX_BYTES)


class RollbackRequest(Body):
    version: Version | None = Field(None, description="The version to release (default: the one before).")


@router.post("/definitions/validate")
async def validate(req: DocumentRequest, client: Client,
                   caller: Principal = permits(WorkflowClient.validate)) -> dict[str, Any]:
    return await client.validate(caller, req.document)


@router.post("/definitions", status_code=201)
async def publish(req: DocumentRequest, client: Client,
                  caller: Principal = permits(WorkflowClient.publish)) -> dict[str, Any]:
    return await client.publish(caller, req.document)


@router.get("/definitions")
async def definitions(client: Client, caller: Principal = permits(WorkflowClient.definitions)) -> list[dict[str, Any]]:
    return await client.definitions(caller)


@router.get("/definitions/{name}")
async def definition(name: NamePath, client: Client, version: int | None = Query(None, ge=1, le=MAX_VERSION),
                     caller: Principal = permits(WorkflowClient.definition)) -> dict[str, Any]:
    return await client.definition(caller, name, version)


@router.get("/definitions/{name}/versions")
async def versions(name: NamePath, client: Client,
                   caller: Principal = permits(WorkflowClient.versions)) -> dict[str, Any]:
    return await client.versions(caller, name)


@router.post("/definitions/{name}/rollback")
async def rollback(name: NamePath, client: Client, req: RollbackRequest | None = None,
                   caller: Principal = permits(WorkflowClient.rollback)) -> dict[str, Any]:
    return await client.rollback(caller, name, req.version if req else None)


@router.get("/catalog")
async def catalog(client: Client, caller: Principal = permits(WorkflowClient.catalog)) -> dict[str, Any]:
    return await client.catalog(caller)


# -- runs -------------------------------------------------------------------------------------------
class StartRequest(Body):
    name: Name
    input: Payload = Field(None, description="The run's input (checked against the workflow's declared input).")
    version: Version | None = Field(None, description="Default: the released version.")
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="A run already started with this key for this workflow is answered instead.")


class SignalRequest(Body):
    payload: Payload = Field(None, description="What the waiting step receives.")


class SkipRequest(Body):
    output: Payload = Field(None, description="The skipped step's output (what later steps read).")


class MigrateRequest(Body):
    version: Version


Steps = Annotated[list[dict[str, Any]], Field(max_length=MAX_EDIT_STEPS)]


class EditRequest(Body):
    add: Steps | None = Field(None, description="Steps to add (document step objects).")
    replace: Steps | None = Field(None, description="Pending steps to replace, matched by id.")

    @field_validator("add", "replace")
    @classmethod
    def _bounded(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return value if value is None else _json_size(value, "steps", MAX_BYTES)


@router.post("/runs", status_code=202)
async def start_run(req: StartRequest, client: Client,
                    caller: Principal = permits(WorkflowClient.start_run)) -> dict[str, Any]:
    return await client.start_run(caller, req.name, req.input, req.version, req.idempotency_key)


@router.get("/runs")
async def runs(client: Client, name: str | None = Query(None, pattern=NAME), state: State | None = None,
               limit: int = Query(50, ge=1, le=1000),
               caller: Principal = permits(WorkflowClient.runs)) -> list[dict[str, Any]]:
    return await client.runs(caller, name, state, limit)


@router.get("/runs/{run_id}")
async def run(run_id: RunPath, client: Client, caller: Principal = permits(WorkflowClient.run)) -> dict[str, Any]:
    return await client.run(caller, run_id)


@router.get("/runs/{run_id}/history")
async def history(run_id: RunPath, client: Client,
                  caller: Principal = permits(WorkflowClient.history)) -> dict[str, Any]:
    return await client.history(caller, run_id)


@router.post("/runs/{run_id}/signals/{name}")
async def signal(run_id: RunPath, name: SignalPath, client: Client, req: SignalRequest | None = None,
                 caller: Principal = permits(WorkflowClient.signal)) -> dict[str, Any]:
    return await client.signal(caller, run_id, name, req.payload if req else None)


@router.post("/runs/{run_id}/pause")
async def pause(run_id: RunPath, client: Client, caller: Principal = permits(WorkflowClient.pause)) -> dict[str, Any]:
    return await client.pause(caller, run_id)


@router.post("/runs/{run_id}/resume")
async def resume(run_id: RunPath, client: Client,
                 caller: Principal = permits(WorkflowClient.resume)) -> dict[str, Any]:
    return await client.resume(caller, run_id)


@router.post("/runs/{run_id}/cancel")
async def cancel(run_id: RunPath, client: Client,
                 compensate: bool = Query(False, description="Run completed steps' compensations first."),
                 caller: Principal = permits(WorkflowClient.cancel)) -> dict[str, Any]:
    return await client.cancel(caller, run_id, compensate)


@router.post("/runs/{run_id}/retry")
async def retry(run_id: RunPath, client: Client, caller: Principal = permits(WorkflowClient.retry)) -> dict[str, Any]:
    return await client.retry(caller, run_id)


@router.post("/runs/{run_id}/skip")
async def skip(run_id: RunPath, client: Client, req: SkipRequest | None = None,
               caller: Principal = permits(WorkflowClient.skip)) -> dict[str, Any]:
    return await client.skip(caller, run_id, req.output if req else None)


@router.post("/runs/{run_id}/migrate")
async def migrate(run_id: RunPath, req: MigrateRequest, client: Client,
                  caller: Principal = permits(WorkflowClient.migrate)) -> dict[str, Any]:
    return await client.migrate(caller, run_id, req.version)


@router.post("/runs/{run_id}/edit")
async def edit(run_id: RunPath, req: EditRequest, client: Client,
               caller: Principal = permits(WorkflowClient.edit)) -> dict[str, Any]:
    return await client.edit(caller, run_id, add=req.add, replace=req.replace)


# -- analytics ----------------------------------------------------------------------------------------
@router.get("/stats")
async def stats(client: Client, name: str | None = Query(None, pattern=NAME),
                since_s: float = Query(86400.0, gt=0, le=366 * 86400, allow_inf_nan=False),
                caller: Principal = permits(WorkflowClient.stats)) -> dict[str, Any]:
    return await client.stats(caller, name, since_s)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics of aria_workflow")
async def metrics(client: Client, caller: Principal = permits(WorkflowClient.metrics)) -> str:
    return await client.metrics(caller)
