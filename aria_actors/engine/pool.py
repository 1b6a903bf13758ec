"""A pool of Ray planner actors: ``plan_many(requests)`` fans plans out, one plan per task.

Each actor holds its own :class:`DomainRegistry` built from the same specs (domains are code,
loaded in the actor's process from operator-given specs; nothing executable crosses the wire).

Guarantees and caveats:
    - Results come back in request order; a request that raises comes back as
      ``{"status": "error", "error": {...problem document...}}`` and does not sink the batch.
    - States are checked for picklability before they are sent (StateNotSerialisableError).
    - Actors are plain (non-detached) Ray actors owned by the pool's creator; ``shutdown()`` kills
      them. This is the only engine module that imports ray.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import ray

from aria_actors.engine.coordination import CharacterRequest
from aria_actors.engine.errors import EngineError
from aria_actors.engine.runner import PlannerActor, PlanRequest, ensure_serialisable


class PlannerPool:
    def __init__(self, size: int, specs: Mapping[str, str] | None = None, num_cpus: float = 0.5) -> None:
        if size < 1:
            raise EngineError(f"a planner pool needs at least one actor, got size={size}", size=size)
        remote_cls = ray.remote(num_cpus=num_cpus)(PlannerActor)
        self.specs = dict(specs or {})
        self.actors = [remote_cls.remote(self.specs) for _ in range(size)]
        self._rr = itertools.cycle(range(size))

    @property
    def size(self) -> int:
        return len(self.actors)

    def submit(self, requests: Sequence[PlanRequest]) -> list[Any]:
        """Object refs of the results, one per request; requests are dealt out in chunks so each
        actor gets a contiguous share and round trips stay few."""
        for r in requests:
            if r.state is not None:
                ensure_serialisable(r.state, r.todo)
        n = len(self.actors)
        if not requests:
            return []
        chunks: list[list[int]] = [[] for _ in range(n)]
        for i in range(len(requests)):
            chunks[i * n // len(requests)].append(i)
        refs: list[Any] = [None] * len(requests)
        for actor_index, idx in enumerate(chunks):
            if not idx:
                continue
            batch = self.actors[actor_index].plan_batch.remote([requests[i] for i in idx])
            for k, i in enumerate(idx):
                refs[i] = (batch, k)
        return refs

    def plan_many(self, requests: Sequence[PlanRequest]) -> list[dict[str, Any]]:
        refs = self.submit(requests)
        batches = {id(b): b for b, _ in refs}
        values = dict(zip(batches, ray.get(list(batches.values())), strict=True))
        return [values[id(b)][k] for b, k in refs]

    async def plan_many_async(self, requests: Sequence[PlanRequest]) -> list[dict[str, Any]]:
        refs = self.submit(requests)
        batches = {id(b): b for b, _ in refs}
        got = await asyncio.gather(*batches.values())
        values = dict(zip(batches, got, strict=True))
        return [values[id(b)][k] for b, k in refs]

    def plan(self, request: PlanRequest) -> dict[str, Any]:
        if request.state is not None:
            ensure_serialisable(request.state, request.todo)
        return ray.get(self.actors[next(self._rr)].plan.remote(request))

    def ping(self, timeout_s: float = 5.0) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for actor in self.actors:
            try:
                out.append(ray.get(actor.ping.remote(), timeout=timeout_s))
            except Exception:
                out.append(None)
        return out

    def shutdown(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


def pool_plan_fn(pool: PlannerPool, domain: str) -> Any:
    """A ``coordinate(plan_all=...)`` function that plans every character on the pool."""
    def plan_all(requests: Sequence[CharacterRequest]) -> list[list[Any] | None]:
        results = pool.plan_many([PlanRequest(domain=domain, state=r.state, todo=r.todo,
                                              character=r.character) for r in requests])
        return [[tuple(step) for step in res["plan"]] if res.get("plan") is not None else None
                for res in results]

    return plan_all
