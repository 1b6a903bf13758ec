"""The statistics of an A/B test between two served model versions (pure; no Ray, no database).

Each arm is what the serving service keeps per version of its traffic split: the number of
feedback scores, their mean and their sample variance (count, sum and sum of squares:
``aria_actors.shape.inference.traffic.VersionMetrics``). The comparison is Welch's t-test (unequal
variances), the usual test for a difference of two means from summary statistics; for 0/1 scores
(clicks) it is the unpooled two-proportion test with a t reference, which agrees with the z-test
at the sample sizes a decision needs.

The decision rule is fixed-horizon:
- ``collecting`` until each arm has ``min_samples`` scores (no verdict, whatever the p-value: a
  test looked at after every score and stopped at the first p < alpha finds differences that are
  not there far more often than alpha);
- ``candidate`` or ``control``: the arm with the better mean (``direction``), when p < alpha;
- ``no-difference``: p >= alpha once both arms have ``max_samples`` (if set): the control stays;
- ``undecided`` otherwise (collect more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aria_actors.tune.space import finite

VERDICTS = ("collecting", "candidate", "control", "no-difference", "undecided")


@dataclass(frozen=True, slots=True)
class Arm:
    """One version's feedback: count, mean and sample variance (None below two scores)."""

    version: str
    n: int
    mean: float | None
    variance: float | None

    @classmethod
    def of(cls, version: str, metrics: dict[str, Any] | None) -> Arm:
        """From a traffic report's per-version entry (``feedback_count``, ``mean_feedback``,
        ``feedback_variance``); an absent entry is an arm with no scores."""
        m = metrics or {}
        n = int(m.get("feedback_count") or 0)
        variance = finite(m.get("feedback_variance"))
        return cls(version, n, finite(m.get("mean_feedback")), None if variance is None else max(0.0, variance))


@dataclass(frozen=True, slots=True)
class Rule:
    alpha: float = 0.05
    min_samples: int = 100
    max_samples: int | None = None
    direction: str = "maximize"


def welch(control: Arm, candidate: Arm, alpha: float) -> dict[str, Any]:
    """Welch's t-test of candidate - control: difference, its standard error, t, degrees of freedom,
    the two-sided p-value and the (1 - alpha) confidence interval of the difference. None values
    where an arm has fewer than two scores or no variance known, and no p-value when both arms are
    constant (the test is undefined there: two constant arms prove nothing about the next scores)."""
    out: dict[str, Any] = {"difference": None, "standard_error": None, "t": None, "df": None,
                           "p_value": None, "ci_low": None, "ci_high": None, "relative_lift": None}
    if control.n < 2 or candidate.n < 2 or control.mean is None or candidate.mean is None:
        return out
    diff = candidate.mean - control.mean
    out["difference"] = diff
    if control.mean != 0:
        out["relative_lift"] = diff / abs(control.mean)
    if control.variance is None or candidate.variance is None:
        return out
    # scipy: the t distribution's tail and quantile (the library made for it)
    from scipy import stats

    va, vb = control.variance / control.n, candidate.variance / candidate.n
    total = va + vb
    if total <= 0.0 or not math.isfinite(total):
        return out
    se = math.sqrt(total)
    out["standard_error"] = se
    # Welch-Satterthwaite degrees of freedom, on the variances' shares (no underflow when tiny)
    df = 1.0 / ((va / total) ** 2 / (control.n - 1) + (vb / total) ** 2 / (candidate.n - 1))
    t = diff / se
    p = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1.0 - alpha / 2.0, df)) * se
    out.update(t=t, df=df, p_value=min(1.0, p), ci_low=diff - half, ci_high=diff + half)
    return out


def judge(control: Arm, candidate: Arm, rule: Rule) -> dict[str, Any]:
    """The test's statistics and verdict under ``rule`` (see the module's docstring)."""
    test = welch(control, candidate, rule.alpha)
    fewest = min(control.n, candidate.n)
    verdict = "undecided"
    winner = None
    if fewest < rule.min_samples:
        verdict = "collecting"
    elif test["p_value"] is not None and test["p_value"] < rule.alpha:
        better = test["difference"] > 0 if rule.direction == "maximize" else test["difference"] < 0
        verdict, winner = ("candidate", candidate.version) if better else ("control", control.version)
    elif rule.max_samples is not None and fewest >= rule.max_samples:
        verdict, winner = "no-difference", control.version
    return {"verdict": verdict, "winner": winner, "samples_needed": max(0, rule.min_samples - fewest),
            "control": _arm(control), "candidate": _arm(candidate), **test}


def _arm(arm: Arm) -> dict[str, Any]:
    return {"version": arm.version, "n": arm.n, "mean": arm.mean, "variance": arm.variance}
