"""Behavioural patterns in characters' action sequences: frequent sequential patterns and clusters.

::

    (character, ts, action) rows --group, sort by ts--> one action sequence per character
        |-- PrefixSpan(min_support, max_length) -> frequent subsequences with support counts
        '-- TF-IDF of action n-grams -> k-means for k in k_range -> best silhouette
                -> clusters, each with its distinguishing n-grams and sequential patterns

A sequential pattern ``[a, b]`` is supported by a sequence that holds ``a`` somewhere before ``b``
(gaps allowed); its support is the number of characters whose sequence holds it, counted once per
character.

Guarantees and caveats
----------------------
- PrefixSpan is exact (tests check it against brute-force enumeration) up to ``max_patterns``: past
  that the search stops and ``truncated`` says so. It is written here (pseudo-projection with
  per-sequence position indexes) because the one PyPI package for it is unmaintained since 2018
  and the algorithm is thirty lines.
- Only each character's last ``max_sequence`` actions are used (the count cut is reported), so a
  very long-lived character cannot dominate time or memory.
- Clustering is k-means on L2-normalised TF-IDF (sublinear tf) of contiguous n-grams, so it sees
  order (``a b`` differs from ``b a``); k is the silhouette (cosine) maximiser in ``k_range``,
  capped at ``n_characters - 1``. Seeded: the same input and seed give the same clusters.
- scikit-learn is imported when clustering runs, not when this module is imported (about 1 s).
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.analytics import _validate as v
from aria_actors.interpret.analytics._threads import single_thread
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData

SEP = "\x1f"  # joins n-gram tokens; names are printable so they never hold it


def sequences_from_actions(actions: Any, max_sequence: int = 2_000) -> tuple[dict[str, list[str]], int]:
    """Validate ``(character_id, ts, action_name)`` rows; one ts-ordered action list per character
    (ties keep input order) and the number of actions dropped by the ``max_sequence`` cap."""
    rows = v.records(actions, "actions", InvalidFeatures)
    by_char: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    for i, row in enumerate(rows):
        cid, ts, act = v.record(row, 3, f"actions[{i}]", InvalidFeatures)
        key = v.ident(cid, f"actions[{i}].character_id", InvalidFeatures)
        when = v.timestamp(ts, f"actions[{i}].ts", InvalidFeatures)
        by_char[key].append((when, i, v.name(act, f"actions[{i}].action", InvalidFeatures)))
    dropped = 0
    out: dict[str, list[str]] = {}
    for cid, items in by_char.items():
        items.sort()
        dropped += max(0, len(items) - max_sequence)
        out[cid] = [a for _, _, a in items[-max_sequence:]]
    return out, dropped


def is_subsequence(pattern: Sequence[str], sequence: Sequence[str]) -> bool:
    """Whether ``pattern`` occurs in ``sequence`` in order, gaps allowed."""
    it = iter(sequence)
    return all(any(x == y for y in it) for x in pattern)


def _min_count(min_support: float, n: int) -> int:
    if isinstance(min_support, bool) or not isinstance(min_support, int | float) or not math.isfinite(min_support):
        raise InvalidFeatures("min_support must be a count (int >= 1) or a fraction in (0, 1]", field="min_support")
    if isinstance(min_support, int):
        if min_support < 1:
            raise InvalidFeatures("min_support as a count must be >= 1", field="min_support")
        return min_support
    if not 0.0 < min_support <= 1.0:
        raise InvalidFeatures("min_support as a fraction must be in (0, 1]", field="min_support")
    return max(1, math.ceil(min_support * n - 1e-9))


def prefixspan(sequences: Sequence[Sequence[str]], min_support: float = 0.1, max_length: int = 4,
               max_patterns: int = 100_000) -> dict[str, Any]:
    """Frequent sequential patterns: every pattern of 1..``max_length`` items held by at least
    ``min_support`` sequences (an int count or a fraction of the sequences), with its support.

    Returns ``{"patterns": [{"pattern": [...], "support": n}], "min_count": n, "truncated": bool}``,
    patterns by support (desc), then length (desc), then lexically.
    """
    max_length = v.positive_int(max_length, "max_length", InvalidFeatures, 1, 50)
    max_patterns = v.positive_int(max_patterns, "max_patterns", InvalidFeatures, 1, 10_000_000)
    if not sequences:
        raise NotEnoughData("no sequences to mine", field="sequences")
    minsup = _min_count(min_support, len(sequences))
    vocab = sorted({a for s in sequences for a in s})
    code = {a: i for i, a in enumerate(vocab)}
    # per sequence: item -> sorted positions, so a projection step is a bisect, not a scan
    index: list[dict[int, list[int]]] = []
    for s in sequences:
        pos: dict[int, list[int]] = defaultdict(list)
        for j, a in enumerate(s):
            pos[code[a]].append(j)
        index.append(dict(pos))
    found: list[tuple[tuple[int, ...], int]] = []
    truncated = False

    def grow(prefix: tuple[int, ...], projection: list[tuple[int, int]]) -> None:
        nonlocal truncated
        counts: dict[int, int] = defaultdict(int)
        for sid, start in projection:
            for item, positions in index[sid].items():
                if positions[-1] >= start:
                    counts[item] += 1
        for item in sorted(counts):
            if counts[item] < minsup:
                continue
            if len(found) >= max_patterns:
                truncated = True
                return
            pattern = (*prefix, item)
            found.append((pattern, counts[item]))
            if len(pattern) < max_length:
                nxt = []
                for sid, start in projection:
                    positions = index[sid].get(item)
                    if positions is not None and positions[-1] >= start:
                        nxt.append((sid, positions[bisect_left(positions, start)] + 1))
                grow(pattern, nxt)

    grow((), [(sid, 0) for sid in range(len(sequences))])
    found.sort(key=lambda ps: (-ps[1], -len(ps[0]), [vocab[i] for i in ps[0]]))
    return {"patterns": [{"pattern": [vocab[i] for i in p], "support": s} for p, s in found],
            "min_count": minsup, "truncated": truncated}


def _ngrams(tokens: Sequence[str], low: int, high: int) -> list[str]:
    return [SEP.join(tokens[i:i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]


def cluster_sequences(sequences: dict[str, list[str]], k_range: tuple[int, int] = (2, 8),
                      ngram_range: tuple[int, int] = (1, 3), seed: int = 0, top: int = 5) -> dict[str, Any]:
    """Cluster characters by behaviour: TF-IDF of action n-grams, k-means for each k in
    ``k_range``, keep the k with the best cosine silhouette; each cluster's characteristic n-grams
    (mean TF-IDF in the cluster minus outside) and sequential patterns (support share in the cluster
    minus outside)."""
    # heavy: scikit-learn takes about 1 s to import; only clustering needs it
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    k_low = v.positive_int(k_range[0], "k_range[0]", InvalidFeatures, 2, 1000)
    k_high = v.positive_int(k_range[1], "k_range[1]", InvalidFeatures, k_low, 1000)
    n_low = v.positive_int(ngram_range[0], "ngram_range[0]", InvalidFeatures, 1, 10)
    n_high = v.positive_int(ngram_range[1], "ngram_range[1]", InvalidFeatures, n_low, 10)
    ids = sorted(cid for cid, s in sequences.items() if s)
    if len(ids) < 3:
        raise NotEnoughData(f"clustering needs at least 3 characters with actions, got {len(ids)}",
                            field="actions")
    vectorizer = TfidfVectorizer(analyzer=lambda s: _ngrams(s, n_low, n_high), sublinear_tf=True)
    x = vectorizer.fit_transform([sequences[c] for c in ids])
    features = vectorizer.get_feature_names_out()
    by_k: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    sample = min(len(ids), 3_000)  # silhouette is O(n^2); a seeded sample keeps it bounded
    for k in range(k_low, min(k_high, len(ids) - 1) + 1):
        with single_thread(), warnings.catch_warnings():
            # fewer distinct points than k is handled just below (that k is skipped)
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(x, labels, metric="cosine", sample_size=sample, random_state=seed))
        by_k[k] = score
        if best is None or score > best[0] + 1e-12:
            best = (score, k, labels)
    if best is None:
        raise NotEnoughData("all characters behave identically; nothing to cluster", field="actions")
    score, k, labels = best
    dense_means = []
    for c in range(k):
        mask = labels == c
        inside = np.asarray(x[mask].mean(axis=0)).ravel()
        outside = np.asarray(x[~mask].mean(axis=0)).ravel() if (~mask).any() else np.zeros_like(inside)
        dense_means.append(inside - outside)
    clusters = []
    for c in range(k):
        members = [ids[i] for i in np.flatnonzero(labels == c)]
        others = [sequences[ids[i]] for i in np.flatnonzero(labels != c)]
        diff = dense_means[c]
        order = np.argsort(-diff)[:top]
        ngrams = [{"ngram": str(features[j]).split(SEP), "score": round(float(diff[j]), 6)} for j in order
                  if diff[j] > 0]
        clusters.append({"cluster": c, "size": len(members), "members": members, "top_ngrams": ngrams,
                         "patterns": _characteristic([sequences[m] for m in members], others, top)})
    return {"k": k, "silhouette": score, "silhouette_by_k": {str(kk): s for kk, s in by_k.items()},
            "labels": {ids[i]: int(labels[i]) for i in range(len(ids))}, "clusters": clusters}


def _characteristic(inside: list[list[str]], outside: list[list[str]], top: int) -> list[dict[str, Any]]:
    """Sequential patterns frequent in the cluster and rarer outside it (by support share gap)."""
    mined = prefixspan(inside, min_support=0.5, max_length=3, max_patterns=5_000)["patterns"]
    candidates = sorted(mined, key=lambda p: (-p["support"], -len(p["pattern"])))[:200]
    scored = []
    for p in candidates:
        share_in = p["support"] / len(inside)
        out = sum(is_subsequence(p["pattern"], s) for s in outside)
        share_out = out / len(outside) if outside else 0.0
        scored.append({"pattern": p["pattern"], "support_in": p["support"], "support_out": out,
                       "lift": round(share_in - share_out, 6)})
    scored.sort(key=lambda d: (-d["lift"], -len(d["pattern"]), d["pattern"]))
    return [d for d in scored if d["lift"] > 0][:top]


class BehaviourPatterns:
    """Frequent sequential patterns and behaviour clusters over aria_engine's action log.

    ``BehaviourPatterns(min_support=0.1, max_length=4).analyse(actions)`` with ``actions`` a list of
    ``(character_id, ts, action_name)``.
    """

    def __init__(self, min_support: float = 0.1, max_length: int = 4, max_patterns: int = 100_000,
                 k_range: tuple[int, int] = (2, 8), ngram_range: tuple[int, int] = (1, 3),
                 max_sequence: int = 2_000, top_patterns: int = 200, seed: int = 0) -> None:
        self.min_support = min_support
        self.max_length = max_length
        self.max_patterns = max_patterns
        self.k_range = k_range
        self.ngram_range = ngram_range
        self.max_sequence = v.positive_int(max_sequence, "max_sequence", InvalidFeatures, 1, 1_000_000)
        self.top_patterns = v.positive_int(top_patterns, "top_patterns", InvalidFeatures, 1, 1_000_000)
        self.seed = v.integer(seed, "seed", InvalidFeatures)

    def analyse(self, actions: Any, cluster: bool = True) -> dict[str, Any]:
        """Patterns (top ``top_patterns`` by support) and, with ``cluster``, behaviour clusters."""
        sequences, dropped = sequences_from_actions(actions, self.max_sequence)
        seqs = [sequences[c] for c in sorted(sequences)]
        mined = prefixspan(seqs, self.min_support, self.max_length, self.max_patterns)
        out: dict[str, Any] = {
            "n_characters": len(seqs), "n_actions": sum(map(len, seqs)), "dropped_actions": dropped,
            "min_count": mined["min_count"], "n_patterns": len(mined["patterns"]),
            "truncated": mined["truncated"], "patterns": mined["patterns"][: self.top_patterns],
        }
        if cluster:
            out["clusters"] = cluster_sequences(sequences, self.k_range, self.ngram_range, self.seed)
        return out
