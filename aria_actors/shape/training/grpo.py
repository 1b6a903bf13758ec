"""GRPO's mathematics in plain torch: group-normalised advantages, per-token log-probabilities and
the clipped policy-gradient loss with an optional KL term to a reference model.

The formulas follow TRL's ``GRPOTrainer`` (1.16) so results can be compared number for number:

- advantage ``A_i = (r_i - mean(group)) / (std(group) + 1e-4)``, std unbiased (``scale="group"``);
  ``"batch"`` divides by the whole batch's std, ``"none"`` does not divide;
- ratio ``rho_t = exp(logp_t - old_logp_t)``; token loss ``-min(rho_t A, clip(rho_t, 1-eps_lo,
  1+eps_hi) A)``, plus ``beta * KL_t`` with the k3 estimator
  ``KL_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1``, multiplied by ``rho_t`` when
  ``kl_correction`` (TRL's ``use_bias_correction_kl``, on by default);
- aggregation by ``loss_type``: ``grpo`` (mean over each sequence's tokens, then over sequences),
  ``bnpo`` (over the batch's tokens), ``dr_grpo`` (divided by ``B * max_completion_length``),
  ``dapo`` (divided by ``num_items``, the active tokens of the whole global batch; TRL's default).

Guarantees and caveats
----------------------
- Pure functions of tensors; no module state. A unit test checks :func:`grpo_loss` against TRL's
  own ``_compute_loss`` on a fixed batch within 1e-5.
- ``dapo`` with ``num_items`` = global token count makes a sum of per-learner losses equal to the
  single-learner loss, which is what data-parallel training relies on (gradients are summed).
- Logits are divided by ``temperature`` before the softmax, as TRL does, so that the policy
  being optimised is the one that sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo"]
Scale = Literal["group", "batch", "none"]


def group_advantages(rewards: torch.Tensor, group_size: int, scale: Scale = "group",
                     eps: float = 1e-4) -> torch.Tensor:
    """Advantages of ``rewards`` (shape ``(B,)``, ``G = group_size`` consecutive per prompt)."""
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(dim=1).repeat_interleave(group_size)
    advantages = rewards - mean
    if scale == "none":
        return advantages
    if scale == "group":
        std = (grouped.std(dim=1) if group_size > 1 else torch.zeros(len(grouped))).repeat_interleave(
            group_size)
    else:
        std = rewards.std().expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
    return advantages / (std + eps)


def per_token_logps(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    logits_to_keep: int, temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities of the last ``logits_to_keep`` tokens of ``input_ids``: shape ``(B, T)``."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   logits_to_keep=logits_to_keep + 1).logits
    logits = logits[:, :-1, :] / temperature  # position t predicts token t+1
    targets = input_ids[:, -logits_to_keep:]
    logps = torch.log_softmax(logits.float(), dim=-1)
    return torch.gather(logps, 2, targets.unsqueeze(-1)).squeeze(-1)


@dataclass(frozen=True)
class LossParts:
    """The loss and what went into it, for metrics."""

    loss: torch.Tensor
    kl: float
    clip_ratio: float


def grpo_loss(logps: torch.Tensor, old_logps: torch.Tensor | None, advantages: torch.Tensor,
              mask: torch.Tensor, *, ref_logps: torch.Tensor | None = None, beta: float = 0.0,
              epsilon_low: float = 0.2, epsilon_high: float | None = None,
              loss_type: LossType = "dapo", max_completion_length: int | None = None,
              num_items: float | torch.Tensor | None = None,
              kl_correction: bool = True) -> LossParts:
    """The clipped GRPO loss over completion tokens (``mask`` 1 for real tokens)."""
    eps_hi = epsilon_low if epsilon_high is None else epsilon_high
    old = logps.detach() if old_logps is None else old_logps
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    mask = mask.to(logps.dtype)
    coef_1 = torch.exp(logps - old)
    coef_2 = torch.clamp(coef_1, 1 - epsilon_low, 1 + eps_hi)
    per_token = -torch.min(coef_1 * adv, coef_2 * adv)
    kl_mean = 0.0
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta != 0 needs ref_logps")
        per_token_kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        if kl_correction:  # importance-weight the KL by the sampling ratio (TRL's default)
            per_token_kl = per_token_kl * coef_1
        per_token = per_token + beta * per_token_kl
        kl_mean = float((per_token_kl.detach() * mask).sum() / mask.sum().clamp(min=1.0))
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "bnpo":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    elif loss_type == "dr_grpo":
        length = max_completion_length or logps.size(1)
        loss = (per_token * mask).sum() / (logps.size(0) * length)
    elif loss_type == "dapo":
        norm = mask.sum() if num_items is None else torch.as_tensor(num_items, dtype=logps.dtype)
        loss = (per_token * mask).sum() / norm.clamp(min=1.0)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}")
    clipped = ((coef_1 < 1 - epsilon_low) & (adv < 0)) | ((coef_1 > 1 + eps_hi) & (adv > 0))
    clip_ratio = float((clipped.to(mask.dtype) * mask).sum().detach() / mask.sum().clamp(min=1.0))
    return LossParts(loss, kl_mean, clip_ratio)


def completion_mask(completion_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1 up to and including each row's first EOS, 0 after it (TRL's convention)."""
    is_eos = completion_ids == eos_id
    first = torch.full((completion_ids.size(0),), completion_ids.size(1), dtype=torch.long)
    has = is_eos.any(dim=1)
    first[has] = is_eos.int().argmax(dim=1)[has]
    idx = torch.arange(completion_ids.size(1)).expand_as(completion_ids)
    return (idx <= first.unsqueeze(1)).int()
