"""A/B traffic between model versions: weighted routing and per-version metrics. Plain Python.

Guarantees and caveats
----------------------
- With a routing ``key`` (a user or session id) the choice is sticky: the same key goes to the
  same version for as long as the weights (and their order) stay the same (a hash of the key
  picks the point on the cumulative weights), also across a rebuild by :meth:`TrafficSplit.restore`.
  Without a key the choice is random with the split's own seeded RNG (a rebuilt split starts
  that RNG again from its seed).
- Over many requests each version's share approaches its weight / sum of weights.
- Metrics are totals in memory. Counters (requests, tokens, seconds) also collect as unflushed
  deltas that the owner takes with :meth:`take_unflushed` to store them (and gives back with
  :meth:`give_back` when storing failed); feedback is not in the deltas, the owner stores each
  score itself before :meth:`feedback`. The service keeps both in Postgres (:mod:`aria_actors.shape.store`) and
  rebuilds the split from them with :meth:`restore`.
- Feedback needs a served response: :meth:`ticket` gives each response an id, an HMAC (the
  split's own random key) over the version, the caller it was served to and a nonce, so that only
  a caller a version served can score it; the owner keeps one score per caller and version (a
  newer one replaces theirs, :func:`score_change`), each in [-MAX_FEEDBACK, MAX_FEEDBACK]. So no caller
  can weigh more than one vote per version, however often it asks or scores. A new split has a
  new key: ids of an earlier test are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.shape.errors import InvalidTraffic, UnknownResponse

__all__ = ["MAX_FEEDBACK", "RESPONSE_ID", "InvalidTraffic", "TrafficSplit", "VersionMetrics", "score_change", "scorer",
           "ticket_for"]
# The largest feedback score (either sign), aria_interpret's clip too: one caller's one vote cannot
# outweigh many others' (a 0/1 click, a -1..1 rating fit).
MAX_FEEDBACK = 1.0
# What a response id looks like (ticket): a nonce and a MAC, both base64url.
RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}")


@dataclass
class VersionMetrics:
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    feedback_count: int = 0
    feedback_sum: float = 0.0
    # Sum of squared scores: with count and sum, the variance a significance test needs (aria_tune's
    # A/B decisions) without keeping every score. None: scores counted before it was kept (a split
    # older than the column), so no variance is known for this split.
    feedback_sumsq: float | None = 0.0

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> VersionMetrics:
        """From a mapping with (some of) the field names, e.g. a stored row."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})

    def add(self, requests: int, tokens: int, seconds: float) -> None:
        self.requests += requests
        self.tokens += tokens
        self.seconds += seconds

    @property
    def mean_feedback(self) -> float | None:
        return self.feedback_sum / self.feedback_count if self.feedback_count else None

    @property
    def feedback_variance(self) -> float | None:
        """The scores' sample variance (n - 1), None below two scores or when not known. From sums,
        so it loses the digits the scores share: a spread below 1e-9 of their magnitude reads as none
        (scores are bounded, MAX_FEEDBACK, so nothing overflows)."""
        n, sumsq = self.feedback_count, self.feedback_sumsq
        if n < 2 or sumsq is None:
            return None
        mean = self.feedback_sum / n
        spread = sumsq - self.feedback_sum * mean
        if spread <= 1e-9 * sumsq:
            return 0.0
        return spread / (n - 1)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests, "tokens": self.tokens,
            "tokens_per_s": self.tokens / self.seconds if self.seconds else None,
            "feedback_count": self.feedback_count, "mean_feedback": self.mean_feedback,
            "feedback_variance": self.feedback_variance,
        }


class TrafficSplit:
    """Routes requests between versions by weight and keeps each version's metrics."""

    def __init__(self, weights: Mapping[str, float], seed: int = 0, key: bytes | None = None) -> None:
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InvalidTraffic(f"invalid traffic weights {dict(weights)}", weights=dict(weights))
        self.weights = dict(weights)
        self.seed = seed
        self.key = key or secrets.token_bytes(32)  # signs the response ids of this split only
        self._rng = random.Random(seed)
        self.metrics: dict[str, VersionMetrics] = {v: VersionMetrics() for v in weights}
        self._unflushed: dict[str, VersionMetrics] = {}

    @classmethod
    def restore(cls, weights: Mapping[str, float], seed: int,
                metrics: Mapping[str, Mapping[str, Any]], key: bytes | None = None) -> TrafficSplit:
        """The split as stored: ``weights`` in routing order, each version's stored totals
        (versions without a row start at zero, rows of versions not in ``weights`` are ignored),
        its response-id ``key`` (a new one when none was stored)."""
        split = cls(weights, seed, key)
        for version, row in metrics.items():
            if version in split.metrics:
                split.metrics[version] = VersionMetrics.of(row)
        return split

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
        for m in (self.metrics.setdefault(version, VersionMetrics()),
                  self._unflushed.setdefault(version, VersionMetrics())):
            m.add(1, tokens, seconds)

    def take_unflushed(self) -> dict[str, VersionMetrics]:
        """The counters recorded since the last call (requests, tokens, seconds per version)."""
        out, self._unflushed = self._unflushed, {}
        return out

    def give_back(self, deltas: Mapping[str, VersionMetrics]) -> None:
        """Deltas that could not be stored: they go out again with the next ``take_unflushed``."""
        for version, d in deltas.items():
            self._unflushed.setdefault(version, VersionMetrics()).add(d.requests, d.tokens, d.seconds)

    def check(self, version: str) -> None:
        """InvalidTraffic unless ``version`` is in the split."""
        if version not in self.weights:
            raise InvalidTraffic(f"version {version!r} is not in the traffic split", version=version)

    def _mac(self, version: str, subject: str, nonce: str) -> str:
        message = b"\0".join(part.encode() for part in (version, subject, nonce))
        digest = hmac.new(self.key, message, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def ticket(self, version: str, subject: str) -> str:
        """The id of a response ``version`` served to ``subject``: what feedback on it names."""
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._mac(version, subject, nonce)}"

    def redeem(self, version: str, subject: str, response_id: str) -> None:
        """UnknownResponse unless ``response_id`` is one this split gave ``subject`` for a response
        of ``version`` (the score it carries is the owner's to keep, one per subject and version)."""
        nonce, _, mac = response_id.partition(".")
        if not (RESPONSE_ID.fullmatch(response_id) and version in self.weights
                and hmac.compare_digest(mac, self._mac(version, subject, nonce))):
            raise UnknownResponse(f"response {response_id!r} was not served to you by version {version!r} "
                                  "in the running A/B test", version=version, response_id=response_id)

    def feedback(self, version: str, value: float, replaces: float | None = None) -> None:
        """A score of ``version``; ``replaces``: the same caller's score it replaces (counted already)."""
        self.check(version)
        m = self.metrics[version]
        count, total, squares = score_change(value, replaces)
        m.feedback_count += count
        m.feedback_sum += total
        if m.feedback_sumsq is not None:
            m.feedback_sumsq += squares

    def leader(self) -> str | None:
        """The version with the best mean feedback (None until some version has feedback)."""
        scored = {v: m.mean_feedback for v, m in self.metrics.items() if m.feedback_count}
        return max(scored, key=lambda v: scored[v]) if scored else None  # type: ignore[arg-type, return-value]

    def report(self) -> dict[str, object]:
        return {"weights": self.weights, "leader": self.leader(),
                "versions": {v: m.to_dict() for v, m in self.metrics.items()}}


def score_change(value: float, replaces: float | None = None) -> tuple[int, float, float]:
    """What a score adds to a version's (count, sum, sum of squares): a first one counts, a newer
    one of the same caller (``replaces`` theirs) moves the sums only."""
    if replaces is None:
        return 1, value, value * value
    return 0, value - replaces, value * value - replaces * replaces


def scorer(caller: Principal) -> str:
    """Whose score it is: the subject within its tenant (the same name in two tenants is two
    people), as one unambiguous string."""
    return json.dumps([caller.tenant, caller.subject])


def ticket_for(split: TrafficSplit | None, version: str, caller: Principal) -> str | None:
    """The id of a response ``version`` served to ``caller`` (what their feedback names), signed by
    the split that routed it; None outside an A/B test (nothing to score)."""
    return split.ticket(version, scorer(caller)) if split is not None and version in split.weights else None
