"""Evaluate-only architecture trials of the tiny Qwen3: params checked naming the field, a trial
trains and measures without storing anything, the service method bounds its steps."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.shape.archtrial import ArchTrialsMixin, BadArch, check_arch


def test_architectures_are_checked_naming_the_field() -> None:
    assert check_arch({"num_layers": 3, "hidden_size": 96, "num_heads": 4}) == {"num_layers": 3, "hidden_size": 96,
                                                                                "num_heads": 4}
    assert check_arch({}) == {"num_layers": 2, "hidden_size": 64, "num_heads": 4}
    for bad, field in (({"num_layers": 0}, "params.num_layers"), ({"depth": 2}, "params.depth"),
                       ({"hidden_size": 100, "num_heads": 8}, "params.hidden_size"),
                       ({"num_heads": 2.0}, "params.num_heads"), ([], "params")):
        with pytest.raises(BadArch) as exc:
            check_arch(bad)
        assert exc.value.field == field


def test_a_trial_trains_and_measures_a_tiny_architecture() -> None:
    pytest.importorskip("transformers")
    from aria_actors.shape.config import ShapeConfig

    svc = ArchTrialsMixin()
    svc.config = ShapeConfig(arch_trial_max_steps=5)
    with pytest.raises(BadRequest) as exc:
        asyncio.run(svc._arch_trial({}, 6))
    assert exc.value.fields["field"] == "steps"
    with pytest.raises(BadRequest) as exc:
        asyncio.run(svc._arch_trial({"num_heads": 9}, 2))
    assert exc.value.fields["field"] == "params.num_heads"
    small = asyncio.run(svc._arch_trial({"num_layers": 1, "hidden_size": 32, "num_heads": 2}, 3))
    big = asyncio.run(svc._arch_trial({"num_layers": 2, "hidden_size": 64, "num_heads": 4}, 3))
    assert small["parameters"] < big["parameters"] and small["steps"] == 3
    assert all(r["loss"] > 0 and r["latency_ms"] > 0 for r in (small, big))
    assert SimpleNamespace(**small).arch == {"num_layers": 1, "hidden_size": 32, "num_heads": 2}
