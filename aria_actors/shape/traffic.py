"""A/B traffic between model versions: weighted routing and per-version metrics. Plain Python.

Guarantees and caveats
----------------------
- With a routing ``key`` (a user or session id) the choice is sticky: the same key goes to the
  same version for as long as the weights stay the same (a hash of the key picks the point on
  the cumulative weights). Without a key the choice is random with the split's own seeded RNG.
- Over many requests each version's share approaches its weight / sum of weights.
- Metrics live in memory in the serving actor; they restart from zero when it restarts.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from aria_actors.shape.errors import InvalidTraffic

__all__ = ["InvalidTraffic", "TrafficSplit", "VersionMetrics"]


@dataclass
class VersionMetrics:
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    feedback: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests, "tokens": self.tokens,
            "tokens_per_s": self.tokens / self.seconds if self.seconds else None,
            "feedback_count": len(self.feedback),
            "mean_feedback": sum(self.feedback) / len(self.feedback) if self.feedback else None,
        }


class TrafficSplit:
    """Routes requests between versions by weight and keeps each version's metrics."""

    def __init__(self, weights: dict[str, float], seed: int = 0) -> None:
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InvalidTraffic(f"invalid traffic weights {weights}", weights=weights)
        self.weights = dict(weights)
        self._rng = random.Random(seed)
        self.metrics: dict[str, VersionMetrics] = {v: VersionMetrics() for v in weights}

    def pick(self, key: str | None = None) -> str:
        total = sum(self.weights.values())
        if key is None:
            point = self._rng.random() * total
        else:
            h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
            point = h / 2**64 * total
        acc = 0.0
        for version, w in self.weights.items():
            acc += w
            if point < acc and w > 0:
                return version
        return next(v for v, w in reversed(self.weights.items()) if w > 0)

    def record(self, version: str, tokens: int, seconds: float) -> None:
        m = self.metrics.setdefault(version, VersionMetrics())
        m.requests += 1
        m.tokens += tokens
        m.seconds += seconds

    def feedback(self, version: str, value: float) -> None:
        if version not in self.metrics:
            raise InvalidTraffic(f"version {version!r} is not in the traffic split", version=version)
        self.metrics[version].feedback.append(value)

    def leader(self) -> str | None:
        """The version with the best mean feedback (None until some version has feedback)."""
        scored = {v: m.to_dict()["mean_feedback"] for v, m in self.metrics.items() if m.feedback}
        return max(scored, key=lambda v: scored[v]) if scored else None  # type: ignore[arg-type, return-value]

    def report(self) -> dict[str, object]:
        return {"weights": self.weights, "leader": self.leader(),
                "versions": {v: m.to_dict() for v, m in self.metrics.items()}}
