"""AUC, GAUC and log loss for click-style labels (numpy, exact, tie-aware).

AUC is the Mann-Whitney statistic with average ranks for ties (what ``sklearn.metrics.
roc_auc_score`` computes). GAUC, as in the DIN paper (Zhou et al., KDD 2018, eq. 1), is the mean
of per-user AUCs weighted by each user's number of impressions (samples).

Written here rather than taken from scikit-learn because GAUC needs a grouped AUC over thousands
of users in one vectorised pass (sklearn would be one call per user) and sklearn is optional.

Guarantees and caveats
----------------------
- Exact: ties between a positive and a negative count one half, as in sklearn.
- GAUC skips users whose samples are all of one class (their AUC is undefined), as the paper
  does; if every user is skipped it returns ``nan``.
- ``auc`` raises ``ValueError`` when the labels hold a single class (like sklearn).
- ``logloss`` clips probabilities to ``[eps, 1 - eps]`` before taking logs.
"""

from __future__ import annotations

import numpy as np


def _grouped_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUC per group, impressions per group); groups with one class get AUC ``nan``."""
    order = np.lexsort((scores, groups))
    g, s, y = groups[order], scores[order], labels[order] > 0.5
    n = len(g)
    # Runs of equal (group, score): each member gets the run's average 1-based position.
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n)
    avg_pos = (run_start + run_end + 1) / 2.0  # mean of 1-based positions start+1..end
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    group_id = np.cumsum(new_group) - 1
    group_start = np.flatnonzero(new_group)
    rank = avg_pos[run_id] - group_start[group_id]  # rank within the group
    n_groups = len(group_start)
    n_pos = np.bincount(group_id, weights=y, minlength=n_groups)
    size = np.bincount(group_id, minlength=n_groups).astype(np.float64)
    n_neg = size - n_pos
    rank_pos = np.bincount(group_id, weights=np.where(y, rank, 0.0), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc, size


def _arrays(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length ({y.shape[0]} vs {s.shape[0]})")
    return y, s


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    y, s = _arrays(labels, scores)
    value, _ = _grouped_auc(np.zeros(len(y), dtype=np.int64), y, s)
    if len(value) == 0 or np.isnan(value[0]):
        raise ValueError("AUC needs both positive and negative labels")
    return float(value[0])


def gauc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Impression-weighted mean of per-user AUCs, users with one class skipped."""
    y, s = _arrays(labels, scores)
    u = np.asarray(users).reshape(-1)
    if u.shape != y.shape:
        raise ValueError("users, labels and scores must have the same length")
    values, size = _grouped_auc(u, y, s)
    ok = ~np.isnan(values)
    if not ok.any():
        return float("nan")
    return float(np.sum(values[ok] * size[ok]) / np.sum(size[ok]))


def logloss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities ``probs``."""
    y, p = _arrays(labels, probs)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def evaluate(users: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """``{"auc", "gauc", "logloss"}`` of one set of predictions."""
    return {"auc": auc(labels, probs), "gauc": gauc(users, labels, probs), "logloss": logloss(labels, probs)}
