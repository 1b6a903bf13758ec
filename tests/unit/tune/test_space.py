"""Search spaces and study settings: canonical forms, and each refusal a 400 naming its field."""

from __future__ import annotations

import math

import pytest

from aria_actors.tune.errors import InvalidSearchSpace, InvalidStudy
from aria_actors.tune.space import check_count, check_direction, check_pruner, check_sampler, check_space, contains


def test_a_space_is_made_canonical() -> None:
    got = check_space({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                       "layers": {"type": "int", "low": 1, "high": 8.0},
                       "act": {"type": "categorical", "choices": ["relu", "gelu", None]}})
    assert got == {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
                   "layers": {"type": "int", "low": 1, "high": 8, "step": 1},
                   "act": {"type": "categorical", "choices": ["relu", "gelu", None]}}
    assert contains(got, {"lr": 0.01, "layers": 3, "act": None})
    assert not contains(got, {"lr": 0.5, "layers": 3, "act": None})
    assert not contains(got, {"lr": 0.01, "layers": 3})


@pytest.mark.parametrize(("space", "field"), [
    (None, "space"),
    ({}, "space"),
    ([], "space"),
    ({"x": {"type": "float", "low": 1.0, "high": 1.0}}, "space.x.high"),
    ({"x": {"type": "float", "low": 2.0, "high": 1.0}}, "space.x.high"),
    ({"x": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "space.x.low"),
    ({"x": {"type": "float", "low": -1.0, "high": 1.0, "log": True}}, "space.x.low"),
    ({"x": {"type": "float", "low": 0.0, "high": math.inf}}, "space.x.high"),
    ({"x": {"type": "float", "low": math.nan, "high": 1.0}}, "space.x.low"),
    ({"x": {"type": "float", "low": "0", "high": 1.0}}, "space.x.low"),
    ({"x": {"type": "float", "low": 0.0, "high": 1.0, "log": "yes"}}, "space.x.log"),
    ({"x": {"type": "float", "high": 1.0}}, "space.x.low"),
    ({"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1}}, "space.x.step"),
    ({"x": {"type": "int", "low": 0, "high": 10, "step": 11}}, "space.x.step"),
    ({"x": {"type": "int", "low": 0, "high": 10, "step": 0}}, "space.x.step"),
    ({"x": {"type": "int", "low": 0.5, "high": 10}}, "space.x.low"),
    ({"x": {"type": "int", "low": 5, "high": 5}}, "space.x.high"),
    ({"x": {"type": "normal", "low": 0, "high": 1}}, "space.x.type"),
    ({"x": 3}, "space.x"),
    ({"x": {"type": "categorical", "choices": []}}, "space.x.choices"),
    ({"x": {"type": "categorical", "choices": ["only"]}}, "space.x.choices"),
    ({"x": {"type": "categorical", "choices": ["a", "a"]}}, "space.x.choices[1]"),
    ({"x": {"type": "categorical", "choices": ["a", {"nested": 1}]}}, "space.x.choices[1]"),
    ({"x": {"type": "categorical", "choices": ["a", math.nan]}}, "space.x.choices[1]"),
    ({"x": {"type": "categorical", "choices": [str(i) for i in range(65)]}}, "space.x.choices"),
    ({"bad name": {"type": "float", "low": 0, "high": 1}}, "space.bad name"),
    ({f"p{i}": {"type": "float", "low": 0, "high": 1} for i in range(33)}, "space"),
])
def test_a_bad_space_is_a_400_naming_the_field(space: object, field: str) -> None:
    with pytest.raises(InvalidSearchSpace) as got:
        check_space(space)
    assert got.value.status == 400 and got.value.fields["field"] == field, got.value.message


def test_categorical_choices_that_python_holds_equal_are_one_choice() -> None:
    assert check_space({"x": {"type": "categorical", "choices": [1, "1", None]}})["x"]["choices"] == [1, "1", None]
    for same in ([True, 1], [1, 1.0], [0, False]):  # Optuna could not tell these apart
        with pytest.raises(InvalidSearchSpace, match="repeats"):
            check_space({"x": {"type": "categorical", "choices": ["a", *same]}})


def test_ranges_that_overflow_are_refused() -> None:
    with pytest.raises(InvalidSearchSpace, match="overflows"):
        check_space({"x": {"type": "float", "low": -1.7e308, "high": 1.7e308}})
    for bound in (10**400, 2**60):
        with pytest.raises(InvalidSearchSpace, match="2\\*\\*53"):
            check_space({"x": {"type": "int", "low": 0, "high": bound}})


def test_sampler_and_pruner_settings() -> None:
    assert check_sampler(None) == {"name": "tpe", "seed": None, "n_startup_trials": 10, "multivariate": None}
    assert check_sampler("random") == {"name": "random", "seed": None}
    assert check_sampler({"name": "tpe", "seed": 3, "n_startup_trials": 4})["n_startup_trials"] == 4
    assert check_pruner(None)["name"] == "median" and check_pruner("none") == {"name": "none"}
    for bad, field in ((("cmaes"), "sampler.name"), ({"name": "random", "n_startup_trials": 3},
                                                       "sampler.n_startup_trials"),
                       ({"name": "tpe", "seed": -1}, "sampler.seed"), ({"name": "tpe", "colour": 1}, "sampler.colour")):
        with pytest.raises(InvalidStudy) as got:
            check_sampler(bad)
        assert got.value.fields["field"] == field
    with pytest.raises(InvalidStudy) as got:
        check_pruner({"name": "median", "n_warmup_steps": -1})
    assert got.value.fields["field"] == "pruner.n_warmup_steps"
    with pytest.raises(InvalidStudy):
        check_pruner({"name": "none", "n_warmup_steps": 1})
    with pytest.raises(InvalidStudy):
        check_direction("up")
    with pytest.raises(InvalidStudy) as got:
        check_count(0, "budget", 100)
    assert got.value.fields["field"] == "budget"
