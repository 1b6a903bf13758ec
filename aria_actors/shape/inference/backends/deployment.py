"""Inference as a Ray Serve deployment with request batching and token streaming.

::

    callers --complete(prompt)--> DeploymentHandle --> ShapeInference replica(s)
                                                         EngineBatcher (../batching.py): a batch
                                                         closes when the engine takes it (all
                                                         that came while it was busy, up to
                                                         max_batch_size; an idle engine waits
                                                         <= batch_wait_timeout_s for more)
                                                         -> engine process (engine.py): one
                                                            KV-cached sampling call per batch
                                                         -> one completion back to each caller
            --complete_many(prompts)--> each prompt into the same batches (requests the caller
                                      gathered: one Serve request for many prompts)
            --run(prompts, seed)-->   one sampling call of its own (reproducible for a seed)
            --embed(texts)-->         embeddings
            --stream(prompt)-->       generator: one text piece per decoding step
                                      (handle.options(stream=True))

:class:`aria_actors.shape.inference.backends.serve.ServeBackend` runs one application of this deployment per
served model version; the bench and tests deploy it directly with :func:`deploy`.

Guarantees and caveats
----------------------
- Concurrent requests share one forward pass per decoding step; a lone request waits at most
  ``batch_wait_timeout_s`` before it runs alone; one batch runs at a time, and requests with
  different (max, min) lengths never share one.
- The model runs in an engine process beside the replica (``engine_process=True``, default), so
  Serve's per-request Python and the decoding loop do not share a GIL; that process is not counted
  in the replica's Ray CPU request. ``engine_process=False`` runs it in a thread of the replica.
  Streams and embeddings go through the same engine, one call at a time.
- Replicas ask for a GPU only when the cluster has one (the engine inherits it); on CPU the model
  uses one torch thread.
- No access log per request (Serve's default is one line per request, work on the replica's loop).
- Measured on the 2-core machine (``bench/shape.py``, ``docs/shape.md``), with Serve in the
  throughput-optimized mode Aria runs it in (``cli.localcluster.SERVE_ENV``): Serve costs
  ~1.3 ms of CPU per request (2.7 ms without that mode). Under sustained load (32 clients) the
  0.1M-parameter tiny model reaches 0.70-0.97x a direct call; a lone burst of 16 requests stays at
  ~0.65x (nothing overlaps the per-request work); a 3M-parameter model is at 0.83-0.92x in both.
- In Serve's throughput mode a DeploymentHandle routes on the event loop that first used it:
  call it from one long-lived loop (an actor's, a replica's), not from successive asyncio.run().
- This module imports ray (Serve): it is imported by whoever deploys it, never by service.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import ray
from ray import serve
from ray.serve.schema import LoggingConfig

from aria_actors.shape.errors import EngineError
from aria_actors.shape.inference.backends.engine import Engine
from aria_actors.shape.inference.batching import EngineBatcher
from aria_actors.shape.inference.runner import ModelRunner
from aria_actors.shape.inference.streams import pieces_from_thread
from aria_actors.shape.source import ModelSource


@serve.deployment(max_ongoing_requests=128)
class ShapeInference:
    """A model server: batched completions, embeddings and token streams of one model version."""

    def __init__(self, source: ModelSource | str, max_new_tokens: int = 24, max_batch_size: int = 16,
                 batch_wait_timeout_s: float = 0.01, version: str = "base",
                 min_new_tokens: int = 0, engine_process: bool = True) -> None:
        source = source if isinstance(source, ModelSource) else ModelSource.for_path(source)
        self.engine: Any
        if engine_process:
            # The engine process is no Ray worker: a trained checkpoint missing here is fetched now.
            self.engine = Engine(source.ensure_local())
            self.engine.start()
        else:
            self.engine = ModelRunner(source.load())
        self.parameters = self.engine.parameters
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.version = version
        self._busy_s = 0.0
        self._batcher: EngineBatcher[tuple[int, int], tuple[str, int]] = EngineBatcher(
            self._generate_batch, max_batch_size=max_batch_size, wait_s=batch_wait_timeout_s)

    @property
    def batch_sizes(self) -> list[int]:
        return self._batcher.batch_sizes

    def _generate(self, prompts: list[str], options: dict[str, Any]) -> tuple[list[str], list[int]]:
        t0 = time.perf_counter()
        try:
            return self.engine.generate_counted(prompts, **options)
        finally:
            self._busy_s += time.perf_counter() - t0

    async def _generate_batch(self, prompts: list[str], lengths: tuple[int, int]) -> list[tuple[str, int]]:
        """One batch of the batcher: one sampling call, ``lengths`` = (max, min) new tokens."""
        texts, counts = await asyncio.to_thread(
            self._generate, prompts, {"max_new_tokens": lengths[0], "min_new_tokens": lengths[1]})
        return list(zip(texts, counts, strict=True))

    def _lengths(self, max_new_tokens: int | None, min_new_tokens: int | None) -> tuple[int, int]:
        return (max_new_tokens or self.max_new_tokens,
                self.min_new_tokens if min_new_tokens is None else min_new_tokens)

    async def complete(self, prompt: str, max_new_tokens: int | None = None,
                       min_new_tokens: int | None = None) -> dict[str, Any]:
        """One completion, batched with concurrent requests."""
        text, tokens = await self._batcher.submit(prompt, self._lengths(max_new_tokens, min_new_tokens))
        return {"version": self.version, "text": text, "tokens": tokens}

    async def complete_many(self, prompts: list[str], max_new_tokens: int | None = None,
                            min_new_tokens: int | None = None) -> list[tuple[str, int]]:
        """Completions of ``prompts`` from several callers (one Serve request), each batched like
        :meth:`complete`: ``(text, tokens)`` per prompt."""
        lengths = self._lengths(max_new_tokens, min_new_tokens)
        return list(await asyncio.gather(*[self._batcher.submit(p, lengths) for p in prompts]))

    async def run(self, prompts: list[str], max_new_tokens: int | None = None, min_new_tokens: int = 0,
                  seed: int | None = None) -> dict[str, Any]:
        """Completions of ``prompts`` in one sampling call of their own (seeded: reproducible)."""
        texts, tokens = await asyncio.to_thread(
            self._generate, prompts, {"max_new_tokens": max_new_tokens or self.max_new_tokens,
                                      "min_new_tokens": min_new_tokens, "seed": seed})
        return {"version": self.version, "texts": texts, "tokens": tokens}

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.engine.embed, texts)

    async def stream(self, prompt: str, max_new_tokens: int | None = None,
                     seed: int | None = None) -> AsyncIterator[str]:
        """Text pieces of one completion as they are sampled (call with ``stream=True``)."""
        n = max_new_tokens or self.max_new_tokens
        async for piece in pieces_from_thread(
                lambda push: self.engine.stream(prompt, push, max_new_tokens=n, seed=seed)):
            yield piece

    def stats(self) -> dict[str, Any]:
        b = self._batcher
        return {"version": self.version, "batches": b.batches, "requests": b.requests, "max_batch": b.max_batch,
                "mean_batch": b.requests / b.batches if b.batches else 0.0,
                "parameters": self.parameters,
                # seconds the model spent on batches (engine round trips included), vs wall time
                "model_s": self.engine.busy_s if hasattr(self.engine, "busy_s") else self._busy_s,
                "engine": "process" if hasattr(self.engine, "alive") else "thread",
                "engine_pid": getattr(self.engine, "info", {}).get("pid"), "pid": os.getpid()}

    def check_health(self) -> None:
        """Serve's health probe: a dead engine process fails it, so Serve replaces the replica."""
        if hasattr(self.engine, "alive") and not self.engine.alive():
            raise EngineError("model engine process exited", model=self.engine.model_path)

    def __del__(self) -> None:
        close = getattr(getattr(self, "engine", None), "close", None)
        if close is not None:
            close()


def application(source: ModelSource | str, *, version: str = "base", max_new_tokens: int = 24,
                max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01, min_new_tokens: int = 0,
                engine_process: bool = True, replicas: int | None = 1, min_replicas: int = 0,
                max_replicas: int = 1, initial_replicas: int | None = None, idle_s: float = 300.0,
                num_cpus: float = 0.5) -> Any:
    """The bound application: ``replicas`` fixed, or (``replicas=None``) autoscaled between
    ``min_replicas`` (0: scales to zero after ``idle_s``) and ``max_replicas``."""
    gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
    scaling: dict[str, Any]
    if replicas is not None:
        scaling = {"num_replicas": replicas}
    else:
        scaling = {"autoscaling_config": {
            "min_replicas": min_replicas, "max_replicas": max_replicas,
            "initial_replicas": min_replicas if initial_replicas is None else initial_replicas,
            # a replica takes up to two full batches before another one is worth starting
            "target_ongoing_requests": 2 * max_batch_size,
            "downscale_delay_s": idle_s, "downscale_to_zero_delay_s": idle_s,
        }}
    return ShapeInference.options(
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": gpus},
        # One access-log line per request is work the replica's loop does between requests.
        logging_config=LoggingConfig(enable_access_log=False),
        # A replica going away (promotion, scale-down, stop) checks for unfinished requests every
        # 0.5 s instead of 2 s: an idle one goes at once, streams still get the default 20 s.
        graceful_shutdown_wait_loop_s=0.5,
        **scaling,
    ).bind(source, max_new_tokens, max_batch_size, batch_wait_timeout_s, version, min_new_tokens,
           engine_process)


def deploy(source: ModelSource | str, *, name: str = "aria_shape_inference", max_new_tokens: int = 24,
           max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01, replicas: int = 1,
           version: str = "base", min_new_tokens: int = 0, engine_process: bool = True) -> Any:
    """Run the deployment as Serve application ``name`` and wait for it; returns its handle."""
    app = application(source, version=version, max_new_tokens=max_new_tokens, max_batch_size=max_batch_size,
                      batch_wait_timeout_s=batch_wait_timeout_s, min_new_tokens=min_new_tokens,
                      engine_process=engine_process, replicas=replicas)
    return serve.run(app, name=name, route_prefix=None)
