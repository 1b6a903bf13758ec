"""Typed client of aria_interpret: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(InterpretClient)``, ``Depends(service_client(InterpretClient))`` or
``bind(InterpretClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py interpret
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_interpret")
class InterpretClient:
    @rpc("interpret:text:read", features=("nlp", "trait-analysis"))
    async def analyze(self, caller: Principal, text: str, traits: list[str] | None = None) -> dict[str, Any]:
        """Entities, traits, sentiment of a description (and, with ``traits``, their consistency)."""

    @rpc("interpret:text:read", feature="trait-analysis")
    async def consistency(self, caller: Principal, traits: list[str], text: str) -> dict[str, Any]:
        """How well ``text`` supports each trait: supported, absent or contradicted, and overall."""

    @rpc("interpret:character:delete", feature="trait-analysis")
    async def delete_character(self, caller: Principal, character_id: str) -> dict[str, Any]:
        ...

    @rpc("interpret:analysis:read", feature="predictive-models")
    async def development(
        self,
        caller: Principal,
        character_id: str | None = None,
        k: int = 3,
    ) -> dict[str, Any]:
        """A model of how characters change (next trait/attribute change from their history), evaluated..."""

    @rpc("interpret:trial:run", feature="din")
    async def din_trial_epoch(self, caller: Principal, trial: str) -> dict[str, Any]:
        """Run one more epoch of an evaluate-only trial: its validation metrics (never the test..."""

    @rpc("interpret:text:read", feature="nlp")
    async def embed(self, caller: Principal, texts: list[str]) -> dict[str, Any]:
        """Unit-length all-MiniLM-L6-v2 vectors (384 dimensions) of ``texts``, in order."""

    @rpc("interpret:trial:run", feature="din")
    async def end_din_trial(self, caller: Principal, trial: str) -> dict[str, Any]:
        """End an evaluate-only trial: the validation metrics of its best epoch, its parameter count..."""

    @rpc(
        "interpret:analysis:read",
        features=("behavior-patterns", "interaction-stats", "predictive-models", "collaborative-filtering", "din"),
    )
    async def event_counts(self, caller: Principal) -> dict[str, int]:
        """How many events of each kind the caller's tenant has recorded."""

    @rpc("interpret:character:read", feature="trait-analysis")
    async def get_character(self, caller: Principal, character_id: str) -> dict[str, Any]:
        ...

    @rpc("interpret:model:read", feature="din")
    async def get_version(self, caller: Principal, version: str) -> dict[str, Any]:
        ...

    @rpc("interpret:analysis:read", feature="interaction-stats")
    async def interaction_stats(self, caller: Principal, alpha: float = 0.05) -> dict[str, Any]:
        """Who interacts with whom: counts, daily rates with 95% intervals, pairs interacting more than..."""

    @rpc("interpret:model:list", feature="din")
    async def list_versions(self, caller: Principal) -> dict[str, Any]:
        ...

    @rpc("interpret:analysis:read", feature="behavior-patterns")
    async def patterns(
        self,
        caller: Principal,
        min_support: float = 0.2,
        max_length: int = 4,
        k: int | None = None,
    ) -> dict[str, Any]:
        """Frequent action sequences of the tenant's characters (PrefixSpan) and behaviour clusters..."""

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def promote(self, caller: Principal, version: str, reason: str = '') -> dict[str, Any]:
        """Serve ``version`` to everyone (ends any A/B split); refused if its artifact does not load."""

    @rpc("interpret:character:write", features=("trait-analysis", "content-recommendations"))
    async def put_character(
        self,
        caller: Principal,
        character_id: str,
        description: str,
        traits: list[str] | None = None,
    ) -> dict[str, Any]:
        """Store a character's description, traits and embedding (for similarity search and..."""

    @rpc("interpret:recommendation:read", feature="recommendation-serving")
    async def recommend(
        self,
        caller: Principal,
        user: str,
        candidates: list[str],
        k: int | None = None,
        history: list[str] | None = None,
    ) -> dict[str, Any]:
        """Rank ``candidates`` (item ids: characters, templates, actions...) for ``user`` with the..."""

    @rpc("interpret:analysis:read", feature="content-recommendations")
    async def recommend_attributes(self, caller: Principal, character_id: str, k: int = 5) -> dict[str, Any]:
        """Traits a stored character lacks, voted by the characters whose descriptions are most similar..."""

    @rpc("interpret:analysis:read", feature="collaborative-filtering")
    async def recommend_traits(
        self,
        caller: Principal,
        picked: list[str] | None = None,
        player: str | None = None,
        k: int = 5,
    ) -> dict[str, Any]:
        """Traits to offer a player generating a character, from what players pick together (implicit..."""

    @rpc(
        "interpret:event:write",
        features=("behavior-patterns", "interaction-stats", "predictive-models", "collaborative-filtering", "din"),
    )
    async def record(self, caller: Principal, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Store events (actions, interactions, states, picks, feedback); all or none."""

    @rpc("interpret:model:deploy", scope="any", job=True, feature="din")
    async def retrain(self, caller: Principal, dataset: str = 'interactions') -> dict[str, Any]:
        """What a cron entry runs: train a new version on ``dataset`` and promote it when its test GAUC..."""

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def rollback(self, caller: Principal) -> dict[str, Any]:
        """Undo the current promotion: serve the version promoted before it. A second rollback goes..."""

    @rpc("interpret:model:read", feature="recommendation-serving")
    async def serving_status(self, caller: Principal) -> dict[str, Any]:
        """What is served where: the version, the split, each loaded version's replicas."""

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def set_traffic(self, caller: Principal, weights: dict[str, float] | None) -> dict[str, Any]:
        """Start (or, with ``null``, end) an A/B test: users routed to versions by weight."""

    @rpc("interpret:character:read", feature="nlp")
    async def similar(
        self,
        caller: Principal,
        character_id: str | None = None,
        text: str | None = None,
        k: int = 10,
    ) -> dict[str, Any]:
        """The ``k`` stored characters most similar (cosine of description embeddings) to a stored..."""

    @rpc("interpret:trial:run", feature="din")
    async def start_din_trial(
        self,
        caller: Principal,
        params: dict[str, Any],
        epochs: int = 3,
    ) -> dict[str, Any]:
        """Start an evaluate-only DIN trial with ``params`` (flat hyperparameters) for at most..."""

    @rpc("interpret:model:train", scope="any", job=True, feature="din")
    async def start_training(
        self,
        caller: Principal,
        version: str,
        dataset: str = 'interactions',
        config: dict[str, Any] | None = None,
        promote: bool = False,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Enqueue the DIN training of ``version`` on ``dataset`` (the tenant-less feedback events, or..."""

    @rpc("interpret:model:read", feature="recommendation-serving")
    async def traffic_report(self, caller: Principal) -> dict[str, Any]:
        """The A/B split with each version's requests and mean feedback (the leader has the best)."""

    @rpc("interpret:model:read", feature="din")
    async def training_status(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """A training job as the caller may read it (another's job is not found), and the version it..."""
