"""``aria.interpret``: character text, analytics and recommendations (``/v1/interpret``)."""

from __future__ import annotations

from typing import Any

import aria_actors.interpret.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class InterpretAPI(Section):
    # -- text ---------------------------------------------------------------------------------
    @route("POST", "/v1/interpret/embed")
    def embed(self, texts: list[str]) -> dict[str, Any]:
        """Unit-length all-MiniLM-L6-v2 vectors of ``texts`` (384 dimensions)."""
        return Req(json={"texts": texts})

    @route("POST", "/v1/interpret/analyze")
    def analyze(self, text: str, traits: list[str] | None = None) -> dict[str, Any]:
        """Entities, traits, sentiment (and, with ``traits``, consistency) of a description."""
        return Req(json={"text": text, "traits": traits})

    @route("POST", "/v1/interpret/consistency")
    def consistency(self, traits: list[str], text: str) -> dict[str, Any]:
        return Req(json={"traits": traits, "text": text})

    @route("PUT", "/v1/interpret/characters/{character_id}")
    def put_character(self, character_id: str, description: str, traits: list[str] | None = None) -> dict[str, Any]:
        return Req(path={"character_id": character_id}, json={"description": description, "traits": traits})

    @route("GET", "/v1/interpret/characters/{character_id}")
    def get_character(self, character_id: str) -> dict[str, Any]:
        return Req(path={"character_id": character_id})

    @route("DELETE", "/v1/interpret/characters/{character_id}")
    def delete_character(self, character_id: str) -> dict[str, Any]:
        return Req(path={"character_id": character_id})

    @route("POST", "/v1/interpret/similar")
    def similar(self, *, character_id: str | None = None, text: str | None = None, k: int = 10) -> dict[str, Any]:
        body = {"character_id": character_id, "text": text, "k": k}
        return Req(json={key: v for key, v in body.items() if v is not None})

    # -- events and analytics -----------------------------------------------------------------
    @route("POST", "/v1/interpret/events")
    def record(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Record actions, interactions, states, picks and feedback (all or none)."""
        return Req(json={"events": events})

    @route("GET", "/v1/interpret/events/counts")
    def event_counts(self) -> dict[str, int]:
        return Req()

    @route("GET", "/v1/interpret/patterns")
    def patterns(self, min_support: float = 0.2, max_length: int = 4, k: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"min_support": min_support, "max_length": max_length}
        if k is not None:
            params["k"] = k
        return Req(params=params)

    @route("GET", "/v1/interpret/interactions/stats")
    def interaction_stats(self, alpha: float = 0.05) -> dict[str, Any]:
        return Req(params={"alpha": alpha})

    @route("POST", "/v1/interpret/development")
    def development(self, character_id: str | None = None, k: int = 3) -> dict[str, Any]:
        return Req(json={"character_id": character_id, "k": k})

    @route("GET", "/v1/interpret/characters/{character_id}/recommended-traits")
    def recommend_attributes(self, character_id: str, k: int = 5) -> dict[str, Any]:
        return Req(path={"character_id": character_id}, params={"k": k})

    @route("POST", "/v1/interpret/traits/recommend")
    def recommend_traits(self, picked: list[str] | None = None, player: str | None = None,
                         k: int = 5) -> dict[str, Any]:
        return Req(json={"picked": picked or [], "player": player, "k": k})

    # -- recommender ----------------------------------------------------------------------------
    @route("POST", "/v1/interpret/train")
    def start_training(self, version: str, dataset: str = "interactions", config: dict[str, Any] | None = None,
                       promote: bool = False, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Enqueue DIN training of ``version`` (an aria_queue job run as you); ``params``: a search's
        flat hyperparameters (a study's best trial), under ``config``."""
        return Req(json=body(version=version, dataset=dataset, config=config or {}, promote=promote, params=params))

    @route("POST", "/v1/interpret/din/trials")
    def start_din_trial(self, params: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
        """Start an evaluate-only DIN trial (nothing stored): its id, parameter count, subset size."""
        return Req(json={"params": params, "epochs": epochs})

    @route("POST", "/v1/interpret/din/trials/{trial}/epoch")
    def din_trial_epoch(self, trial: str) -> dict[str, Any]:
        """One more epoch of the trial: its validation metrics (never the test split's)."""
        return Req(path={"trial": trial})

    @route("DELETE", "/v1/interpret/din/trials/{trial}")
    def end_din_trial(self, trial: str) -> dict[str, Any]:
        """End the trial: best-epoch validation metrics, parameter count, scoring latency."""
        return Req(path={"trial": trial})

    @route("GET", "/v1/interpret/train/{job_id}")
    def training_status(self, job_id: int) -> dict[str, Any]:
        return Req(path={"job_id": job_id})

    @route("POST", "/v1/interpret/retrain")
    def retrain(self, dataset: str = "interactions") -> dict[str, Any]:
        return Req(json={"dataset": dataset})

    @route("GET", "/v1/interpret/models")
    def list_versions(self) -> dict[str, Any]:
        return Req()

    @route("GET", "/v1/interpret/models/{version}")
    def get_version(self, version: str) -> dict[str, Any]:
        return Req(path={"version": version})

    @route("POST", "/v1/interpret/promote")
    def promote(self, version: str, reason: str = "") -> dict[str, Any]:
        return Req(json={"version": version, "reason": reason})

    @route("POST", "/v1/interpret/rollback")
    def rollback(self) -> dict[str, Any]:
        return Req()

    @route("PUT", "/v1/interpret/traffic")
    def set_traffic(self, weights: dict[str, float] | None) -> dict[str, Any]:
        return Req(json={"weights": weights})

    @route("GET", "/v1/interpret/traffic")
    def traffic_report(self) -> dict[str, Any]:
        return Req()

    @route("POST", "/v1/interpret/recommend")
    def recommend(self, user: str, candidates: list[str], k: int | None = None,
                  history: list[str] | None = None) -> dict[str, Any]:
        """Rank ``candidates`` for ``user`` with the served DIN version (or the A/B pick)."""
        body = {"user": user, "candidates": candidates, "k": k, "history": history}
        return Req(json={key: v for key, v in body.items() if v is not None})

    @route("GET", "/v1/interpret/serving")
    def serving_status(self) -> dict[str, Any]:
        return Req()
