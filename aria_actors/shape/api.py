"""REST surface of aria_shape under ``/v1/shape``; thin: validates, then calls the service.

Every body is a pydantic model that refuses unknown fields, bounds its sizes and refuses NUL and
control characters in its text (PostgreSQL stores no NUL), so a malformed request is a 422
problem+json before aria_shape is called; each route names the RPC method it
fronts (``permits``), whose permission the gateway checks here and the service again inside.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.shape.characters.templates import (
    LINE,
    MAX_DESCRIPTION,
    MAX_ITEMS,
    MAX_PERSONALITY_TEXT,
    NAME_PATTERN,
    TEXT,
    Character,
    Name,
    Template,
    Word,
)
from aria_actors.shape.client import ShapeClient
from aria_actors.shape.inference.traffic import MAX_FEEDBACK, RESPONSE_ID

router = ServiceRouter(prefix="/v1/shape", tags=["shape"])
Client = Annotated[ShapeClient, Depends(service_client(ShapeClient))]

MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ModelId = Annotated[str, Field(min_length=1, max_length=128, pattern=MODEL_ID)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]  # fits the stored seed and torch's generator
Tokens = Annotated[int, Field(ge=1, le=512)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _no_nul(value: Any) -> Any:
    """``value`` if no string in it (keys included) holds NUL, which jsonb cannot store."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("strings must not hold NUL characters (\\u0000)")
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return value


JsonObject = Annotated[dict[str, Any], Field(max_length=256), AfterValidator(_no_nul)]
# Free text of a request (see templates.LINE/TEXT): no NUL, no control characters but tabs and
# line breaks in TEXT.
Line = Annotated[str, Field(pattern=LINE)]
Text = Annotated[str, Field(pattern=TEXT)]
Traits = Annotated[list[Word], Field(max_length=MAX_ITEMS)]
Attributes = Annotated[dict[Word, float | int | Word], Field(max_length=64)]
TemplatePath = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]
ModelPath = Annotated[str, Path(min_length=1, max_length=128, pattern=MODEL_ID)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateBody(Template):
    """A template as ``PUT /templates/{name}`` takes it: the path names it."""

    name: Name | None = None  # type: ignore[assignment]


def _template(template: str | Template) -> str | dict[str, Any]:
    return template if isinstance(template, str) else template.model_dump(mode="json", by_alias=True)


class GenerateRequest(Body):
    template: Name | Template = Field(description="A template's name, or a whole template inline.")
    name: Line = Field("", max_length=128, description="Name of the new character.")
    seed: Seed | None = Field(None, description="Seed for a reproducible character.")
    describe: bool = Field(True, description="Also generate a description and its embedding.")
    max_new_tokens: Tokens | None = None


class ValidateRequest(Body):
    template: Name | Template
    character: Character


class DescribeRequest(Body):
    traits: list[Word] = Field(min_length=1, max_length=32)
    max_new_tokens: Tokens | None = None
    seed: Seed | None = None


@router.get("/templates")
async def list_templates(client: Client,
                         caller: Principal = permits(ShapeClient.list_templates)) -> list[dict[str, Any]]:
    return await client.list_templates(caller)


@router.get("/templates/{name}")
async def get_template(name: TemplatePath, client: Client,
                       caller: Principal = permits(ShapeClient.get_template)) -> dict[str, Any]:
    return await client.get_template(caller, name)


@router.put("/templates/{name}")
async def put_template(name: TemplatePath, body: TemplateBody, client: Client,
                       caller: Principal = permits(ShapeClient.put_template)) -> dict[str, Any]:
    return await client.put_template(caller, {**body.model_dump(mode="json", by_alias=True), "name": name})


@router.post("/characters/generate")
async def generate(req: GenerateRequest, client: Client,
                   caller: Principal = permits(ShapeClient.generate)) -> dict[str, Any]:
    return await client.generate(caller, _template(req.template), name=req.name, seed=req.seed,
                                 describe=req.describe, max_new_tokens=req.max_new_tokens)


@router.post("/characters/validate")
async def validate(req: ValidateRequest, client: Client,
                   caller: Principal = permits(ShapeClient.validate)) -> dict[str, Any]:
    return await client.validate(caller, _template(req.template), req.character.model_dump(mode="json"))


@router.post("/characters/portrait", response_class=Response)
async def portrait(character: Character, client: Client,
                   caller: Principal = permits(ShapeClient.portrait)) -> Response:
    svg = await client.portrait(caller, character.model_dump(mode="json"))
    return Response(svg, media_type="image/svg+xml")


class PersonalityRequest(Body):
    text: Text = Field(min_length=1, max_length=MAX_PERSONALITY_TEXT,
                       description="One to a few sentences to read a Big Five profile from.")
    traits: list[Word] = Field(default_factory=list, max_length=32,
                               description="A character's traits: adds their profile and its consistency "
                                           "with the text's.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


@router.post("/personality")
async def personality(req: PersonalityRequest, client: Client,
                      caller: Principal = permits(ShapeClient.personality)) -> dict[str, Any]:
    """The Big Five profile a trained model (sentence embeddings + a logistic head fitted on IPIP
    items) reads in the text; with traits, theirs too and the consistency between the two."""
    return await client.personality(caller, req.text, req.traits or None)


@router.post("/describe")
async def describe(req: DescribeRequest, client: Client,
                   caller: Principal = permits(ShapeClient.describe)) -> dict[str, Any]:
    text = await client.describe(caller, req.traits, max_new_tokens=req.max_new_tokens, seed=req.seed)
    return {"traits": req.traits, "description": text}


class CreateCharacterRequest(Body):
    template: Name = Field(description="Name of the character's template.")
    character: Character | None = Field(None, description="A character to store; omitted: generate one.")
    name: Line = Field("", max_length=128)
    seed: Seed | None = None
    describe: bool = True
    change: Text = Field("created", max_length=1000)


class EvolveRequest(Body):
    add_traits: Traits = Field(default_factory=list)
    remove_traits: Traits = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)
    name: Line | None = Field(None, max_length=128)
    description: Text | None = Field(None, max_length=MAX_DESCRIPTION)
    change: Text = Field("", max_length=1000, description="Why the character changed.")
    expected_version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The version this edit was made on: refused with 409 "
        "shape-version-conflict if the character has changed since (no lost update).")


class ModelRequest(Body):
    path: Line = Field(min_length=1, max_length=4096, description="Checkpoint directory of this version.")
    parent: ModelId | None = None
    metrics: JsonObject = Field(default_factory=dict)
    training_config: JsonObject = Field(default_factory=dict)


@router.post("/characters", status_code=201)
async def create_character(req: CreateCharacterRequest, client: Client,
                           caller: Principal = permits(ShapeClient.create_character)) -> dict[str, Any]:
    character = req.character.model_dump(mode="json") if req.character is not None else None
    return await client.create_character(caller, req.template, character, name=req.name, seed=req.seed,
                                         describe=req.describe, change=req.change)


@router.get("/characters")
async def list_characters(client: Client, after: uuid.UUID | None = None,
                          limit: int = Query(50, ge=1, le=200),
                          caller: Principal = permits(ShapeClient.list_characters)) -> dict[str, Any]:
    return await client.list_characters(caller, after=str(after) if after else "", limit=limit)


@router.delete("/characters/{character_id}", status_code=204)
async def delete_character(character_id: uuid.UUID, client: Client,
                           caller: Principal = permits(ShapeClient.delete_character)) -> Response:
    await client.delete_character(caller, str(character_id))
    return Response(status_code=204)


@router.get("/characters/{character_id}")
async def get_character(character_id: uuid.UUID, client: Client,
                        version: int | None = Query(None, ge=1, le=2**31 - 1),
                        caller: Principal = permits(ShapeClient.get_character)) -> dict[str, Any]:
    return await client.get_character(caller, str(character_id), version)


@router.post("/characters/{character_id}/versions", status_code=201)
async def evolve_character(character_id: uuid.UUID, req: EvolveRequest, client: Client,
                           caller: Principal = permits(ShapeClient.evolve_character)) -> dict[str, Any]:
    return await client.evolve_character(caller, str(character_id), **req.model_dump())


@router.get("/characters/{character_id}/versions")
async def character_history(character_id: uuid.UUID, client: Client,
                            caller: Principal = permits(ShapeClient.character_history)) -> list[dict[str, Any]]:
    return await client.character_history(caller, str(character_id))


@router.get("/models")
async def list_models(client: Client, caller: Principal = permits(ShapeClient.list_models)) -> list[dict[str, Any]]:
    return await client.list_models(caller)


@router.get("/models/{model_id}")
async def get_model(model_id: ModelPath, client: Client,
                    caller: Principal = permits(ShapeClient.get_model)) -> dict[str, Any]:
    return await client.get_model(caller, model_id)


@router.put("/models/{model_id}")
async def register_model(model_id: ModelPath, req: ModelRequest, client: Client,
                         caller: Principal = permits(ShapeClient.register_model)) -> dict[str, Any]:
    return await client.register_model(caller, model_id, req.path, parent=req.parent, metrics=req.metrics,
                                       training_config=req.training_config)


class TrafficRequest(Body):
    weights: dict[ModelId, Annotated[Finite, Field(ge=0)]] = Field(
        min_length=1, max_length=16, description="Model version id -> traffic weight.")
    seed: Seed = 0


class CompleteRequest(Body):
    prompt: Text = Field(min_length=1, max_length=4000)
    key: Line | None = Field(None, max_length=256, description="Sticky routing key (user, session).")
    max_new_tokens: Tokens | None = None
    seed: Seed | None = None


class FeedbackRequest(Body):
    version: ModelId = Field(description="The version that served the response (its answer's `version`).")
    response_id: str = Field(pattern=f"^{RESPONSE_ID.pattern}$", description=(
        "The id of a response of that version, as `/complete` (or the stream's `done` event) gave it to "
        "the same caller; one score per caller and version, a newer one replacing theirs."))
    value: Annotated[float, Field(allow_inf_nan=False, ge=-MAX_FEEDBACK, le=MAX_FEEDBACK)]


class PromoteRequest(Body):
    version: ModelId | None = Field(None, description="Version to serve; default the A/B leader.")


@router.put("/traffic")
async def set_traffic(req: TrafficRequest, client: Client,
                      caller: Principal = permits(ShapeClient.set_traffic)) -> dict[str, Any]:
    return await client.set_traffic(caller, req.weights, seed=req.seed)


@router.get("/traffic")
async def traffic_report(client: Client,
                         caller: Principal = permits(ShapeClient.traffic_report)) -> dict[str, Any] | None:
    return await client.traffic_report(caller)


@router.post("/complete")
async def complete(req: CompleteRequest, client: Client,
                   caller: Principal = permits(ShapeClient.complete_ab)) -> dict[str, Any]:
    return await client.complete_ab(caller, req.prompt, key=req.key, max_new_tokens=req.max_new_tokens,
                                    seed=req.seed)


@router.post("/feedback", status_code=204)
async def feedback(req: FeedbackRequest, client: Client,
                   caller: Principal = permits(ShapeClient.feedback)) -> Response:
    await client.feedback(caller, req.version, req.response_id, req.value)
    return Response(status_code=204)


@router.post("/promote")
async def promote(req: PromoteRequest, client: Client,
                  caller: Principal = permits(ShapeClient.promote)) -> dict[str, Any]:
    return await client.promote(caller, req.version)


class TrainRequest(Body):
    version: ModelId = Field(description="Id of the model version to create (also its checkpoint run's name).")
    steps: int = Field(20, ge=1, le=10_000)
    prompts_per_step: int = Field(4, ge=1, le=1024)
    settings: JsonObject = Field(default_factory=dict, description="GRPO settings (GRPOSettings).")
    seed: Seed = 0
    eval_prompts: int = Field(8, ge=0, le=1024, description="Held-out prompts scored before and after.")
    checkpoint_every: int = Field(5, ge=1, le=10_000,
                                  description="Steps between checkpoints (a retried attempt resumes at the last).")


@router.post("/train", status_code=202)
async def train(req: TrainRequest, client: Client,
                caller: Principal = permits(ShapeClient.start_training)) -> dict[str, Any]:
    """Enqueue a training run (aria_queue job ``aria_shape.train``, run as the caller); follow it
    with ``GET /train/{job_id}``, whose ``model`` is the registered version once it completed."""
    return await client.start_training(caller, req.version, steps=req.steps,
                                       prompts_per_step=req.prompts_per_step, settings=req.settings,
                                       seed=req.seed, eval_prompts=req.eval_prompts,
                                       checkpoint_every=req.checkpoint_every)


@router.get("/train/{job_id}")
async def training_status(client: Client, job_id: int = Path(ge=1, le=2**63 - 1),
                          caller: Principal = permits(ShapeClient.training_status)) -> dict[str, Any]:
    return await client.training_status(caller, job_id)


@router.post("/stream")
async def stream(req: CompleteRequest, client: Client,
                 caller: Principal = permits(ShapeClient.start_stream)) -> StreamingResponse:
    """Server-sent events: one ``data: {"token": ...}`` per piece, then ``event: done`` (with the
    serving ``version`` and, in an A/B test, the ``response_id`` feedback names)."""
    started = await client.start_stream(caller, req.prompt, max_new_tokens=req.max_new_tokens,
                                        seed=req.seed, key=req.key)
    sid, served = started["stream_id"], {"version": started["version"], "response_id": started.get("response_id")}

    async def events() -> AsyncIterator[str]:
        while True:
            chunk = await client.read_stream(caller, sid)
            for piece in chunk["tokens"]:
                yield f"data: {json.dumps({'token': piece})}\n\n"
            if chunk["done"]:
                yield f"event: done\ndata: {json.dumps({'error': chunk['error'], **served})}\n\n"
                return

    return StreamingResponse(events(), media_type="text/event-stream")


class ArchTrialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any] = Field(default_factory=dict, max_length=8, description=(
        "The tiny Qwen3's num_layers (1-6), hidden_size (16-256, a multiple of 2 x num_heads), num_heads (1-8)."))
    steps: int = Field(60, description="Causal-LM training steps (at most arch_trial_max_steps).")


@router.post("/arch-trials")
async def evaluate_architecture(req: ArchTrialRequest, client: Client,
                                caller: Principal = permits(ShapeClient.evaluate_architecture)) -> dict[str, Any]:
    """An evaluate-only trial of a tiny Qwen3 architecture: held-out loss, parameters, latency."""
    return await client.evaluate_architecture(caller, req.params, req.steps)
