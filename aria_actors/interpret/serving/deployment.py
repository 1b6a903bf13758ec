"""DIN scoring as a Ray Serve deployment: one application per model version, requests batched.

::

    ScoringBackend (aria_interpret actor) --score(history, candidates)--> DeploymentHandle
        --> DinScoring replica: @serve.batch gathers concurrent requests (up to max_batch_size,
            waiting at most batch_wait_timeout_s) --> DinScorer.score_batch: one forward pass
        --> each caller's scores, in its candidates' order

Guarantees and caveats
----------------------
- The replica loads the version from the artifact bytes it is deployed with (a model version is
  small: embeddings and MLPs, kilobytes to a few MB); a corrupted artifact fails the replica's
  start with :class:`ModelArtifactError`, and the application never turns RUNNING.
- One torch thread per replica by default (``num_threads``): replicas scale out, not up.
- No access log per request (Serve's default writes one line per request on the replica's loop).
- This module imports ray (Serve): imported by whoever deploys it, never by service.py.
"""

from __future__ import annotations

import os
from typing import Any

from ray import serve
from ray.serve.schema import LoggingConfig


@serve.deployment(max_ongoing_requests=256)
class DinScoring:
    """One model version's scorer behind Serve's request batching."""

    def __init__(self, artifact: bytes, version: str, num_threads: int = 1, max_batch_size: int = 32,
                 batch_wait_s: float = 0.002) -> None:
        # heavy: torch, loaded in the replica only
        import torch

        from aria_actors.interpret.din.artifact import DinScorer

        torch.set_num_threads(num_threads)
        self.version = version
        self.scorer = DinScorer.from_bytes(artifact)
        self.requests = 0
        self.batches = 0
        self._score.set_max_batch_size(max_batch_size)
        self._score.set_batch_wait_timeout_s(batch_wait_s)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _score(self, requests: list[tuple[list[str], list[str]]]) -> list[dict[str, Any]]:
        self.batches += 1
        self.requests += len(requests)
        return self.scorer.score_batch(requests)

    async def score(self, history: list[str], candidates: list[str]) -> dict[str, Any]:
        return await self._score((history, candidates))

    def stats(self) -> dict[str, Any]:
        return {"version": self.version, "requests": self.requests, "batches": self.batches, "pid": os.getpid()}

    def check_health(self) -> None:
        return None


def application(artifact: bytes, *, version: str, num_threads: int, max_batch_size: int, batch_wait_s: float,
                min_replicas: int, max_replicas: int, num_cpus: float) -> Any:
    """The Serve application of one version (autoscaled between min and max replicas)."""
    deployment = DinScoring.options(
        ray_actor_options={"num_cpus": num_cpus},
        autoscaling_config={"min_replicas": min_replicas, "max_replicas": max_replicas,
                            "initial_replicas": max(1, min_replicas), "target_ongoing_requests": 8},
        logging_config=LoggingConfig(enable_access_log=False),
    )
    return deployment.bind(artifact, version, num_threads, max_batch_size, batch_wait_s)
