"""The statistics of an A/B test between two served model versions (pure; no Ray, no database).

Each arm is what the serving service keeps per version of its traffic split: the number of
feedback scores, their mean and their sample variance (count, sum and sum of squares:
``aria_actors.shape.inference.traffic.VersionMetrics``). The comparison is Welch's t-test (unequal
variances), the usual test for a difference of two means from summary statistics; for 0/1 scores
(clicks) it is the unpooled two-proportion test with a t reference, which agrees with the z-test
at the sample sizes a decision needs.

Two decision rules (``Rule.method``):
- ``sequential`` (the default): the mixture sequential probability ratio test (mSPRT; Robbins
  1970, as in Johari et al., "Always valid inference", 2017) on the same normal approximation of
  the difference of means: its likelihood ratio against "no difference", mixed over effects
  ``N(0, (effect * sd)^2)`` (``effect``: the standardised effect size the test is tuned to,
  ``sd``: the arms' pooled standard deviation), is a martingale under no difference, so by
  Ville's inequality a verdict taken the first time it passes ``1 / alpha`` is wrong with
  probability at most alpha **however often the test is looked at**: ``decide`` may be polled.
  Without an ``effect``, the ratio is the mean of those for ``EFFECTS`` (a mean of martingales is
  one): nobody knows the effect before the test, and a mistuned one costs samples (an observed
  2 sd difference decides at 15 scores per arm tuned to 0.2 sd, 5 tuned to 2, 6 mixed; 0.2 sd at
  462 tuned to 0.2, 662 tuned to 2). Approximate like Welch's: V and the pooled sd are estimates
  re-taken at each look (polled after every score with no difference, the error rate measured
  6% at ``min_samples`` 3, 1.7% at 10, 0.3% at 100).
- ``fixed``: Welch's p-value against alpha. Valid for one look at a sample size fixed in advance;
  looked at again and again (decide polled until it answers), it finds differences that are not
  there far more often than alpha (tests/unit/tune/test_abtest.py measures both).

Either way:
- ``collecting`` until each arm has ``min_samples`` scores (no verdict, whatever the p-value:
  the normal approximation needs samples);
- ``candidate`` or ``control``: the arm with the better mean (``direction``), when the rule's
  p-value is below alpha (``decision_p_value``: the always-valid p ``min(1, 1 / ratio)`` or
  Welch's);
- ``no-difference``: no verdict once both arms have ``max_samples`` (if set): the control stays;
- ``undecided`` otherwise (collect more).
Welch's p-value and confidence interval are reported under both rules (``p_value``, ``ci_*``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aria_actors.tune.space import finite

VERDICTS = ("collecting", "candidate", "control", "no-difference", "undecided")
METHODS = ("sequential", "fixed")
# standardised effects (Cohen's d) the default mixture is spread over: from a twentieth of a
# standard deviation (large traffic) to two (a handful of scores)
EFFECTS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
MAX_RATIO = math.exp(700.0)  # reported ratios are capped here: a finite number JSON and jsonb can hold


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
    method: str = "sequential"
    effect: float | None = None  # sequential: one standardised effect to tune to; None: EFFECTS


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
    # scipy's t distribution, through its special functions: the same values as stats.t.sf/ppf
    # without the generic distribution machinery's ~150 us a call (judge runs on every report)
    from scipy.special import stdtr, stdtrit

    va, vb = control.variance / control.n, candidate.variance / candidate.n
    total = va + vb
    if total <= 0.0 or not math.isfinite(total):
        return out
    se = math.sqrt(total)
    out["standard_error"] = se
    # Welch-Satterthwaite degrees of freedom, on the variances' shares (no underflow when tiny)
    df = 1.0 / ((va / total) ** 2 / (control.n - 1) + (vb / total) ** 2 / (candidate.n - 1))
    t = diff / se
    p = float(2.0 * stdtr(df, -abs(t)))
    half = float(stdtrit(df, 1.0 - alpha / 2.0)) * se
    out.update(t=t, df=df, p_value=min(1.0, p), ci_low=diff - half, ci_high=diff + half)
    return out


def msprt(control: Arm, candidate: Arm, effects: tuple[float, ...] = EFFECTS) -> dict[str, Any]:
    """The mixture SPRT of candidate - control: the likelihood ratio of the observed difference
    ``d`` (variance ``V``, as Welch's) under effects ``N(0, tau^2)`` against no effect,
    ``sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))`` with ``tau = effect * sd``,
    averaged over ``effects``, and the always-valid p-value ``min(1, 1 / ratio)``. None where
    Welch's test is undefined."""
    out: dict[str, Any] = {"likelihood_ratio": None, "always_valid_p_value": None}
    if (control.n < 2 or candidate.n < 2 or control.mean is None or candidate.mean is None
            or control.variance is None or candidate.variance is None):
        return out
    v = control.variance / control.n + candidate.variance / candidate.n
    pooled = ((control.n - 1) * control.variance + (candidate.n - 1) * candidate.variance) / (
        control.n + candidate.n - 2)
    if v <= 0.0 or pooled <= 0.0 or not math.isfinite(v + pooled):
        return out
    z = (candidate.mean - control.mean) / math.sqrt(v)
    if not math.isfinite(z * z):  # a difference beyond any doubt (floats cannot hold its ratio)
        out.update(likelihood_ratio=MAX_RATIO, always_valid_p_value=0.0)
        return out
    # in logs, on shares of V + tau^2, averaged by log-sum-exp (no overflow for a large difference
    # or tiny variances)
    logs = []
    for effect in effects:
        share = v / (v + effect * effect * pooled)
        logs.append(0.5 * math.log(share) + z * z * (1.0 - share) / 2.0)
    top = max(logs)
    log_ratio = top + math.log(sum(math.exp(x - top) for x in logs) / len(logs))
    out["likelihood_ratio"] = math.exp(min(log_ratio, 700.0))  # at most MAX_RATIO
    out["always_valid_p_value"] = min(1.0, math.exp(-log_ratio)) if log_ratio > -700.0 else 1.0
    return out


def judge(control: Arm, candidate: Arm, rule: Rule) -> dict[str, Any]:
    """The test's statistics and verdict under ``rule`` (see the module's docstring)."""
    test = welch(control, candidate, rule.alpha)
    test.update(msprt(control, candidate, EFFECTS if rule.effect is None else (rule.effect,)))
    decision_p = test["always_valid_p_value"] if rule.method == "sequential" else test["p_value"]
    fewest = min(control.n, candidate.n)
    verdict = "undecided"
    winner = None
    if fewest < rule.min_samples:
        verdict = "collecting"
    elif decision_p is not None and decision_p < rule.alpha:  # below alpha: a nonzero difference
        better = test["difference"] > 0 if rule.direction == "maximize" else test["difference"] < 0
        verdict, winner = ("candidate", candidate.version) if better else ("control", control.version)
    elif rule.max_samples is not None and fewest >= rule.max_samples:
        verdict, winner = "no-difference", control.version
    return {"verdict": verdict, "winner": winner, "samples_needed": max(0, rule.min_samples - fewest),
            "method": rule.method, "effect": rule.effect, "decision_p_value": decision_p,
            "control": _arm(control), "candidate": _arm(candidate), **test}


def _arm(arm: Arm) -> dict[str, Any]:
    return {"version": arm.version, "n": arm.n, "mean": arm.mean, "variance": arm.variance}
