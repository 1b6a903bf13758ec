"""The built-in objectives at their known optima, and objectives named, never loaded from a request."""

from __future__ import annotations

import random

import pytest

from aria_actors.tune.errors import UnknownObjective
from aria_actors.tune.objectives import (
    BRANIN_MIN,
    BRANIN_MINIMISERS,
    HARTMANN6_MIN,
    HARTMANN6_MINIMISER,
    Objectives,
    branin,
    hartmann6,
)
from tests.unit.tune.fixture_objectives import CONFIGURED


@pytest.mark.parametrize(("x1", "x2"), BRANIN_MINIMISERS)
def test_branin_minima(x1: float, x2: float) -> None:
    assert branin({"x1": x1, "x2": x2}) == pytest.approx(BRANIN_MIN, abs=1e-5)


def test_hartmann6_minimum() -> None:
    best = hartmann6(dict(zip([f"x{i}" for i in range(1, 7)], HARTMANN6_MINIMISER, strict=True)))
    assert best == pytest.approx(HARTMANN6_MIN, abs=1e-4)


def test_no_random_point_beats_the_known_minima() -> None:
    rng = random.Random(0)
    for _ in range(5000):
        assert branin({"x1": rng.uniform(-5, 10), "x2": rng.uniform(0, 15)}) >= BRANIN_MIN - 1e-6
        assert hartmann6({f"x{i}": rng.random() for i in range(1, 7)}) >= HARTMANN6_MIN - 1e-6


def test_objectives_are_names_and_configured_targets_load_once() -> None:
    objectives = Objectives(CONFIGURED)
    assert objectives.names() == ["branin", "din", "din-arch", "din-pipeline", "faulty", "hartmann6", "qwen3-arch",
                                  "slow", "stepwise"]
    faulty = objectives.get("faulty")
    assert faulty.name == "faulty" and faulty.params == ("x",) and objectives.get("faulty") is faulty
    for bad in ("nope", "tests.unit.tune.fixture_objectives:FAULTY", None, 3):
        with pytest.raises(UnknownObjective) as got:
            objectives.get(bad)
        assert got.value.status == 400 and got.value.fields["field"] == "objective"


def test_a_configured_target_that_does_not_load_is_a_400() -> None:
    objectives = Objectives({"gone": "python:tests.unit.tune.no_such_module:f"})
    with pytest.raises(UnknownObjective, match="does not load"):
        objectives.get("gone")
    described = {o["name"]: o for o in objectives.describe()}
    assert "error" in described["gone"] and "error" not in described["branin"]
