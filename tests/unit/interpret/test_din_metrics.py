"""DIN metrics: AUC, GAUC and log loss against scikit-learn (or hand-computed cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aria_actors.interpret.din.metrics import auc, gauc, logloss


def test_auc_hand_computed_with_ties():
    # positives 0.8, 0.5; negatives 0.5, 0.1: pairs (0.8>0.5, 0.8>0.1, 0.5=0.5, 0.5>0.1) = 3.5 / 4
    assert auc([1, 1, 0, 0], [0.8, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert auc([0, 1], [0.3, 0.3]) == 0.5
    assert auc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2]) == 1.0


def test_auc_single_class_raises():
    with pytest.raises(ValueError):
        auc([1, 1], [0.2, 0.3])


def test_auc_and_logloss_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 500)
        s = np.round(rng.random(500), 2)  # many ties
        assert auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
        p = np.clip(rng.random(500), 0.01, 0.99)
        assert logloss(y, p) == pytest.approx(metrics.log_loss(y, p), rel=1e-9)


def test_gauc_is_impression_weighted_and_skips_one_class_users():
    users = np.array([1, 1, 1, 2, 2, 3, 3, 3])
    y = np.array([1, 0, 0, 1, 0, 1, 1, 1])
    s = np.array([0.9, 0.5, 0.95, 0.1, 0.2, 0.3, 0.4, 0.5])
    # user 1: AUC 0.5 over 3 samples; user 2: AUC 0 over 2; user 3 only positives (skipped)
    assert gauc(users, y, s) == pytest.approx((0.5 * 3 + 0.0 * 2) / 5)
    assert math.isnan(gauc([1, 1], [1, 1], [0.1, 0.2]))


def test_gauc_matches_per_user_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    users = rng.integers(0, 40, 2000)
    y = rng.integers(0, 2, 2000)
    s = np.round(rng.random(2000), 1)
    num = den = 0.0
    for u in np.unique(users):
        m = users == u
        if len(set(y[m])) == 2:
            num += metrics.roc_auc_score(y[m], s[m]) * m.sum()
            den += m.sum()
    assert gauc(users, y, s) == pytest.approx(num / den, abs=1e-12)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        auc([1, 0], [0.1])
