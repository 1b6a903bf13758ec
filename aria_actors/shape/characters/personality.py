"""A Big Five (OCEAN) personality profile derived from a character's traits.

Each known trait word moves the five dimensions (openness, conscientiousness, extraversion,
agreeableness, neuroticism) away from the neutral 0.5; a character's profile is 0.5 plus the
mean of its traits' moves, clipped to [0, 1]. The profile is what behaviour code reads (how
talkative, how cooperative), and what ``tension`` measures: traits pulling one dimension in
opposite directions (a "cheerful" and "bitter" character) make a less coherent personality.

Guarantees and caveats
----------------------
- Deterministic and explainable: the lexicon below is the whole model; ``contributions`` shows
  which trait moved which dimension.
- Unknown trait words move nothing and are listed in ``unknown``; a template with its own trait
  vocabulary can pass its own lexicon.
- The lexicon is a hand-made approximation of common trait-adjective loadings, not a validated
  psychometric instrument.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

DIMENSIONS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")

# trait -> moves on (O, C, E, A, N), each in [-0.5, 0.5]
LEXICON: dict[str, tuple[float, float, float, float, float]] = {
    "brave": (0.1, 0.0, 0.2, 0.0, -0.3),
    "kind": (0.0, 0.0, 0.1, 0.4, -0.1),
    "wise": (0.3, 0.2, 0.0, 0.1, -0.2),
    "cruel": (0.0, 0.0, 0.0, -0.5, 0.1),
    "curious": (0.4, 0.0, 0.1, 0.0, 0.0),
    "calm": (0.0, 0.1, -0.1, 0.1, -0.4),
    "greedy": (0.0, 0.0, 0.0, -0.3, 0.1),
    "loyal": (0.0, 0.3, 0.0, 0.3, 0.0),
    "honest": (0.0, 0.2, 0.0, 0.3, 0.0),
    "cheerful": (0.1, 0.0, 0.3, 0.2, -0.3),
    "grumpy": (0.0, 0.0, -0.2, -0.3, 0.3),
    "patient": (0.0, 0.2, 0.0, 0.2, -0.2),
    "reckless": (0.1, -0.4, 0.2, 0.0, 0.1),
    "gentle": (0.0, 0.0, -0.1, 0.4, -0.1),
    "arrogant": (0.0, 0.0, 0.2, -0.4, 0.0),
    "humble": (0.0, 0.1, -0.1, 0.3, 0.0),
    "cowardly": (-0.1, 0.0, -0.2, 0.0, 0.4),
    "generous": (0.0, 0.0, 0.1, 0.4, 0.0),
    "jealous": (0.0, 0.0, 0.0, -0.2, 0.4),
    "hopeful": (0.1, 0.0, 0.1, 0.1, -0.3),
    "bitter": (0.0, 0.0, -0.2, -0.2, 0.3),
    "lazy": (0.0, -0.5, -0.1, 0.0, 0.0),
    "clever": (0.3, 0.1, 0.0, 0.0, 0.0),
    "shy": (0.0, 0.0, -0.5, 0.0, 0.2),
    "proud": (0.0, 0.1, 0.2, -0.2, 0.0),
    "pacifist": (0.1, 0.0, 0.0, 0.4, 0.0),
    "bloodthirsty": (0.0, -0.1, 0.1, -0.5, 0.2),
    "stubborn": (-0.2, 0.2, 0.0, -0.2, 0.0),
    "playful": (0.2, -0.1, 0.3, 0.1, 0.0),
    "serious": (0.0, 0.3, -0.2, 0.0, 0.0),
}


def profile(traits: Iterable[str],
            lexicon: Mapping[str, tuple[float, ...]] = LEXICON) -> dict[str, object]:
    """The OCEAN profile of ``traits``, the tension between them, and what each trait moved."""
    known, unknown = [], []
    for t in traits:
        (known if t.lower() in lexicon else unknown).append(t)
    moves = [lexicon[t.lower()] for t in known]
    scores = {}
    tension = 0.0
    for i, dim in enumerate(DIMENSIONS):
        values = [m[i] for m in moves]
        mean = sum(values) / len(values) if values else 0.0
        scores[dim] = round(min(1.0, max(0.0, 0.5 + mean)), 4)
        # Opposing pulls on one dimension: the smaller of the total push up and the total push down.
        up = sum(v for v in values if v > 0)
        down = -sum(v for v in values if v < 0)
        tension = max(tension, min(up, down))
    return {
        "scores": scores,
        "tension": round(tension, 4),
        "contributions": {t: dict(zip(DIMENSIONS, lexicon[t.lower()], strict=True)) for t in known},
        "unknown": unknown,
    }


def distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Euclidean distance between two profiles' scores (0 = same personality; at most sqrt(5))."""
    return math.sqrt(sum((a[d] - b[d]) ** 2 for d in DIMENSIONS))
