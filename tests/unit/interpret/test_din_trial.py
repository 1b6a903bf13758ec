"""Evaluate-only DIN trials: params checked with the field named, a subset with no test split,
epochs one call at a time, the same weights as the stepwise Trainer's fit, nothing stored; and the
service's trial methods (owner-only, bounded, dropped at the end)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aria_actors.interpret.din.data import InteractionLog, build_samples  # noqa: E402
from aria_actors.interpret.din.train import DinConfig, fit  # noqa: E402
from aria_actors.interpret.din.trial import BadParam, DinTrial, check_params, layers, trial_samples  # noqa: E402
from aria_actors.interpret.din_trials import DinTrialsMixin  # noqa: E402
from aria_actors.runtime.errors import BadRequest, Conflict, NotFound  # noqa: E402
from aria_actors.runtime.principal import Principal  # noqa: E402
from tests.unit.interpret.test_din_train import planted_rows  # noqa: E402

PARAMS = {"lr": 5e-3, "batch_size": 256, "item_dim": 8, "category_dim": 4, "attention_layers": 1,
          "attention_width": 12, "mlp_layers": 2, "mlp_width": 24}


@pytest.fixture(scope="module")
def samples() -> tuple:
    log = InteractionLog.from_rows(planted_rows())
    return build_samples(log, 8, 3, 9, 0, 3), len(log.cat_vocab)


def test_params_map_to_a_config_and_bad_ones_name_their_field() -> None:
    config = check_params(PARAMS)
    assert config.attention == (12,) and config.mlp == (24, 12) and config.lr == 5e-3
    assert layers(3, 64, True) == (64, 32, 16) and layers(2, 8, False) == (8, 8)
    for bad, field in (({"lr": 2.0}, "params.lr"), ({"lr": "x"}, "params.lr"), ({"nope": 1}, "params.nope"),
                       ({"batch_size": 1}, "params.batch_size"), ({"item_dim": 3.5}, "params.item_dim"),
                       ({"dropout": float("nan")}, "params.dropout"), ({"mlp_layers": True}, "params.mlp_layers")):
        with pytest.raises(BadParam) as exc:
            check_params(bad)
        assert exc.value.field == field, bad
    with pytest.raises(BadParam):
        check_params(["lr"])


def test_a_trial_trains_on_a_subset_without_the_test_split(samples: tuple) -> None:
    full, n_cat = samples
    sub = trial_samples(full, 500, 0)
    assert len(sub.train) == 500 and len(sub.valid) == len(full.valid) and len(sub.test) == 0
    assert np.array_equal(trial_samples(full, 500, 0).train.cands, sub.train.cands)  # deterministic
    trial = DinTrial.start(sub, n_cat, check_params(PARAMS), epochs=2)
    first = trial.epoch()
    assert first["epoch"] == 1 and not first["done"] and 0.0 <= first["valid"]["gauc"] <= 1.0
    assert trial.epoch()["done"]
    with pytest.raises(BadParam):
        trial.epoch()
    result = trial.result()
    assert result["epochs"] == 2 and result["train_rows"] == 500 and result["latency_ms"] > 0
    assert result["parameters"] == sum(p.numel() for p in trial.trainer.model.parameters())
    assert result["valid"]["gauc"] == max(r.valid["gauc"] for r in trial.trainer.reports)


def test_stepwise_training_matches_fit(samples: tuple) -> None:
    full, n_cat = samples
    config = DinConfig(item_dim=8, category_dim=4, attention=(12,), mlp=(24, 8), batch_size=256, epochs=2,
                       patience=5, max_history=8, negatives=3, eval_negatives=9)
    _, report = fit(full, n_cat, config)
    trial = DinTrial.start(full, n_cat, config, epochs=2)
    steps = [trial.epoch()["valid"]["gauc"] for _ in range(2)]
    assert steps == [r.valid["gauc"] for r in report["history"]]


def test_service_trials_are_the_starters_bounded_and_dropped(samples: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        svc = DinTrialsMixin()
        svc.config = SimpleNamespace(din_trial_max_epochs=3, din_trial_sessions=1, din_trial_idle_s=60.0,
                                     din_trial_rows=300)

        async def full() -> tuple:
            return samples

        monkeypatch.setattr(svc, "_full_samples", full)
        ada, bob = Principal(subject="ada", roles=("editor",)), Principal(subject="bob", roles=("editor",))
        with pytest.raises(BadRequest) as exc:
            await svc.start_din_trial(ada, {"lr": 5.0})
        assert exc.value.fields["field"] == "params.lr"
        with pytest.raises(BadRequest):
            await svc.start_din_trial(ada, PARAMS, epochs=4)
        started = await svc.start_din_trial(ada, PARAMS, epochs=1)
        assert started["train_rows"] == 300
        with pytest.raises(Conflict):  # one trial held at most
            await svc.start_din_trial(ada, PARAMS, epochs=1)
        with pytest.raises(NotFound):  # another caller's
            await svc.din_trial_epoch(bob, started["trial"])
        got = await svc.din_trial_epoch(ada, started["trial"])
        assert got["done"] and "test" not in got
        with pytest.raises(Conflict):
            await svc.din_trial_epoch(ada, started["trial"])
        ended = await svc.end_din_trial(ada, started["trial"])
        assert ended["valid"]["gauc"] == got["valid"]["gauc"]
        with pytest.raises(NotFound):
            await svc.end_din_trial(ada, started["trial"])
        with pytest.raises(BadRequest):
            await svc.din_trial_epoch(ada, "../x")

    asyncio.run(run())


def test_pipeline_settings_are_params_too(samples: tuple) -> None:
    config = check_params({"threads": 2, "precision": "bf16", "batch_size": 512})
    assert config.threads == 2 and config.precision == "bf16"
    for bad, field in (({"precision": "fp8"}, "params.precision"), ({"threads": 0}, "params.threads"),
                       ({"threads": 99}, "params.threads")):
        with pytest.raises(BadParam) as exc:
            check_params(bad)
        assert exc.value.field == field
    full, n_cat = samples
    trial = DinTrial.start(trial_samples(full, 300, 0), n_cat, config, epochs=1)
    assert 0.0 <= trial.epoch()["valid"]["gauc"] <= 1.0  # bf16 autocast trains (Dice stays float32)
    result = trial.result()
    assert result["samples_per_s"] > 0 and result["train_s"] <= result["wall_s"]

