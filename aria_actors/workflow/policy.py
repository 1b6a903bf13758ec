"""How a step is retried and bounded: :class:`StepPolicy` (per step, or a workflow's default)."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

MAX_TIMEOUT_S = 7 * 24 * 3600.0


class StepPolicy(BaseModel):
    """``retries`` further attempts after the first, exponential backoff with full jitter between
    ``backoff_s`` and ``backoff_max_s``, and a per-attempt ``timeout_s`` (None: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retries: int = Field(0, ge=0, le=100)
    backoff_s: float = Field(1.0, ge=0.0, le=3600.0)
    backoff_max_s: float = Field(60.0, ge=0.0, le=86400.0)
    timeout_s: float | None = Field(None, gt=0.0, le=MAX_TIMEOUT_S)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
        ceiling = min(self.backoff_max_s, self.backoff_s * (2 ** max(0, attempt - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


DEFAULT = StepPolicy()
