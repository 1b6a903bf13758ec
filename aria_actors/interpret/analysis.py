"""The analytics of aria_interpret as RPC methods: stored events in, fitted models' answers out.

A mixin of :class:`aria_actors.interpret.service.InterpretService`, kept apart so that each module
holds one concern::

    events (Postgres, the tenant's newest max_analysis_events of a kind)
        action       -> analytics.patterns      frequent sequences, behaviour clusters
        interaction  -> analytics.interactions  counts, rates, over-interacting pairs (BH)
        state        -> analytics.development   next change of a character, held-out metrics
        pick         -> analytics.cf            traits players pick together
    characters (embeddings, traits) -> analytics.content   traits a character lacks

Guarantees and caveats
----------------------
- Every answer is fitted on the caller's tenant's data at the call (no model is cached between
  calls: the data change with every recorded event); fitting runs in a worker thread.
- Reads are bounded by ``max_analysis_events`` (the newest events of the kind), so an analysis
  costs at most that much, however many events a tenant has.
- Too little data is a 409 (:class:`NotEnoughData`) saying how much there is, never a 500.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aria_actors.interpret.errors import InvalidFeatures
from aria_actors.runtime.errors import BadRequest, NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from aria_actors.interpret.store import InterpretStore


MAX_PATTERNS = 10_000


def _fraction(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise BadRequest(f"{field} must be a number in ({low}, {high}]", field=field)
    return float(value)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer {low}-{high}", field=field)
    return value


class AnalysisMixin:
    config: Any

    def _records(self) -> InterpretStore: ...

    async def _events(self, caller: Principal, kind: str) -> list[dict[str, Any]]: ...

    @rpc("interpret:analysis:read", feature="behavior-patterns")
    async def patterns(self, caller: Principal, min_support: float = 0.2, max_length: int = 4,
                       k: int | None = None) -> dict[str, Any]:
        """Frequent action sequences of the tenant's characters (PrefixSpan) and behaviour clusters
        (k-means over action n-grams, k by silhouette unless given)."""
        # heavy: as in recommend_attributes
        from aria_actors.interpret.analytics.patterns import BehaviourPatterns

        support = _fraction(min_support, "min_support", 0.0, 1.0)
        length = _int(max_length, "max_length", 1, 10)
        k_range = (2, 8) if k is None else (_int(k, "k", 2, 20),) * 2
        actions = [(e["subject"], e["ts"].timestamp(), e["object"]) for e in await self._events(caller, "action")]
        # At most MAX_PATTERNS patterns mined per call, and a pattern must occur in two characters at
        # least: a low support over many distinct actions would otherwise enumerate millions.
        support = min(1.0, max(support, 2 / max(1, len({a[0] for a in actions}))))
        model = BehaviourPatterns(min_support=support, max_length=length, k_range=k_range,  # type: ignore[arg-type]
                                  max_patterns=MAX_PATTERNS)
        return await asyncio.to_thread(model.analyse, actions)

    @rpc("interpret:analysis:read", feature="interaction-stats")
    async def interaction_stats(self, caller: Principal, alpha: float = 0.05) -> dict[str, Any]:
        """Who interacts with whom: counts, daily rates with 95% intervals, pairs interacting more
        than their activity explains (Poisson test, Benjamini-Hochberg at ``alpha``), reciprocity."""
        # heavy: as in recommend_attributes
        from aria_actors.interpret.analytics.interactions import analyse

        level = _fraction(alpha, "alpha", 0.0, 0.5)
        rows = [(e["subject"], e["object"], e["ts"].timestamp(), e["category"] or "interaction")
                for e in await self._events(caller, "interaction")]
        return await asyncio.to_thread(analyse, rows, alpha=level)

    @rpc("interpret:analysis:read", feature="predictive-models")
    async def development(self, caller: Principal, character_id: str | None = None, k: int = 3) -> dict[str, Any]:
        """A model of how characters change (next trait/attribute change from their history),
        evaluated on held-out characters against a frequency baseline; with ``character_id``,
        that character's ``k`` likeliest next changes."""
        # heavy: as in recommend_attributes
        from aria_actors.interpret.analytics import development as dev

        _int(k, "k", 1, 100)
        by_character: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in await self._events(caller, "state"):
            rows = by_character[e["subject"]]
            rows.append({"character_id": e["subject"], "version": len(rows) + 1,
                         "traits": list(e["attrs"].get("traits") or []),
                         "attributes": dict(e["attrs"].get("attributes") or {}), "ts": e["ts"].timestamp()})
        histories = [row for rows in by_character.values() for row in rows]
        if character_id is not None and character_id not in by_character:
            raise NotFound(f"no recorded states of character {character_id!r}", character_id=character_id)

        def run() -> dict[str, Any]:
            train, test = dev.split_by_character(histories)
            out: dict[str, Any] = {"evaluation": dev.evaluate(train, test)}
            if character_id is not None:
                out["prediction"] = dev.fit(histories).predict(by_character[character_id], k=k)
            return out

        return await asyncio.to_thread(run)

    @rpc("interpret:analysis:read", feature="content-recommendations")
    async def recommend_attributes(self, caller: Principal, character_id: str, k: int = 5) -> dict[str, Any]:
        """Traits a stored character lacks, voted by the characters whose descriptions are most
        similar (embedding kNN), with the model's held-out hit rate."""
        # heavy: analytics load scipy/scikit-learn on first use, not at the service's start
        from aria_actors.interpret.analytics.content import ContentRecommender

        _int(k, "k", 1, 100)
        tenant = caller.tenant or ""
        rows = await self._records().characters(tenant, 100_000)
        target = next((r for r in rows if r["character_id"] == character_id), None)
        if target is None:
            raise NotFound(f"no character {character_id!r}", character_id=character_id)
        items = {r["character_id"]: {"embedding": list(r["embedding"]), "traits": list(r["traits"])} for r in rows}

        def run() -> dict[str, Any]:
            return {**ContentRecommender().fit(items).recommend_for(character_id, k=k), "characters": len(items)}

        return await asyncio.to_thread(run)

    @rpc("interpret:analysis:read", feature="collaborative-filtering")
    async def recommend_traits(self, caller: Principal, picked: list[str] | None = None, player: str | None = None,
                               k: int = 5) -> dict[str, Any]:
        """Traits to offer a player generating a character, from what players pick together
        (implicit matrix factorisation over the tenant's picks), given what is picked so far."""
        # heavy: as in recommend_attributes
        from aria_actors.interpret.analytics.cf import CFRecommender

        _int(k, "k", 1, 100)
        if picked is not None and (not isinstance(picked, list) or len(picked) > 64):
            raise InvalidFeatures("picked must be a list of at most 64 traits", field="picked")
        rows = [(e["subject"], e["object"], list(e["attrs"].get("traits") or []))
                for e in await self._events(caller, "pick")]

        def run() -> dict[str, Any]:
            return CFRecommender().fit(rows).recommend(player=player, traits=list(picked or []), k=k)

        return await asyncio.to_thread(run)
