"""Test objectives, configured into the e2e `aria up` (``ARIA_TUNE_OBJECTIVES``) and used by the
unit tests: never offered by aria_tune itself.

- ``faulty``: x on [0, 1]; raises for x > 0.8, returns NaN for x < 0.2, else (x - 0.5)^2: a study
  over it must record the raising and NaN trials as failed and go on.
- ``stepwise``: x on [0, 1]; five intermediate values (x - 0.3)^2 + 1 / (step + 1), the last one
  the value: what the median rule prunes.
- ``slow``: ``stepwise`` taking 0.25 s a step (a second a trial): trials are in flight when a test
  kills aria_tune.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from aria_actors.tune.objectives import Objective

UNIT = {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False}}
STEPS = 5


def faulty_value(params: Mapping[str, Any]) -> float:
    x = float(params["x"])
    if x > 0.8:
        raise ValueError(f"x = {x:.3f} is in the region where this objective raises")
    if x < 0.2:
        return float("nan")
    return (x - 0.5) ** 2


def stepwise_values(params: Mapping[str, Any]) -> Iterator[float]:
    x = float(params["x"])
    for step in range(STEPS):
        yield (x - 0.3) ** 2 + 1 / (step + 1)


def slow_values(params: Mapping[str, Any]) -> Iterator[float]:
    for value in stepwise_values(params):
        time.sleep(0.25)
        yield value


FAULTY = Objective("faulty", faulty_value, "test objective: raises for x > 0.8, NaN for x < 0.2", ("x",),
                   "minimize", 0.0, UNIT)
STEPWISE = Objective("stepwise", stepwise_values, "test objective: five intermediate values", ("x",),
                     "minimize", 0.2, UNIT)
SLOW = Objective("slow", slow_values, "test objective: stepwise, 0.25 s a step", ("x",), "minimize", 0.2, UNIT)
CONFIGURED = {name: f"python:tests.unit.tune.fixture_objectives:{name.upper()}"
              for name in ("faulty", "stepwise", "slow")}
