"""The auto-tuner's rules, with no I/O: what a measurement window says, whether a change made
things better, what to propose, and which values the settings allow.

::

    Sample (one reading of a target: completed jobs, jobs waiting, the oldest wait, wait sums)
    window(first, last) -> {throughput, wait_trend, wait_mean_s, ...}   one measurement
    decide(before, after, min_improvement, wait_slack) -> kept | rolled_back, with the reason
    proposed_value(current, limits) -> the next value up (doubled, at most max_step more, at most max)
    check_value(current, value, limits) -> value, or a 400 naming ``value``

Guarantees and caveats
----------------------
- "Better" is throughput (jobs completed per second over the window) up by more than
  ``min_improvement`` (a fraction of the before value) *and* the queue's wait not getting worse.
  The wait compared is its trend: how fast the age of the oldest waiting job grows over the window
  (seconds per second). Its level or the mean wait of the jobs started in the window would punish
  every change made while a backlog drains: right after a queue speeds up, the jobs it picks are
  the ones that waited longest. A trend worse than before by more than ``wait_slack`` rolls back.
- A window whose counters went backwards (jobs pruned, executors restarted) or whose clock did not
  move is not a measurement: the change is rolled back, never kept on a guess.
- The mean wait of the attempts started in the window (from aria_queue's histograms) is recorded
  for the operator; it does not decide.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from aria_actors.runtime.errors import BadRequest

KEPT, ROLLED_BACK, REJECTED, FAILED, PROPOSED, MEASURING = (
    "kept", "rolled_back", "rejected", "failed", "proposed", "measuring")
FINAL = (KEPT, ROLLED_BACK, REJECTED, FAILED)
STATUSES = (PROPOSED, MEASURING, *FINAL)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a knob may be set to: ``low <= value <= high``, moving at most ``max_step`` at once."""

    low: int
    high: int
    max_step: int

    def to_dict(self) -> dict[str, int]:
        return {"min": self.low, "max": self.high, "max_step": self.max_step}


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a target: ``at`` in seconds (monotonic), counters since some start."""

    at: float
    completed: int
    waiting: int
    oldest_wait_s: float
    wait_sum_s: float = 0.0
    wait_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window(first: Sample, last: Sample) -> dict[str, Any]:
    """The measurement between two samples of one target. ``valid`` is False (with ``why``) when
    the clock did not move or a counter went backwards."""
    span = last.at - first.at
    done = last.completed - first.completed
    out: dict[str, Any] = {"window_s": round(span, 3), "completed": done, "waiting": last.waiting,
                           "wait_oldest_s": round(last.oldest_wait_s, 3)}
    if span <= 0 or done < 0:
        return {**out, "valid": False, "throughput": None, "wait_trend": None, "wait_mean_s": None,
                "why": "the clock did not move" if span <= 0 else "completed jobs went backwards (pruned?)"}
    count, total = last.wait_count - first.wait_count, last.wait_sum_s - first.wait_sum_s
    mean = total / count if count > 0 and total >= 0 else None
    return {**out, "valid": True, "throughput": round(done / span, 4),
            "wait_trend": round((last.oldest_wait_s - first.oldest_wait_s) / span, 4),
            "wait_mean_s": None if mean is None else round(mean, 4)}


def decide(before: dict[str, Any], after: dict[str, Any], min_improvement: float,
           wait_slack: float) -> tuple[str, str]:
    """``(kept | rolled_back, why)`` for a change measured ``before`` and ``after``."""
    for name, m in (("before", before), ("after", after)):
        if not m.get("valid"):
            return ROLLED_BACK, f"the {name} window is not a measurement: {m.get('why')}"
    b, a = float(before["throughput"]), float(after["throughput"])
    gain = (math.inf if a > 0 else 0.0) if b <= 0 else (a - b) / b
    said = f"throughput {b:.3g} -> {a:.3g} jobs/s ({'+inf' if math.isinf(gain) else f'{gain:+.1%}'})"
    if not gain > min_improvement:
        return ROLLED_BACK, f"{said}: not more than +{min_improvement:.0%}"
    bt, at = float(before["wait_trend"]), float(after["wait_trend"])
    if at > bt + wait_slack:
        return ROLLED_BACK, (f"{said}, but the oldest wait grows faster: {bt:+.3f} -> {at:+.3f} s/s "
                             f"(slack {wait_slack:g})")
    return KEPT, f"{said}; oldest wait trend {bt:+.3f} -> {at:+.3f} s/s"


def proposed_value(current: int, limits: Limits) -> int | None:
    """The next value to try up from ``current``: doubled, at most ``max_step`` more and at most
    ``high``; None when it cannot go up."""
    value = min(limits.high, current * 2, current + limits.max_step)
    return value if value > current else None


def check_value(current: int, value: Any, limits: Limits) -> int:
    """``value`` when a knob at ``current`` may be set to it; else a 400 naming ``value``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("value must be an integer", field="value")
    if not limits.low <= value <= limits.high:
        raise BadRequest(f"value {value} is outside the knob's limits {limits.low}..{limits.high} "
                         "([tune] autotune_limits)", field="value", min=limits.low, max=limits.high)
    if value == current:
        raise BadRequest(f"the knob is at {current} already", field="value", current=current)
    if abs(value - current) > limits.max_step:
        raise BadRequest(f"value {value} moves more than max_step {limits.max_step} from {current}",
                         field="value", max_step=limits.max_step, current=current)
    return value
