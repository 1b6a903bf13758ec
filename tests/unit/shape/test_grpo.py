"""GRPO mathematics: advantages by hand, and the loss against TRL's own computation."""

from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.training import grpo  # noqa: E402


def test_group_advantages_hand_computed() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 3.0, 1.0, 2.0, 2.0])
    adv = grpo.group_advantages(rewards, group_size=4)
    # Group 1: mean 0.5, unbiased std sqrt(1/3).
    s = math.sqrt(1 / 3)
    expected = [0.5 / (s + 1e-4), -0.5 / (s + 1e-4), -0.5 / (s + 1e-4), 0.5 / (s + 1e-4)]
    # Group 2: all equal -> zero advantage. Group 3: mean 2, std sqrt(2/3).
    s3 = math.sqrt(2 / 3)
    expected += [0.0] * 4 + [1 / (s3 + 1e-4), -1 / (s3 + 1e-4), 0.0, 0.0]
    assert adv.tolist() == pytest.approx(expected, abs=1e-6)


def test_group_advantages_unscaled_and_batch_scaled() -> None:
    rewards = torch.tensor([2.0, 0.0, 1.0, 1.0])
    assert grpo.group_advantages(rewards, 2, scale="none").tolist() == [1.0, -1.0, 0.0, 0.0]
    std = float(rewards.std())
    got = grpo.group_advantages(rewards, 2, scale="batch").tolist()
    assert got == pytest.approx([1 / (std + 1e-4), -1 / (std + 1e-4), 0.0, 0.0])


def test_group_advantages_refuse_ragged_groups() -> None:
    with pytest.raises(ValueError):
        grpo.group_advantages(torch.ones(5), group_size=2)


def test_completion_mask_stops_after_first_eos() -> None:
    ids = torch.tensor([[5, 6, 0, 7], [5, 0, 0, 0], [5, 6, 7, 8]])
    assert grpo.completion_mask(ids, eos_id=0).tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]


def test_clipping_and_kl_by_hand() -> None:
    logps = torch.tensor([[0.0, math.log(2.0)]])
    old = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    # Ratio 1 and 2; positive advantage clips the second token at 1.2.
    parts = grpo.grpo_loss(logps, old, torch.tensor([1.0]), mask, loss_type="bnpo")
    assert float(parts.loss) == pytest.approx(-(1.0 + 1.2) / 2)
    assert parts.clip_ratio == pytest.approx(0.5)
    # k3 KL with ref = logp is zero; with ref - logp = d it is exp(d) - d - 1.
    ref = logps + 0.5
    parts = grpo.grpo_loss(logps, None, torch.tensor([0.0]), mask, ref_logps=ref, beta=0.1)
    assert parts.kl == pytest.approx(math.exp(0.5) - 0.5 - 1)
    assert float(parts.loss) == pytest.approx(0.1 * (math.exp(0.5) - 1.5))


@pytest.mark.parametrize(("loss_type", "kl_correction"),
                         [("dapo", True), ("dapo", False), ("grpo", True), ("bnpo", True), ("dr_grpo", False)])
def test_loss_and_gradients_match_trl(tiny, tmp_path, loss_type: str, kl_correction: bool) -> None:
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    torch.manual_seed(0)
    ours, theirs = tiny.model, copy.deepcopy(tiny.model)
    ours.train()
    theirs.train()
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=6, beta=0.04, temperature=0.7, epsilon=0.2, epsilon_high=0.28,
        report_to="none", use_cpu=True, bf16=False, save_strategy="no", loss_type=loss_type,
        use_bias_correction_kl=kl_correction,
    )
    trainer = trl.GRPOTrainer(
        model=theirs, reward_funcs=[lambda completions, **_: [0.0] * len(completions)], args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": ["Traits: brave.\nDescription:"] * 4}),
        processing_class=tiny.tokenizer,
    )
    trainer.current_gradient_accumulation_steps = 1
    eos = tiny.tokenizer.eos_token_id
    gen = torch.Generator().manual_seed(1)
    prompt_ids = torch.randint(1, 400, (4, 5), generator=gen)
    prompt_mask = torch.ones(4, 5, dtype=torch.long)
    prompt_mask[0, :2] = 0  # left padding
    prompt_ids[0, :2] = eos
    completion_ids = torch.randint(1, 400, (4, 6), generator=gen)
    completion_ids[1, 3] = eos
    completion_ids[2, 0] = eos
    cmask = grpo.completion_mask(completion_ids, eos)
    advantages = torch.tensor([1.3, -0.4, 0.2, -1.1])
    with torch.no_grad():
        base = grpo.per_token_logps(ours, torch.cat([prompt_ids, completion_ids], 1),
                                    torch.cat([prompt_mask, cmask], 1), 6, temperature=0.7)
    # Old and reference log-probs away from the current ones, so clipping and KL both engage.
    old = base + 0.3 * torch.randn(base.shape, generator=gen)
    ref = base + 0.2 * torch.randn(base.shape, generator=gen)
    num_items = cmask.sum()
    inputs = {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
              "completion_mask": cmask, "advantages": advantages, "old_per_token_logps": old,
              "ref_per_token_logps": ref, "num_items_in_batch": num_items}
    their_loss = trainer._compute_loss(theirs, inputs)
    their_loss.backward()

    logps = grpo.per_token_logps(ours, torch.cat([prompt_ids, completion_ids], 1),
                                 torch.cat([prompt_mask, cmask], 1), 6, temperature=0.7)
    parts = grpo.grpo_loss(logps, old, advantages, cmask, ref_logps=ref, beta=0.04, epsilon_low=0.2,
                           epsilon_high=0.28, loss_type=loss_type, max_completion_length=6,
                           num_items=num_items, kl_correction=kl_correction)
    parts.loss.backward()
    assert parts.clip_ratio > 0
    assert float(parts.loss.detach()) == pytest.approx(float(their_loss.detach()), abs=1e-5)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-5), name
