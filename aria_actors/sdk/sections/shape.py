"""``aria.shape``: character templates, characters, models, A/B traffic, training (``/v1/shape``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import aria_actors.shape.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class ShapeAPI(Section):
    # -- templates -------------------------------------------------------------------------------
    @route("POST", "/v1/shape/arch-trials")
    def evaluate_architecture(self, params: dict[str, Any], steps: int = 60) -> dict[str, Any]:
        """An evaluate-only trial of a tiny Qwen3 architecture (nothing stored)."""
        return Req(json={"params": params, "steps": steps})

    @route("GET", "/v1/shape/templates")
    def list_templates(self) -> list[dict[str, Any]]:
        return Req()

    @route("GET", "/v1/shape/templates/{name}")
    def get_template(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("PUT", "/v1/shape/templates/{name}")
    def put_template(self, name: str, template: dict[str, Any]) -> dict[str, Any]:
        """Store ``template`` under ``name``."""
        return Req(path={"name": name}, json=template)

    # -- characters ------------------------------------------------------------------------------
    @route("POST", "/v1/shape/characters/generate")
    def generate(self, template: str | dict[str, Any], *, name: str | None = None, seed: int | None = None,
                 describe: bool | None = None, max_new_tokens: int | None = None) -> dict[str, Any]:
        """A new character from a template (by name, or inline); not stored."""
        return Req(json=body(template=template, name=name, seed=seed, describe=describe,
                             max_new_tokens=max_new_tokens))

    @route("POST", "/v1/shape/characters/validate")
    def validate(self, template: str | dict[str, Any], character: dict[str, Any]) -> dict[str, Any]:
        return Req(json={"template": template, "character": character})

    @route("POST", "/v1/shape/characters/portrait")
    def portrait(self, character: dict[str, Any]) -> bytes:
        """The character's portrait (SVG)."""
        return Req(json=character, raw=True)

    @route("POST", "/v1/shape/describe")
    def describe(self, traits: list[str], *, max_new_tokens: int | None = None,
                 seed: int | None = None) -> dict[str, Any]:
        """``{"traits", "description"}``: a description written from traits."""
        return Req(json=body(traits=traits, max_new_tokens=max_new_tokens, seed=seed))

    @route("POST", "/v1/shape/personality")
    def personality(self, text: str, *, traits: list[str] | None = None) -> dict[str, Any]:
        """The Big Five profile the trained model reads in ``text``; with ``traits``, theirs and the
        ``consistency`` between the two."""
        return Req(json=body(text=text, traits=traits))

    @route("POST", "/v1/shape/characters")
    def create_character(self, template: str, character: dict[str, Any] | None = None, *,
                         name: str | None = None, seed: int | None = None, describe: bool | None = None,
                         change: str | None = None) -> dict[str, Any]:
        """Store ``character`` (omitted: a generated one) as version 1 of a new character."""
        return Req(json=body(template=template, character=character, name=name, seed=seed,
                             describe=describe, change=change))

    @route("GET", "/v1/shape/characters/{character_id}")
    def get_character(self, character_id: str | UUID, version: int | None = None) -> dict[str, Any]:
        return Req(path={"character_id": character_id}, params={"version": version})

    @route("POST", "/v1/shape/characters/{character_id}/versions")
    def evolve_character(self, character_id: str | UUID, *, add_traits: list[str] | None = None,
                         remove_traits: list[str] | None = None,
                         attributes: dict[str, float | int | str] | None = None, name: str | None = None,
                         description: str | None = None, change: str | None = None,
                         expected_version: int | None = None) -> dict[str, Any]:
        """A new version of the character, with the changes given and why (``change``); with
        ``expected_version``, refused (409 shape-version-conflict) if someone changed it since."""
        return Req(path={"character_id": character_id},
                   json=body(add_traits=add_traits, remove_traits=remove_traits, attributes=attributes,
                             name=name, description=description, change=change,
                             expected_version=expected_version))

    @route("GET", "/v1/shape/characters/{character_id}/versions")
    def character_history(self, character_id: str | UUID) -> list[dict[str, Any]]:
        return Req(path={"character_id": character_id})

    @route("GET", "/v1/shape/characters")
    def list_characters(self, *, after: str | UUID | None = None, limit: int = 50) -> dict[str, Any]:
        """One page of the characters you may read: ``{"items": [...], "next": cursor or None}``."""
        return Req(params={"after": str(after) if after else None, "limit": limit})

    @route("DELETE", "/v1/shape/characters/{character_id}")
    def delete_character(self, character_id: str | UUID) -> None:
        return Req(path={"character_id": character_id})

    # -- models and A/B traffic ------------------------------------------------------------------
    @route("GET", "/v1/shape/models")
    def list_models(self) -> list[dict[str, Any]]:
        return Req()

    @route("GET", "/v1/shape/models/{model_id}")
    def get_model(self, model_id: str) -> dict[str, Any]:
        return Req(path={"model_id": model_id})

    @route("PUT", "/v1/shape/models/{model_id}")
    def register_model(self, model_id: str, path: str, *, parent: str | None = None,
                       metrics: dict[str, Any] | None = None,
                       training_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Register a model version whose checkpoint is in directory ``path``."""
        return Req(path={"model_id": model_id},
                   json=body(path=path, parent=parent, metrics=metrics, training_config=training_config))

    @route("PUT", "/v1/shape/traffic")
    def set_traffic(self, weights: dict[str, float], seed: int | None = None) -> dict[str, Any]:
        """Split completions between model versions by weight."""
        return Req(json=body(weights=weights, seed=seed))

    @route("GET", "/v1/shape/traffic")
    def traffic_report(self) -> dict[str, Any] | None:
        return Req()

    @route("POST", "/v1/shape/complete")
    def complete(self, prompt: str, *, key: str | None = None, max_new_tokens: int | None = None,
                 seed: int | None = None) -> dict[str, Any]:
        """A completion from the version the traffic split picks (``key``: sticky routing)."""
        return Req(json=body(prompt=prompt, key=key, max_new_tokens=max_new_tokens, seed=seed))

    @route("POST", "/v1/shape/stream")
    def stream(self, prompt: str, *, key: str | None = None, max_new_tokens: int | None = None,
               seed: int | None = None) -> bytes:
        """A completion as the whole server-sent-event body (``data: {"token": ...}`` lines)."""
        return Req(json=body(prompt=prompt, key=key, max_new_tokens=max_new_tokens, seed=seed), raw=True)

    @route("POST", "/v1/shape/feedback")
    def feedback(self, version: str, response_id: str, value: float) -> None:
        """Your score of model ``version`` in the running A/B test, given on a completion it served
        you (``version`` and ``response_id`` as :meth:`complete` answered them); one per version, a
        newer one replacing yours."""
        return Req(json={"version": version, "response_id": response_id, "value": value})

    @route("POST", "/v1/shape/promote")
    def promote(self, version: str | None = None) -> dict[str, Any]:
        """Serve one version (default: the A/B leader)."""
        return Req(json=body(version=version))

    # -- training --------------------------------------------------------------------------------
    @route("POST", "/v1/shape/train")
    def start_training(self, version: str, *, steps: int | None = None, prompts_per_step: int | None = None,
                       settings: dict[str, Any] | None = None, seed: int | None = None,
                       eval_prompts: int | None = None, checkpoint_every: int | None = None) -> dict[str, Any]:
        """Enqueue a GRPO training run creating model ``version``; follow it with :meth:`training_status`."""
        return Req(json=body(version=version, steps=steps, prompts_per_step=prompts_per_step,
                             settings=settings, seed=seed, eval_prompts=eval_prompts,
                             checkpoint_every=checkpoint_every))

    @route("GET", "/v1/shape/train/{job_id}")
    def training_status(self, job_id: int) -> dict[str, Any]:
        return Req(path={"job_id": job_id})
