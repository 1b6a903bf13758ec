"""REST surface of aria_interpret under ``/v1/interpret``; thin: validates, then calls the service.

Every body is a pydantic model that refuses unknown fields and bounds its sizes, so a malformed
request (a 10 MB description, NaN, an id with spaces) is a 422 problem+json before aria_interpret
is called; each route names the RPC method it fronts (``permits``), whose permission the gateway
checks here and the service again inside.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.interpret.client import InterpretClient
from aria_actors.interpret.din_trials import TRIAL_ID
from aria_actors.interpret.events import ID
from aria_actors.interpret.training import VERSION
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/interpret", tags=["interpret"])
Client = Annotated[InterpretClient, Depends(service_client(InterpretClient))]

MAX_TEXT = 20_000  # characters of one description (text.validate's bound, checked again there)
MAX_TEXTS = 1024
Id = Annotated[str, Field(pattern=ID)]
Version = Annotated[str, Field(pattern=VERSION)]
IdPath = Annotated[str, Path(pattern=ID)]
VersionPath = Annotated[str, Path(pattern=VERSION)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Trait = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Traits = Annotated[list[Trait], Field(max_length=64)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
K = Annotated[int, Field(ge=1, le=1000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- text ------------------------------------------------------------------------------------------
class EmbedRequest(Body):
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)


class AnalyzeRequest(Body):
    text: Text
    traits: Traits | None = None


class ConsistencyRequest(Body):
    traits: Traits = Field(min_length=1)
    text: Text


class CharacterRequest(Body):
    description: Text
    traits: Traits | None = None


class SimilarRequest(Body):
    character_id: Id | None = None
    text: Text | None = None
    k: K = 10


@router.post("/embed")
async def embed(req: EmbedRequest, client: Client, caller: Principal = permits(InterpretClient.embed)) -> Any:
    return await client.embed(caller, req.texts)


@router.post("/analyze")
async def analyze(req: AnalyzeRequest, client: Client,
                  caller: Principal = permits(InterpretClient.analyze)) -> dict[str, Any]:
    return await client.analyze(caller, req.text, req.traits)


@router.post("/consistency")
async def consistency(req: ConsistencyRequest, client: Client,
                      caller: Principal = permits(InterpretClient.consistency)) -> dict[str, Any]:
    return await client.consistency(caller, req.traits, req.text)


@router.put("/characters/{character_id}")
async def put_character(character_id: IdPath, req: CharacterRequest, client: Client,
                        caller: Principal = permits(InterpretClient.put_character)) -> dict[str, Any]:
    return await client.put_character(caller, character_id, req.description, req.traits)


@router.get("/characters/{character_id}")
async def get_character(character_id: IdPath, client: Client,
                        caller: Principal = permits(InterpretClient.get_character)) -> dict[str, Any]:
    return await client.get_character(caller, character_id)


@router.delete("/characters/{character_id}")
async def delete_character(character_id: IdPath, client: Client,
                           caller: Principal = permits(InterpretClient.delete_character)) -> dict[str, Any]:
    return await client.delete_character(caller, character_id)


@router.post("/similar")
async def similar(req: SimilarRequest, client: Client,
                  caller: Principal = permits(InterpretClient.similar)) -> dict[str, Any]:
    return await client.similar(caller, character_id=req.character_id, text=req.text, k=req.k)


# -- events and analytics ------------------------------------------------------------------------------
class EventBody(Body):
    kind: Literal["action", "interaction", "state", "pick", "feedback"]
    subject: Id
    object: Annotated[str, Field(max_length=128)] = ""
    category: Annotated[str, Field(max_length=128)] = ""
    value: Finite = 1.0
    attrs: dict[str, Any] = Field(default_factory=dict, max_length=64)
    ts: float | str | None = None


class EventsRequest(Body):
    events: list[EventBody] = Field(min_length=1, max_length=10_000)


@router.post("/events", status_code=201)
async def record(req: EventsRequest, client: Client,
                 caller: Principal = permits(InterpretClient.record)) -> dict[str, Any]:
    return await client.record(caller, [e.model_dump(exclude_none=True) for e in req.events])


@router.get("/events/counts")
async def event_counts(client: Client, caller: Principal = permits(InterpretClient.event_counts)) -> dict[str, int]:
    return await client.event_counts(caller)


@router.get("/patterns")
async def patterns(client: Client, min_support: float = Query(0.2, gt=0, le=1),
                   max_length: int = Query(4, ge=1, le=10), k: int | None = Query(None, ge=2, le=20),
                   caller: Principal = permits(InterpretClient.patterns)) -> dict[str, Any]:
    return await client.patterns(caller, min_support=min_support, max_length=max_length, k=k)


@router.get("/interactions/stats")
async def interaction_stats(client: Client, alpha: float = Query(0.05, gt=0, lt=1),
                            caller: Principal = permits(InterpretClient.interaction_stats)) -> dict[str, Any]:
    return await client.interaction_stats(caller, alpha=alpha)


class DevelopmentRequest(Body):
    character_id: Id | None = None
    k: K = 3


@router.post("/development")
async def development(req: DevelopmentRequest, client: Client,
                      caller: Principal = permits(InterpretClient.development)) -> dict[str, Any]:
    return await client.development(caller, character_id=req.character_id, k=req.k)


@router.get("/characters/{character_id}/recommended-traits")
async def recommend_attributes(character_id: IdPath, client: Client, k: int = Query(5, ge=1, le=100),
                               caller: Principal = permits(InterpretClient.recommend_attributes)) -> dict[str, Any]:
    return await client.recommend_attributes(caller, character_id, k=k)


class TraitsRequest(Body):
    player: Id | None = None
    picked: Traits = Field(default_factory=list)
    k: Annotated[int, Field(ge=1, le=100)] = 5


@router.post("/traits/recommend")
async def recommend_traits(req: TraitsRequest, client: Client,
                           caller: Principal = permits(InterpretClient.recommend_traits)) -> dict[str, Any]:
    return await client.recommend_traits(caller, picked=req.picked, player=req.player, k=req.k)


# -- recommender -----------------------------------------------------------------------------------------
class TrainRequest(Body):
    version: Version
    dataset: Literal["interactions", "movielens-100k"] = "interactions"
    config: dict[str, Any] = Field(default_factory=dict, max_length=64)
    promote: bool = False
    params: dict[str, Any] | None = Field(None, max_length=32, description=(
        "A search's flat hyperparameters (a study's best trial, as DIN trials take them); `config` overrides."))


class RetrainRequest(Body):
    dataset: Literal["interactions", "movielens-100k"] = "interactions"


class PromoteRequest(Body):
    version: Version
    reason: Annotated[str, Field(max_length=500)] = ""


class TrafficRequest(Body):
    weights: dict[Version, Annotated[Finite, Field(ge=0)]] | None = Field(
        description="Model version -> weight (2-8 versions); null ends the A/B test.")


class RecommendRequest(Body):
    user: Id
    candidates: list[Id] = Field(min_length=1, max_length=1000)
    k: K | None = None
    history: list[Id] | None = Field(None, max_length=1000,
                                     description="The user's recent items (default: their recorded feedback).")


class DinTrialRequest(Body):
    params: dict[str, Any] = Field(default_factory=dict, max_length=32, description=(
        "Flat DIN hyperparameters: lr, reg, dropout, batch_size, item_dim, category_dim, attention_layers, "
        "attention_width, mlp_layers, mlp_width (each bounded; a value out of range is a 400 naming it)."))
    epochs: int = Field(3, description="The trial's budget of epochs (at most din_trial_max_epochs).")


TrialPath = Annotated[str, Path(pattern=TRIAL_ID)]


@router.post("/din/trials", status_code=201)
async def start_din_trial(req: DinTrialRequest, client: Client,
                          caller: Principal = permits(InterpretClient.start_din_trial)) -> dict[str, Any]:
    return await client.start_din_trial(caller, req.params, req.epochs)


@router.post("/din/trials/{trial}/epoch")
async def din_trial_epoch(trial: TrialPath, client: Client,
                          caller: Principal = permits(InterpretClient.din_trial_epoch)) -> dict[str, Any]:
    return await client.din_trial_epoch(caller, trial)


@router.delete("/din/trials/{trial}")
async def end_din_trial(trial: TrialPath, client: Client,
                        caller: Principal = permits(InterpretClient.end_din_trial)) -> dict[str, Any]:
    return await client.end_din_trial(caller, trial)


@router.post("/train", status_code=202)
async def start_training(req: TrainRequest, client: Client,
                         caller: Principal = permits(InterpretClient.start_training)) -> dict[str, Any]:
    return await client.start_training(caller, req.version, req.dataset, req.config, req.promote,
                                       params=req.params)


@router.get("/train/{job_id}")
async def training_status(client: Client, job_id: int = Path(ge=1, le=2**63 - 1),
                          caller: Principal = permits(InterpretClient.training_status)) -> dict[str, Any]:
    return await client.training_status(caller, job_id)


@router.post("/retrain", status_code=202)
async def retrain(req: RetrainRequest, client: Client,
                  caller: Principal = permits(InterpretClient.retrain)) -> dict[str, Any]:
    return await client.retrain(caller, req.dataset)


@router.get("/models")
async def list_versions(client: Client, caller: Principal = permits(InterpretClient.list_versions)) -> dict[str, Any]:
    return await client.list_versions(caller)


@router.get("/models/{version}")
async def get_version(version: VersionPath, client: Client,
                      caller: Principal = permits(InterpretClient.get_version)) -> dict[str, Any]:
    return await client.get_version(caller, version)


@router.post("/promote")
async def promote(req: PromoteRequest, client: Client,
                  caller: Principal = permits(InterpretClient.promote)) -> dict[str, Any]:
    return await client.promote(caller, req.version, req.reason)


@router.post("/rollback")
async def rollback(client: Client, caller: Principal = permits(InterpretClient.rollback)) -> dict[str, Any]:
    return await client.rollback(caller)


@router.put("/traffic")
async def set_traffic(req: TrafficRequest, client: Client,
                      caller: Principal = permits(InterpretClient.set_traffic)) -> dict[str, Any]:
    return await client.set_traffic(caller, req.weights)


@router.get("/traffic")
async def traffic_report(client: Client,
                         caller: Principal = permits(InterpretClient.traffic_report)) -> dict[str, Any]:
    return await client.traffic_report(caller)


@router.post("/recommend")
async def recommend(req: RecommendRequest, client: Client,
                    caller: Principal = permits(InterpretClient.recommend)) -> dict[str, Any]:
    return await client.recommend(caller, req.user, req.candidates, k=req.k, history=req.history)


@router.get("/serving")
async def serving_status(client: Client,
                         caller: Principal = permits(InterpretClient.serving_status)) -> dict[str, Any]:
    return await client.serving_status(caller)
