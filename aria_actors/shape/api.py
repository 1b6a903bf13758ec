"""REST surface of aria_shape under ``/v1/shape``; thin: validates, then calls the service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient

router = APIRouter(prefix="/v1/shape", tags=["shape"])
Shape = Depends(service_client("aria_shape"))


class GenerateRequest(BaseModel):
    template: str | dict[str, Any] = Field(description="A template's name, or a whole template inline.")
    name: str = Field("", max_length=128, description="Name of the new character.")
    seed: int | None = Field(None, ge=0, description="Seed for a reproducible character.")
    describe: bool = Field(True, description="Also generate a description and its embedding.")
    max_new_tokens: int | None = Field(None, ge=1, le=512)


class ValidateRequest(BaseModel):
    template: str | dict[str, Any]
    character: dict[str, Any]


class DescribeRequest(BaseModel):
    traits: list[str] = Field(min_length=1, max_length=32)
    max_new_tokens: int | None = Field(None, ge=1, le=512)
    seed: int | None = Field(None, ge=0)


@router.get("/templates")
async def list_templates(client: ServiceClient = Shape) -> list[dict[str, Any]]:
    return await client.call("list_templates")


@router.get("/templates/{name}")
async def get_template(name: str, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("get_template", name)


@router.put("/templates/{name}")
async def put_template(name: str, body: dict[str, Any], client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("put_template", {**body, "name": name})


@router.post("/characters/generate")
async def generate(req: GenerateRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("generate", req.template, name=req.name, seed=req.seed,
                             describe=req.describe, max_new_tokens=req.max_new_tokens)


@router.post("/characters/validate")
async def validate(req: ValidateRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("validate", req.template, req.character)


@router.post("/characters/portrait", response_class=Response)
async def portrait(character: dict[str, Any], client: ServiceClient = Shape) -> Response:
    svg = await client.call("portrait", character)
    return Response(svg, media_type="image/svg+xml")


@router.post("/describe")
async def describe(req: DescribeRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    text = await client.call("describe", req.traits, max_new_tokens=req.max_new_tokens, seed=req.seed)
    return {"traits": req.traits, "description": text}


class CreateCharacterRequest(BaseModel):
    template: str = Field(description="Name of the character's template.")
    character: dict[str, Any] | None = Field(None, description="A character to store; omitted: generate one.")
    name: str = Field("", max_length=128)
    seed: int | None = Field(None, ge=0)
    describe: bool = True
    change: str = Field("created", max_length=1000)


class EvolveRequest(BaseModel):
    add_traits: list[str] = Field(default_factory=list)
    remove_traits: list[str] = Field(default_factory=list)
    attributes: dict[str, float | int | str] = Field(default_factory=dict)
    name: str | None = Field(None, max_length=128)
    description: str | None = None
    change: str = Field("", max_length=1000, description="Why the character changed.")


class ModelRequest(BaseModel):
    path: str = Field(min_length=1, description="Checkpoint directory of this version.")
    parent: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    training_config: dict[str, Any] = Field(default_factory=dict)


@router.post("/characters", status_code=201)
async def create_character(req: CreateCharacterRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("create_character", req.template, req.character, name=req.name,
                             seed=req.seed, describe=req.describe, change=req.change)


@router.get("/characters/{character_id}")
async def get_character(character_id: str, version: int | None = Query(None, ge=1),
                        client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("get_character", character_id, version)


@router.post("/characters/{character_id}/versions", status_code=201)
async def evolve_character(character_id: str, req: EvolveRequest,
                           client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("evolve_character", character_id, **req.model_dump())


@router.get("/characters/{character_id}/versions")
async def character_history(character_id: str, client: ServiceClient = Shape) -> list[dict[str, Any]]:
    return await client.call("character_history", character_id)


@router.get("/models")
async def list_models(client: ServiceClient = Shape) -> list[dict[str, Any]]:
    return await client.call("list_models")


@router.get("/models/{model_id}")
async def get_model(model_id: str, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("get_model", model_id)


@router.put("/models/{model_id}")
async def register_model(model_id: str, req: ModelRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("register_model", model_id, req.path, parent=req.parent,
                             metrics=req.metrics, training_config=req.training_config)


class TrafficRequest(BaseModel):
    weights: dict[str, float] = Field(min_length=1, description="Model version id -> traffic weight.")
    seed: int = Field(0, ge=0)


class CompleteRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)
    key: str | None = Field(None, max_length=256, description="Sticky routing key (user, session).")
    max_new_tokens: int | None = Field(None, ge=1, le=512)
    seed: int | None = Field(None, ge=0)


class FeedbackRequest(BaseModel):
    version: str
    value: float


class PromoteRequest(BaseModel):
    version: str | None = Field(None, description="Version to serve; default the A/B leader.")


@router.put("/traffic")
async def set_traffic(req: TrafficRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("set_traffic", req.weights, seed=req.seed)


@router.get("/traffic")
async def traffic_report(client: ServiceClient = Shape) -> dict[str, Any] | None:
    return await client.call("traffic_report")


@router.post("/complete")
async def complete(req: CompleteRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("complete_ab", req.prompt, key=req.key, max_new_tokens=req.max_new_tokens,
                             seed=req.seed)


@router.post("/feedback", status_code=204)
async def feedback(req: FeedbackRequest, client: ServiceClient = Shape) -> Response:
    await client.call("feedback", req.version, req.value)
    return Response(status_code=204)


@router.post("/promote")
async def promote(req: PromoteRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("promote", req.version)


class TrainRequest(BaseModel):
    version: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                         description="Id of the model version to create (also its checkpoint run's name).")
    steps: int = Field(20, ge=1, le=10_000)
    prompts_per_step: int = Field(4, ge=1, le=1024)
    settings: dict[str, Any] = Field(default_factory=dict, description="GRPO settings (GRPOSettings).")
    seed: int = Field(0, ge=0)
    eval_prompts: int = Field(8, ge=0, le=1024, description="Held-out prompts scored before and after.")
    checkpoint_every: int = Field(5, ge=1, le=10_000,
                                  description="Steps between checkpoints (a retried attempt resumes at the last).")


@router.post("/train", status_code=202)
async def train(req: TrainRequest, client: ServiceClient = Shape) -> dict[str, Any]:
    """Enqueue a training run (aria_queue job ``aria_shape.train``); follow it with
    ``GET /train/{job_id}``, whose ``model`` is the registered version once it completed."""
    return await client.call("start_training", req.version, steps=req.steps,
                             prompts_per_step=req.prompts_per_step, settings=req.settings, seed=req.seed,
                             eval_prompts=req.eval_prompts, checkpoint_every=req.checkpoint_every)


@router.get("/train/{job_id}")
async def training_status(job_id: int, client: ServiceClient = Shape) -> dict[str, Any]:
    return await client.call("training_status", job_id)


@router.post("/stream")
async def stream(req: CompleteRequest, client: ServiceClient = Shape) -> StreamingResponse:
    """Server-sent events: one ``data: {"token": ...}`` per piece, then ``event: done``."""
    sid = (await client.call("start_stream", req.prompt, max_new_tokens=req.max_new_tokens,
                             seed=req.seed, key=req.key))["stream_id"]

    async def events() -> AsyncIterator[str]:
        while True:
            chunk = await client.call("read_stream", sid)
            for piece in chunk["tokens"]:
                yield f"data: {json.dumps({'token': piece})}\n\n"
            if chunk["done"]:
                yield f"event: done\ndata: {json.dumps({'error': chunk['error']})}\n\n"
                return

    return StreamingResponse(events(), media_type="text/event-stream")
