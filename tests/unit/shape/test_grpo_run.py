"""A short GRPO run on CPU raises a learnable reward; a NaN loss stops training with a typed error."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.characters.corpus import prompts  # noqa: E402
from aria_actors.shape.config import ShapeConfig  # noqa: E402
from aria_actors.shape.errors import TrainingDiverged  # noqa: E402
from aria_actors.shape.model import load_model  # noqa: E402
from aria_actors.shape.training.policy import GRPORunner, GRPOSettings, mean_reward  # noqa: E402


def test_short_run_raises_trait_coverage_on_held_out_prompts(tmp_path) -> None:
    torch.set_num_threads(1)
    loaded = load_model(ShapeConfig(cache_dir=tmp_path, seed=1, pretrain_steps=0))
    settings = GRPOSettings(learning_rate=1e-2, relabel=True, seed=1)
    runner = GRPORunner(loaded.model, loaded.tokenizer, settings)
    held_out = prompts(8, seed=10_000)  # training prompts use other seeds
    evals = [mean_reward(loaded.model, loaded.tokenizer, held_out, settings)]
    for i in range(40):
        runner.step(prompts(4, seed=1000 + i))
        if i % 10 == 9:
            evals.append(mean_reward(loaded.model, loaded.tokenizer, held_out, settings))
    # A trend, not one number: every later evaluation beats the start, and the late ones clearly.
    assert all(e > evals[0] for e in evals[1:]), evals
    assert sum(evals[-2:]) / 2 > evals[0] + 0.1, evals


def test_nan_loss_stops_before_the_weights_change(tiny) -> None:
    torch.set_num_threads(1)
    runner = GRPORunner(tiny.model, tiny.tokenizer, GRPOSettings(max_completion_length=4),
                        reward_fn=lambda p, c: [float("nan")] * len(c))
    runner.last_checkpoint = "/ckpt/step-3"
    before = [p.detach().clone() for p in tiny.model.parameters()]
    with pytest.raises(TrainingDiverged) as info:
        runner.step(prompts(2, seed=0))
    assert info.value.fields["checkpoint"] == "/ckpt/step-3"
    assert "loss is nan" in info.value.fields["reason"]
    for a, b in zip(before, tiny.model.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_hindsight_relabelling_learns_faster_than_without(tmp_path) -> None:
    torch.set_num_threads(1)
    finals = {}
    for relabel in (False, True):
        per_seed = []
        for seed in (1, 2, 3):
            loaded = load_model(ShapeConfig(cache_dir=tmp_path, seed=seed, pretrain_steps=0))
            settings = GRPOSettings(learning_rate=1e-2, relabel=relabel, seed=seed)
            runner = GRPORunner(loaded.model, loaded.tokenizer, settings)
            for i in range(30):
                runner.step(prompts(4, seed=seed * 1000 + i))
            per_seed.append(mean_reward(loaded.model, loaded.tokenizer, prompts(8, seed=10_000), settings))
        finals[relabel] = sum(per_seed) / len(per_seed)
    assert finals[True] > finals[False], finals
