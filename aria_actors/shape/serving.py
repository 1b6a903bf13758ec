"""Inference as a Ray Serve deployment with request batching.

::

    callers --complete(prompt)--> DeploymentHandle --> ShapeInference replica(s)
                                                         @serve.batch: up to max_batch_size
                                                         prompts waiting <= batch_wait_timeout_s,
                                                         two batches in flight
                                                         -> engine process (engine.py): one
                                                            KV-cached sampling call per batch
                                                         -> one completion back to each caller

Guarantees and caveats
----------------------
- Concurrent requests share one forward pass per decoding step; a lone request waits at most
  ``batch_wait_timeout_s`` before it runs alone.
- Every request of a batch gets ``max_new_tokens`` of the deployment (per-request lengths would
  split batches); rows that end early stop contributing text.
- The model runs in an engine process beside the replica (``engine_process=True``, default), so
  Serve's per-request Python and the decoding loop do not share a GIL; that process is not counted
  in the replica's Ray CPU request. ``engine_process=False`` runs it in a thread of the replica.
- Replicas ask for a GPU only when the cluster has one (the engine inherits it); on CPU the model
  uses one torch thread.
- No access log per request (Serve's default is one line per request, work on the replica's loop).
- Measured on the 2-core machine (``bench/shape.py``, ``docs/shape.md``), with Serve in the
  throughput-optimized mode Aria runs it in (``runtime.localcluster.SERVE_ENV``): Serve costs
  ~1.3 ms of CPU per request (2.7 ms without that mode). Under sustained load (32 clients) the
  0.1M-parameter tiny model reaches 0.70-0.97x a direct call; a lone burst of 16 requests stays at
  ~0.65x (nothing overlaps the per-request work); a 3M-parameter model is at 0.83-0.92x in both.
- In Serve's throughput mode a DeploymentHandle routes on the event loop that first used it:
  call it from one long-lived loop (an actor's, a replica's), not from successive asyncio.run().
- This module imports ray (Serve): it is imported by whoever deploys it, never by service.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import ray
from ray import serve


@serve.deployment(max_ongoing_requests=128)
class ShapeInference:
    """A model server: batched completions of one model version."""

    def __init__(self, model_path: str, max_new_tokens: int = 24, max_batch_size: int = 16,
                 batch_wait_timeout_s: float = 0.01, version: str = "base",
                 min_new_tokens: int = 0, engine_process: bool = True) -> None:
        self.engine: Any = None
        self.loaded: Any = None
        if engine_process:
            from aria_actors.shape.engine import Engine

            self.engine = Engine(model_path)
            self.parameters = self.engine.start()["parameters"]
        else:
            from aria_actors.shape.config import ShapeConfig
            from aria_actors.shape.model import load_model

            self.loaded = load_model(ShapeConfig(model_path=model_path))
            self.parameters = self.loaded.num_parameters
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.version = version
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()
        self._busy_s = 0.0
        self._batched.set_max_batch_size(max_batch_size)
        self._batched.set_batch_wait_timeout_s(batch_wait_timeout_s)

    # Two batches in flight: the next one is formed and queued at the engine while the current
    # one decodes, so the engine does not idle while results go out and requests come in.
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01, max_concurrent_batches=2)
    async def _batched(self, prompts: list[str]) -> list[str]:
        self.batch_sizes.append(len(prompts))
        options = {"max_new_tokens": self.max_new_tokens, "min_new_tokens": self.min_new_tokens}
        if self.engine is not None:
            return await self.engine.generate(prompts, **options)
        return await asyncio.to_thread(self._generate_here, prompts, options)

    def _generate_here(self, prompts: list[str], options: dict[str, Any]) -> list[str]:
        from aria_actors.shape.model import generate

        with self._lock:  # one batch at a time on the model, like the engine process
            t0 = time.perf_counter()
            try:
                return generate(self.loaded, prompts, **options)
            finally:
                self._busy_s += time.perf_counter() - t0

    async def complete(self, prompt: str) -> dict[str, str]:
        return {"version": self.version, "text": await self._batched(prompt)}

    def stats(self) -> dict[str, Any]:
        sizes = self.batch_sizes
        return {"version": self.version, "batches": len(sizes), "requests": sum(sizes),
                "max_batch": max(sizes, default=0),
                "mean_batch": sum(sizes) / len(sizes) if sizes else 0.0,
                "parameters": self.parameters,
                # seconds the model spent on batches (engine round trips included), vs wall time
                "model_s": self.engine.busy_s if self.engine is not None else self._busy_s,
                "engine": "process" if self.engine is not None else "thread"}

    def check_health(self) -> None:
        """Serve's health probe: a dead engine process fails it, so Serve replaces the replica."""
        if self.engine is not None and not self.engine.alive():
            from aria_actors.shape.errors import EngineError

            raise EngineError("model engine process exited", model=self.engine.model_path)

    def __del__(self) -> None:
        if getattr(self, "engine", None) is not None:
            self.engine.close()


def deploy(model_path: str, *, name: str = "aria_shape_inference", max_new_tokens: int = 24,
           max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01, replicas: int = 1,
           version: str = "base", min_new_tokens: int = 0, engine_process: bool = True) -> Any:
    """Run the deployment as Serve application ``name``; returns its DeploymentHandle."""
    from ray.serve.schema import LoggingConfig

    gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
    app = ShapeInference.options(
        num_replicas=replicas, ray_actor_options={"num_cpus": 0.5, "num_gpus": gpus},
        # One access-log line per request is work the replica's loop does between requests.
        logging_config=LoggingConfig(enable_access_log=False),
    ).bind(model_path, max_new_tokens, max_batch_size, batch_wait_timeout_s, version, min_new_tokens,
           engine_process)
    return serve.run(app, name=name, route_prefix=None)
