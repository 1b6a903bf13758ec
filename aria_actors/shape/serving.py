"""Inference as a Ray Serve deployment with request batching.

::

    callers --complete(prompt)--> DeploymentHandle --> ShapeInference replica(s)
                                                         @serve.batch: up to max_batch_size
                                                         prompts waiting <= batch_wait_timeout_s
                                                         -> one KV-cached sampling call
                                                         -> one completion back to each caller

Guarantees and caveats
----------------------
- Concurrent requests share one forward pass per decoding step; a lone request waits at most
  ``batch_wait_timeout_s`` before it runs alone.
- Every request of a batch gets ``max_new_tokens`` of the deployment (per-request lengths would
  split batches); rows that end early stop contributing text.
- Replicas ask for a GPU only when the cluster has one; on CPU they use one torch thread.
- This module imports ray (Serve): it is imported by whoever deploys it, never by service.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from ray import serve


@serve.deployment(max_ongoing_requests=128)
class ShapeInference:
    """A model server: batched completions of one model version."""

    def __init__(self, model_path: str, max_new_tokens: int = 24, max_batch_size: int = 16,
                 batch_wait_timeout_s: float = 0.01, version: str = "base",
                 min_new_tokens: int = 0) -> None:
        from aria_actors.shape.config import ShapeConfig
        from aria_actors.shape.model import load_model

        self.loaded = load_model(ShapeConfig(model_path=model_path))
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.version = version
        self.batch_sizes: list[int] = []
        self.model_s = 0.0  # seconds spent in generate(), to tell model time from Serve time
        self._batched.set_max_batch_size(max_batch_size)
        self._batched.set_batch_wait_timeout_s(batch_wait_timeout_s)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def _batched(self, prompts: list[str]) -> list[str]:
        from aria_actors.shape.model import generate

        self.batch_sizes.append(len(prompts))
        t0 = time.perf_counter()
        try:
            return await asyncio.to_thread(generate, self.loaded, prompts, max_new_tokens=self.max_new_tokens,
                                           min_new_tokens=self.min_new_tokens)
        finally:
            self.model_s += time.perf_counter() - t0

    async def complete(self, prompt: str) -> dict[str, str]:
        return {"version": self.version, "text": await self._batched(prompt)}

    def stats(self) -> dict[str, Any]:
        sizes = self.batch_sizes
        return {"version": self.version, "batches": len(sizes), "requests": sum(sizes),
                "max_batch": max(sizes, default=0),
                "mean_batch": sum(sizes) / len(sizes) if sizes else 0.0,
                "parameters": self.loaded.num_parameters, "model_s": self.model_s}


def deploy(model_path: str, *, name: str = "aria_shape_inference", max_new_tokens: int = 24,
           max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01, replicas: int = 1,
           version: str = "base", min_new_tokens: int = 0) -> Any:
    """Run the deployment as Serve application ``name``; returns its DeploymentHandle."""
    from ray.serve.schema import LoggingConfig

    gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
    app = ShapeInference.options(
        num_replicas=replicas, ray_actor_options={"num_cpus": 0.5, "num_gpus": gpus},
        # One access-log line per request is work the replica's loop does between requests.
        logging_config=LoggingConfig(enable_access_log=False),
    ).bind(model_path, max_new_tokens, max_batch_size, batch_wait_timeout_s, version, min_new_tokens)
    return serve.run(app, name=name, route_prefix=None)
