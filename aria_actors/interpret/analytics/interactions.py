"""Statistics of character interactions: who with whom, how often, and which pairs are unusual.

::

    (a, b, ts, kind) rows -> pair counts (unordered, and directed a -> b)
        |-- rate per unit time over the observed span, exact Poisson (Garwood) 95% interval
        |-- over-interaction test per pair: count ~ Binomial(M, p_ab) with p_ab the share of
        |   interactions {a, b} would get if partners were picked in proportion to each one's
        |   activity (independence), one-sided p-value, Benjamini-Hochberg q-value over all pairs
        '-- reciprocity (directed), degree / strength statistics, counts per kind

Independence null: with ``d_i`` the number of interactions character ``i`` takes part in and ``M``
the total, ``p_ij = d_i d_j / sum_{k<l} d_k d_l`` (the configuration-model share, self-pairs
excluded, normalised so the expected counts sum to ``M``).

Guarantees and caveats
----------------------
- The family for the BH correction is every unordered pair of characters seen, not just the pairs
  that interacted: a pair that never met has p = 1, which BH handles without listing it.
- The null conditions on each character's observed activity, so a planted pair inflates its own
  members' activity a little; tests stay conservative for them. Interactions are assumed
  independent events (bursty conversations make p-values optimistic; count a conversation once).
- Self-interactions (``a == b``) are refused. Rates use the span between the first and last
  interaction unless ``span`` is given.
- scipy is imported by :func:`analyse`, not at module import.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.analytics import _validate as v
from aria_actors.interpret.errors import InvalidInteraction, NotEnoughData

Interaction = tuple[str, str, float, str]


def parse(interactions: Any) -> list[Interaction]:
    """Validated ``(a, b, ts, kind)`` rows with ids as ``str`` and ts as float seconds."""
    rows = v.records(interactions, "interactions", InvalidInteraction)
    out: list[Interaction] = []
    for i, row in enumerate(rows):
        a, b, ts, kind = v.record(row, 4, f"interactions[{i}]", InvalidInteraction)
        a = v.ident(a, f"interactions[{i}].a", InvalidInteraction)
        b = v.ident(b, f"interactions[{i}].b", InvalidInteraction)
        if a == b:
            raise InvalidInteraction(f"interactions[{i}] is a character interacting with itself ({a})",
                                     field=f"interactions[{i}].b")
        out.append((a, b, v.timestamp(ts, f"interactions[{i}].ts", InvalidInteraction),
                    v.name(kind, f"interactions[{i}].kind", InvalidInteraction)))
    return out


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray, m: int | None = None) -> np.ndarray:
    """BH-adjusted q-values for ``pvalues``, as if they were the smallest of ``m >= len`` tests
    (the rest having p = 1). Written here because scipy's ``false_discovery_control`` has no ``m``."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise InvalidInteraction("p-values must be a flat list of numbers in [0, 1]", field="pvalues")
    n = p.size
    m = n if m is None else m
    if m < n:
        raise InvalidInteraction(f"m ({m}) must be at least the number of p-values ({n})", field="m")
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, n + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(n)
    q[order] = q_sorted
    return q


def poisson_interval(count: np.ndarray, exposure: float, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson rate ``count / exposure``."""
    # heavy: scipy.stats takes about 0.5 s to import; only the analysis needs it
    from scipy.stats import chi2

    alpha = 1.0 - level
    count = np.asarray(count, dtype=np.float64)
    low = np.where(count > 0, chi2.ppf(alpha / 2, 2 * count) / 2, 0.0)
    high = chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return low / exposure, high / exposure


def _summary(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "median": float(np.median(values)), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def analyse(interactions: Any, unit: float = 86_400.0, span: float | None = None, alpha: float = 0.05,
            max_pairs: int = 1_000, top: int = 10) -> dict[str, Any]:
    """Counts, rates with 95% intervals, over-interaction tests (BH at ``alpha``), reciprocity and
    degree statistics; ``pairs`` lists the ``max_pairs`` pairs with the smallest q-values (then the
    largest counts). Rates are per ``unit`` seconds (default: per day)."""
    # heavy: scipy.stats takes about 0.5 s to import; only the analysis needs it
    from scipy.stats import binom

    rows = parse(interactions)
    unit = v.number(unit, "unit", InvalidInteraction)
    alpha = v.fraction(alpha, "alpha", InvalidInteraction)
    max_pairs = v.positive_int(max_pairs, "max_pairs", InvalidInteraction, 1, 1_000_000)
    if unit <= 0:
        raise InvalidInteraction("unit must be a positive number of seconds", field="unit")
    times = np.array([r[2] for r in rows])
    observed_span = float(times.max() - times.min())
    if span is not None:
        span = v.number(span, "span", InvalidInteraction)
        if span < observed_span or span <= 0:
            raise InvalidInteraction(f"span must be positive and cover the data ({observed_span} s)", field="span")
    else:
        span = observed_span
    if span <= 0:
        raise NotEnoughData("all interactions share one timestamp; rates need a time span", field="interactions")
    directed: Counter[tuple[str, str]] = Counter((a, b) for a, b, _, _ in rows)
    pairs: Counter[tuple[str, str]] = Counter()
    kinds_by_pair: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for a, b, _, kind in rows:
        key = (a, b) if a < b else (b, a)
        pairs[key] += 1
        kinds_by_pair[key][kind] += 1
    activity: Counter[str] = Counter()
    for (a, b), c in pairs.items():
        activity[a] += c
        activity[b] += c
    chars = sorted(activity)
    if len(chars) < 3:
        raise NotEnoughData(f"testing pairs needs at least 3 characters, got {len(chars)}", field="interactions")
    m_total = len(rows)
    d = np.array([activity[c] for c in chars], dtype=np.float64)
    norm = (d.sum() ** 2 - (d ** 2).sum()) / 2  # sum over unordered pairs k < l of d_k d_l
    pos = {c: i for i, c in enumerate(chars)}
    keys = list(pairs)
    counts = np.array([pairs[k] for k in keys], dtype=np.float64)
    p_pair = np.array([d[pos[a]] * d[pos[b]] for a, b in keys]) / norm
    expected = m_total * p_pair
    pvals = binom.sf(counts - 1, m_total, p_pair)  # P(X >= count)
    n_hyp = len(chars) * (len(chars) - 1) // 2
    qvals = benjamini_hochberg(pvals, n_hyp)
    scale = unit / span
    low, high = poisson_interval(counts, span / unit)
    order = sorted(range(len(keys)), key=lambda i: (qvals[i], -counts[i], keys[i]))
    pair_rows = [{
        "a": keys[i][0], "b": keys[i][1], "count": int(counts[i]),
        "a_to_b": directed[keys[i]], "b_to_a": directed[(keys[i][1], keys[i][0])],
        "kinds": dict(kinds_by_pair[keys[i]]), "rate": float(counts[i] * scale),
        "rate_ci": [float(low[i]), float(high[i])], "expected": float(expected[i]),
        "ratio": float(counts[i] / expected[i]), "p_value": float(pvals[i]), "q_value": float(qvals[i]),
        "significant": bool(qvals[i] <= alpha),
    } for i in order[:max_pairs]]
    # reciprocity over directed edges: the share of a -> b edges whose b -> a edge exists too
    edges = [e for e, c in directed.items() if c > 0]
    mutual = sum(1 for a, b in edges if directed.get((b, a), 0) > 0)
    weighted = sum(min(c, directed.get((b, a), 0)) for (a, b), c in directed.items()) / m_total
    partners: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        partners[a].add(b)
        partners[b].add(a)
    out_deg: Counter[str] = Counter()
    in_deg: Counter[str] = Counter()
    for (a, b), c in directed.items():
        out_deg[a] += c
        in_deg[b] += c
    degree = np.array([len(partners[c]) for c in chars], dtype=np.float64)
    strength = d
    top_chars = sorted(chars, key=lambda c: (-activity[c], c))[:top]
    total_rate = m_total * scale
    t_low, t_high = poisson_interval(np.array([m_total]), span / unit)
    return {
        "n_interactions": m_total, "n_characters": len(chars), "n_pairs": len(keys), "n_tests": n_hyp,
        "span_s": span, "unit_s": unit, "rate": total_rate, "rate_ci": [float(t_low[0]), float(t_high[0])],
        "kinds": dict(Counter(r[3] for r in rows)),
        "n_significant": int((qvals <= alpha).sum()), "alpha": alpha, "pairs": pair_rows,
        "reciprocity": {"edges": len(edges), "mutual_edges": mutual,
                        "reciprocity": mutual / len(edges), "weighted": weighted},
        "degree": {"partners": _summary(degree), "interactions": _summary(strength),
                   "density": len(keys) / n_hyp},
        "top_characters": [{"character_id": c, "interactions": activity[c], "partners": len(partners[c]),
                            "initiated": out_deg[c], "received": in_deg[c]} for c in top_chars],
    }


def evaluate(interactions: Any, planted: Sequence[tuple[str, str]], alpha: float = 0.05) -> dict[str, Any]:
    """How well the significance test finds ``planted`` pairs, against the baseline of taking the
    pairs with the most interactions: precision, recall and F1 of the BH-significant pairs, and
    precision@K of both rankings (K = number of planted pairs)."""
    result = analyse(interactions, alpha=alpha, max_pairs=1_000_000)
    truth = {tuple(sorted((str(a), str(b)))) for a, b in planted}
    if not truth:
        raise NotEnoughData("no planted pairs to evaluate against", field="planted")
    found = {(p["a"], p["b"]) for p in result["pairs"] if p["significant"]}
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    k = len(truth)
    by_q = [(p["a"], p["b"]) for p in result["pairs"][:k]]
    by_count = [(p["a"], p["b"]) for p in sorted(result["pairs"], key=lambda p: (-p["count"], p["a"], p["b"]))[:k]]
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if hits else 0.0,
            "precision_at_k": len(set(by_q) & truth) / k,
            "baseline_precision_at_k": len(set(by_count) & truth) / k, "k": k, "n_significant": len(found)}
