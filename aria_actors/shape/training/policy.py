"""One GRPO iteration on one process: sample groups, score, relabel, compute the loss, step.

This is the loop body the Ray actors of :mod:`aria_actors.shape.training.loop` run, and the whole loop
for a single-process run (:class:`GRPORunner`). Ray-free.

::

    prompts --rollout()--> G completions each --score()--> rewards --group_advantages--> A
       ^                                          | relabel: hindsight groups appended
       |                                          v
    new weights <--optimizer.step-- backward <-- grpo_loss(logps, A, ref) --non-finite--> TrainingDiverged

Guarantees and caveats
----------------------
- Deterministic for a seed on CPU: sampling uses a ``torch.Generator`` seeded per step.
- A non-finite loss or gradient stops the step *before* the optimizer touches the weights and
  raises :class:`TrainingDiverged`, so the weights in memory are still the last good ones.
- One optimisation step per rollout (TRL's ``num_iterations=1``): old log-probs equal the current
  ones, the ratio is 1 and clipping only matters when iterations are added.
- Hindsight groups reuse the sampled completions under a relabelled prompt; they are off-policy
  for that prompt, which the ratio does not correct (same as hindsight relabelling elsewhere).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.shape.errors import TrainingDiverged
from aria_actors.shape.model import sample_ids
from aria_actors.shape.training import grpo
from aria_actors.shape.training.checkpoints import pack, read_assets, read_optimizer, read_state, write_dir
from aria_actors.shape.training.rewards import RewardFn, relabel_group, trait_coverage


class GRPOSettings(BaseModel):
    """Knobs of a GRPO run (TRL's names where they exist)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    num_generations: int = Field(8, ge=2, description="Completions per prompt (the group size G).")
    max_completion_length: int = Field(8, ge=1, le=1024, description="New tokens per completion.")
    learning_rate: float = Field(3e-3, gt=0, description="Adam learning rate.")
    beta: float = Field(0.0, ge=0, description="KL coefficient to the reference model; 0 loads none.")
    epsilon: float = Field(0.2, gt=0, lt=1, description="Lower clipping range.")
    epsilon_high: float | None = Field(None, gt=0, description="Upper clipping range; default epsilon.")
    loss_type: Literal["grpo", "bnpo", "dr_grpo", "dapo"] = Field("dapo", description="Aggregation.")
    scale_rewards: Literal["group", "batch", "none"] = Field("group", description="Advantage scaling.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    relabel: bool = Field(False, description="Append hindsight-relabelled groups (goal relabelling).")
    seed: int = Field(0, ge=0, description="Seed of sampling.")
    freeze: tuple[str, ...] = Field((), description="Parameter name prefixes left untrained (e.g. "
                                    "'model.embed_tokens', 'model.layers.0.'); their bytes stay "
                                    "identical across checkpoints.")


def trainable(model: Any, settings: GRPOSettings) -> list[Any]:
    """Parameters to train: every one not under a ``freeze`` prefix (the others stop needing grads)."""
    params = []
    for name, p in model.named_parameters():
        if settings.freeze and name.startswith(settings.freeze):
            p.requires_grad_(False)
        else:
            params.append(p)
    return params


@dataclass
class Rollout:
    """A batch of groups: ``prompts[i]`` produced ``completion_ids[i]`` (G consecutive rows each)."""

    prompts: list[str]
    completions: list[str]
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    rewards: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    advantages: torch.Tensor = field(default_factory=lambda: torch.zeros(0))


@torch.no_grad()
def rollout(model: Any, tokenizer: Any, prompts: list[str], settings: GRPOSettings,
            seed: int) -> Rollout:
    """Sample ``G`` completions of each prompt (prompts repeated consecutively)."""
    g = settings.num_generations
    batch_prompts = [p for p in prompts for _ in range(g)]
    enc = tokenizer(batch_prompts, return_tensors="pt", padding=True).to(model.device)
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    ids = sample_ids(model, enc["input_ids"], enc["attention_mask"],
                     max_new_tokens=settings.max_completion_length, eos_id=tokenizer.eos_token_id,
                     temperature=settings.temperature).cpu()
    model.train(was_training)
    if ids.size(1) < settings.max_completion_length:  # generate stops early when every row ended
        pad = torch.full((ids.size(0), settings.max_completion_length - ids.size(1)),
                         tokenizer.eos_token_id, dtype=ids.dtype)
        ids = torch.cat([ids, pad], dim=1)
    mask = grpo.completion_mask(ids, tokenizer.eos_token_id)
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    return Rollout(batch_prompts, texts, ids, mask)


def score(ro: Rollout, reward_fn: RewardFn, settings: GRPOSettings) -> Rollout:
    """Rewards and advantages; with ``relabel``, hindsight groups are appended."""
    g = settings.num_generations
    prompts, completions = list(ro.prompts), list(ro.completions)
    ids, mask = ro.completion_ids, ro.completion_mask
    if settings.relabel:
        extra = []
        for start in range(0, len(ro.prompts), g):
            new = relabel_group(ro.prompts[start], ro.completions[start:start + g])
            if new is not None:
                extra.append(start)
                prompts += [new] * g
                completions += ro.completions[start:start + g]
        if extra:
            rows = torch.cat([torch.arange(s, s + g) for s in extra])
            ids = torch.cat([ids, ro.completion_ids[rows]])
            mask = torch.cat([mask, ro.completion_mask[rows]])
    rewards = torch.tensor(reward_fn(prompts, completions), dtype=torch.float32)
    advantages = grpo.group_advantages(rewards, g, settings.scale_rewards)
    return Rollout(prompts, completions, ids, mask, rewards, advantages)


def inputs_for(tokenizer: Any, ro: Rollout, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt+completion ids and attention mask (prompts left-padded)."""
    enc = tokenizer(ro.prompts, return_tensors="pt", padding=True)
    ids = torch.cat([enc["input_ids"], ro.completion_ids], dim=1).to(device)
    attn = torch.cat([enc["attention_mask"], ro.completion_mask], dim=1).to(device)
    return ids, attn


def loss_on(model: Any, tokenizer: Any, ro: Rollout, settings: GRPOSettings, *,
            ref_model: Any = None, num_items: float | None = None) -> grpo.LossParts:
    """The GRPO loss of ``ro`` under ``model`` (gradients attached)."""
    ids, attn = inputs_for(tokenizer, ro, model.device)
    t = ro.completion_ids.size(1)
    logps = grpo.per_token_logps(model, ids, attn, t, settings.temperature)
    ref = None
    if settings.beta and ref_model is not None:
        with torch.no_grad():
            ref = grpo.per_token_logps(ref_model, ids, attn, t, settings.temperature)
    return grpo.grpo_loss(
        logps, None, ro.advantages.to(logps.device), ro.completion_mask.to(logps.device),
        ref_logps=ref, beta=settings.beta if ref is not None else 0.0, epsilon_low=settings.epsilon,
        epsilon_high=settings.epsilon_high, loss_type=settings.loss_type,
        max_completion_length=settings.max_completion_length, num_items=num_items,
    )


def check_finite(loss: torch.Tensor, model: Any, step: int, checkpoint: str | None) -> None:
    """Raise :class:`TrainingDiverged` when the loss or any gradient is not finite."""
    bad = None
    if not torch.isfinite(loss).all():
        bad = f"loss is {float(loss.detach())}"
    else:
        for name, p in model.named_parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                bad = f"gradient of {name} is not finite"
                break
    if bad:
        raise TrainingDiverged(
            f"training stopped at step {step}: {bad}; last good checkpoint: {checkpoint or 'none'}",
            step=step, reason=bad, checkpoint=checkpoint,
        )


@torch.no_grad()
def mean_reward(model: Any, tokenizer: Any, prompts: list[str], settings: GRPOSettings,
                reward_fn: RewardFn = trait_coverage, seed: int = 1234) -> float:
    """Mean reward of ``G`` sampled completions per prompt, with a fixed sampling seed."""
    ro = rollout(model, tokenizer, prompts, settings, seed)
    vals = reward_fn(ro.prompts, ro.completions)
    return sum(vals) / len(vals)


class GRPORunner:
    """A single-process GRPO run: the policy, its optimizer and an optional frozen reference."""

    def __init__(self, model: Any, tokenizer: Any, settings: GRPOSettings,
                 reward_fn: RewardFn = trait_coverage) -> None:
        self.model, self.tokenizer, self.settings, self.reward_fn = model, tokenizer, settings, reward_fn
        self.ref_model = copy.deepcopy(model).eval() if settings.beta else None
        self.optimizer = torch.optim.Adam(trainable(model, settings), lr=settings.learning_rate)
        self.step_count = 0
        self.last_checkpoint: str | None = None
        self.assets: bytes | None = None  # the assets blob of the checkpoint resumed from

    def step(self, prompts: list[str]) -> dict[str, float]:
        """One GRPO step on ``prompts``; returns metrics."""
        ro = score(rollout(self.model, self.tokenizer, prompts, self.settings,
                           self.settings.seed * 100_003 + self.step_count), self.reward_fn, self.settings)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        parts = loss_on(self.model, self.tokenizer, ro, self.settings, ref_model=self.ref_model)
        parts.loss.backward()
        check_finite(parts.loss, self.model, self.step_count, self.last_checkpoint)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.max_grad_norm)
        self.optimizer.step()
        self.step_count += 1
        n = len(prompts) * self.settings.num_generations
        return {"step": self.step_count, "loss": float(parts.loss.detach()),
                "reward": float(ro.rewards[:n].mean()), "kl": parts.kl,
                "groups": len(ro.prompts) / self.settings.num_generations}

    def blobs(self, metrics: dict[str, Any] | None = None) -> dict[str, bytes]:
        """This run's state as checkpoint blobs (:func:`aria_actors.shape.training.checkpoints.pack`)."""
        return pack(self.model, self.tokenizer, self.optimizer,
                    {"step": self.step_count, "metrics": metrics or {},
                     "settings": self.settings.model_dump(mode="json")}, assets=self.assets)

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> str:
        """A resumable checkpoint directory (HF model directory + optimizer + step), atomic."""
        self.last_checkpoint = str(write_dir(self.blobs(metrics), path))
        return self.last_checkpoint

    def restore(self, path: str | Path, ref: str | None = None) -> int:
        """Continue from a checkpoint directory (the model was loaded from it); ``ref`` names it
        in later errors (default the path)."""
        self.optimizer.load_state_dict(read_optimizer(path))
        self.assets = read_assets(path)
        self.step_count = int(read_state(path)["step"])
        self.last_checkpoint = ref or str(path)
        return self.step_count
