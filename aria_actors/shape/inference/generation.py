"""Generation in the service actor: which version answers a request, its metrics, the backend.

A mixin of :class:`aria_actors.shape.service.ShapeService`, kept apart so that each module holds
one concern::

    describe / complete / start_stream (key) --> version: the A/B split's pick (sticky per key)
                                                 or the served version
                                             --> backend (inference/: Serve inside Ray, else
                                                 in-process), created on first use
                                             --> per-version metrics of the split (this actor's
                                                 memory; flushed to the store by versions.py)
    embed --> the served version, always (embeddings stay comparable during an A/B test)

Guarantees and caveats
----------------------
- Nothing here imports torch or ray at import; the backend does, on first use, and only in
  the process that runs the model (the replica's engine, or this one for the local backend).
- A request counts once in its version's metrics, whatever the number of prompts it carries;
  its tokens are the completions' generated tokens (a stream counts its pieces).
- Counting a request touches memory only (no database round trip on this path); the counts reach
  Postgres with the next flush (:meth:`ModelVersionsMixin.flush_metrics`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.shape.characters.corpus import prompt_for
from aria_actors.shape.characters.templates import CONTROL
from aria_actors.shape.inference.backends.choose import make_backend
from aria_actors.shape.inference.traffic import ticket_for
from aria_actors.shape.source import ModelSource


class GenerationMixin:
    """Generation methods of ShapeService."""

    settings: Any
    config: Any
    _backend: Any
    _served_version: str
    _traffic: Any
    _streams: Any

    def _base_source(self) -> Any:
        return ModelSource.of(self.config, self.settings.home, self.config.model_path or self.settings.model_path)

    def _inference(self) -> Any:
        """The generation backend (Serve inside a Ray actor, else in-process), made on first use."""
        if self._backend is None:
            backend = make_backend(self.config, self.settings)
            backend.add("base", self._base_source())
            self._backend = backend
        return self._backend

    # -- generation (through the backend; A/B split when one runs) -----------------------------
    def _route(self, key: str | None) -> tuple[Any, str]:
        """The split that routes a request (it signs the response's id, whatever changes meanwhile)
        and the version it picks; no split: the served version."""
        split = self._traffic
        return split, split.pick(key) if split is not None else self._served_version

    def _record(self, version: str, tokens: int, t0: float) -> None:
        if self._traffic is not None and version in self._traffic.weights:
            self._traffic.record(version, tokens, time.perf_counter() - t0)

    async def _complete(self, prompts: list[str], *, key: str | None = None, max_new_tokens: int | None = None,
                        seed: int | None = None, min_new_tokens: int | None = None) -> list[Any]:
        _, version = self._route(key)
        t0 = time.perf_counter()
        out = await self._inference().complete(
            version, prompts, max_new_tokens=max_new_tokens or self.config.max_new_tokens,
            min_new_tokens=min_new_tokens or 0, seed=seed)
        self._record(version, sum(c.tokens for c in out), t0)
        return out

    @rpc("shape:character:generate", job=True, feature="model-inference")
    async def describe(self, caller: Principal, traits: list[str], *, max_new_tokens: int | None = None,
                       seed: int | None = None, key: str | None = None) -> str:
        """A generated text description of a character with ``traits``."""
        out = await self._complete([prompt_for(traits)], key=key, max_new_tokens=max_new_tokens, seed=seed)
        # A description is stored with its character: without what PostgreSQL and Character refuse.
        return CONTROL.sub("", out[0].text).strip()

    @rpc("shape:completion:generate", job=True, feature="model-inference")
    async def complete(self, caller: Principal, prompts: list[str], *, max_new_tokens: int | None = None,
                       seed: int | None = None, min_new_tokens: int | None = None,
                       key: str | None = None) -> list[str]:
        """Raw completions of ``prompts`` (batched with concurrent requests; a seed makes them one
        sampling call of their own, reproducible)."""
        out = await self._complete(prompts, key=key, max_new_tokens=max_new_tokens, seed=seed,
                                   min_new_tokens=min_new_tokens)
        return [c.text for c in out]

    @rpc("shape:completion:generate", feature="model-inference")
    async def start_stream(self, caller: Principal, prompt: str, *, max_new_tokens: int | None = None,
                           seed: int | None = None, key: str | None = None) -> dict[str, str]:
        """Begin streaming a completion of ``prompt``; read it with :meth:`read_stream` (as the
        same caller: a stream is its starter's)."""
        split, version = self._route(key)
        pieces = self._inference().stream(version, prompt, max_new_tokens=max_new_tokens or self.config.max_new_tokens,
                                          seed=seed)

        async def counted() -> AsyncIterator[str]:
            t0, n = time.perf_counter(), 0
            async for piece in pieces:
                n += 1
                yield piece
            self._record(version, n, t0)  # pieces: about one per token

        return {"stream_id": self._streams.start(counted(), owner=caller.subject), "version": version,
                "response_id": ticket_for(split, version, caller)}

    @rpc("shape:completion:generate", feature="model-inference")
    async def read_stream(self, caller: Principal, stream_id: str, wait_s: float = 1.0) -> dict[str, Any]:
        """New pieces of a stream (waits up to ``wait_s`` for one); ``done`` after the last."""
        # bounded: a read must answer well within the service's call timeout
        return await self._streams.read(stream_id, min(max(wait_s, 0.0), 10.0), owner=caller.subject)

    @rpc("shape:completion:generate", job=True, feature="model-inference")
    async def embed(self, caller: Principal, texts: list[str]) -> list[list[float]]:
        """Unit-length embeddings from the served version (never split by an A/B test)."""
        return await self._inference().embed(self._served_version, texts)
