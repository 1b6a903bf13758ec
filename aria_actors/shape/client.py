"""Typed client of aria_shape: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(ShapeClient)``, ``Depends(service_client(ShapeClient))`` or
``bind(ShapeClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py shape
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_shape")
class ShapeClient:
    @rpc("shape:character:read", feature="character-evolution")
    async def character_history(self, caller: Principal, character_id: str) -> list[dict[str, Any]]:
        ...

    @rpc("shape:completion:generate", job=True, feature="model-inference")
    async def complete(
        self,
        caller: Principal,
        prompts: list[str],
        *,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        min_new_tokens: int | None = None,
        key: str | None = None,
    ) -> list[str]:
        """Raw completions of ``prompts`` (batched with concurrent requests; a seed makes them one..."""

    @rpc("shape:completion:generate", features=("model-versions", "model-inference"))
    async def complete_ab(
        self,
        caller: Principal,
        prompt: str,
        *,
        key: str | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """One completion from the version the traffic split picks (sticky per ``key``)."""

    @rpc("shape:character:write", feature="character-evolution")
    async def create_character(
        self,
        caller: Principal,
        template: str,
        character: dict[str, Any] | None = None,
        *,
        name: str = '',
        seed: int | None = None,
        describe: bool = True,
        change: str = 'created',
    ) -> dict[str, Any]:
        """Store a character as version 1: the one given (validated) or a newly generated one."""

    @rpc("shape:character:delete", feature="character-evolution")
    async def delete_character(self, caller: Principal, character_id: str) -> None:
        """Forget a character and every version of it."""

    @rpc("shape:character:generate", job=True, feature="model-inference")
    async def describe(
        self,
        caller: Principal,
        traits: list[str],
        *,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        key: str | None = None,
    ) -> str:
        """A generated text description of a character with ``traits``."""

    @rpc("shape:completion:generate", job=True, feature="model-inference")
    async def embed(self, caller: Principal, texts: list[str]) -> list[list[float]]:
        """Unit-length embeddings from the served version (never split by an A/B test)."""

    @rpc("shape:arch:evaluate", feature="grpo-training")
    async def evaluate_architecture(
        self,
        caller: Principal,
        params: dict[str, Any],
        steps: int = 60,
    ) -> dict[str, Any]:
        """Build the tiny Qwen3 with ``params`` (num_layers, hidden_size, num_heads), train it..."""

    @rpc("shape:character:write", feature="character-evolution")
    async def evolve_character(
        self,
        caller: Principal,
        character_id: str,
        *,
        add_traits: list[str] | None = None,
        remove_traits: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        change: str = '',
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """A new version of a character with the given changes; refused if the result is invalid, or..."""

    @rpc("shape:traffic:write", feature="model-versions")
    async def feedback(self, caller: Principal, version: str, response_id: str, value: float) -> None:
        """The caller's outcome score of ``version`` in the running A/B test (what promotion compares),..."""

    @rpc(
        "shape:character:generate",
        job=True,
        features=("trait-generation", "model-inference", "multi-modal"),
    )
    async def generate(
        self,
        caller: Principal,
        template: str | dict[str, Any],
        *,
        name: str = '',
        seed: int | None = None,
        describe: bool = True,
        max_new_tokens: int | None = None,
    ) -> dict[str, Any]:
        """A character of ``template`` (a name or an inline template), multi-modal."""

    @rpc("shape:character:read", feature="character-evolution")
    async def get_character(
        self,
        caller: Principal,
        character_id: str,
        version: int | None = None,
    ) -> dict[str, Any]:
        ...

    @rpc("shape:model:read", feature="model-versions")
    async def get_model(self, caller: Principal, model_id: str) -> dict[str, Any]:
        ...

    @rpc("shape:template:read", feature="templates")
    async def get_template(self, caller: Principal, name: str) -> dict[str, Any]:
        ...

    @rpc("shape:character:list", feature="character-evolution")
    async def list_characters(self, caller: Principal, *, after: str = '', limit: int = 50) -> dict[str, Any]:
        """The characters ``caller`` may read, by id: ``{"items": [...], "next": cursor or None}``."""

    @rpc("shape:model:list", feature="model-versions")
    async def list_models(self, caller: Principal) -> list[dict[str, Any]]:
        ...

    @rpc("shape:template:list", feature="templates")
    async def list_templates(self, caller: Principal) -> list[dict[str, Any]]:
        ...

    @rpc("shape:model:deploy", scope="any", feature="model-versions")
    async def load_version(self, caller: Principal, model_id: str) -> dict[str, Any]:
        """Load (locally) or deploy (Serve) a registered model version now; returns its size."""

    @rpc("shape:character:read", feature="personality-model")
    async def personality(
        self,
        caller: Principal,
        text: str,
        traits: list[str] | None = None,
    ) -> dict[str, Any]:
        """The Big Five profile the trained model reads in ``text`` (and, with ``traits``, theirs and..."""

    @rpc("shape:character:read", feature="multi-modal")
    async def portrait(self, caller: Principal, character: dict[str, Any]) -> str:
        """The character's SVG portrait; :class:`InvalidCharacter` if it is not a character."""

    @rpc("shape:model:promote", scope="any", feature="model-versions")
    async def promote(self, caller: Principal, version: str | None = None) -> dict[str, Any]:
        """Serve ``version`` (default: the A/B leader by mean feedback) for all traffic; every other..."""

    @rpc("shape:template:write", feature="templates")
    async def put_template(self, caller: Principal, data: dict[str, Any]) -> dict[str, Any]:
        ...

    @rpc("shape:completion:generate", feature="model-inference")
    async def read_stream(self, caller: Principal, stream_id: str, wait_s: float = 1.0) -> dict[str, Any]:
        """New pieces of a stream (waits up to ``wait_s`` for one); ``done`` after the last."""

    @rpc("shape:model:write", scope="any", feature="model-versions")
    async def register_model(
        self,
        caller: Principal,
        model_id: str,
        path: str,
        *,
        parent: str | None = None,
        metrics: dict[str, Any] | None = None,
        training_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a model version (a checkpoint directory) with its lineage and metrics."""

    @rpc("shape:model:promote", scope="any", feature="model-versions")
    async def set_traffic(
        self,
        caller: Principal,
        weights: dict[str, float],
        seed: int = 0,
    ) -> dict[str, Any]:
        """Start an A/B test: generation requests split between versions by weight (a running test is..."""

    @rpc("shape:completion:generate", feature="model-inference")
    async def start_stream(
        self,
        caller: Principal,
        prompt: str,
        *,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        key: str | None = None,
    ) -> dict[str, str]:
        """Begin streaming a completion of ``prompt``; read it with :meth:`read_stream` (as the same..."""

    @rpc("shape:model:train", feature="grpo-training")
    async def start_training(
        self,
        caller: Principal,
        version_id: str,
        *,
        steps: int = 20,
        prompts_per_step: int = 4,
        settings: dict[str, Any] | None = None,
        eval_prompts: int = 8,
        seed: int = 0,
        checkpoint_every: int = 5,
    ) -> dict[str, Any]:
        """Enqueue a GRPO run on the served model whose result becomes model version ``version_id``..."""

    @rpc("shape:traffic:read", feature="model-versions")
    async def traffic_report(self, caller: Principal) -> dict[str, Any] | None:
        """The running split's weights, leader and per-version metrics (flushed first, so the stored..."""

    @rpc("shape:model:read", feature="grpo-training")
    async def training_status(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """A training job's state; once completed, with the model version it registered."""

    @rpc("shape:template:read", feature="character-validation")
    async def validate(
        self,
        caller: Principal,
        template: str | dict[str, Any],
        character: dict[str, Any],
    ) -> dict[str, Any]:
        """The character, parsed, or :class:`InvalidCharacter` naming every bad field."""
