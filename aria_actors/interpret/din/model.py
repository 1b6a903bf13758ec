"""Deep Interest Network (Zhou et al., KDD 2018) in torch: Dice, the local activation unit, the MLP.

::

    history items h_1..h_T ──emb(item)‖emb(category)──► e_1..e_T ─┐
    candidate c ─────────────emb(item)‖emb(category)──► e_c ──────┤
                                                                   ▼
        activation unit: w_t = MLP_Dice([e_t, e_c, e_t - e_c, e_t * e_c])   (no softmax)
        interest      u  = sum_t w_t * e_t                        (padding masked out)
        logit            = MLP_Dice([u, e_c, u * e_c]) -> 1

The forward takes R history rows and K candidates per row (training: a positive and its
negatives; scoring: one request's candidates), so history-only work (embedding lookups) runs once
per row, not once per candidate. The first attention layer is one ``Linear(4D, A)`` as in the
paper; its weight is applied blockwise, ``[h, c, h-c, h*c] W = h(W1 + W3 + diag(c) W4) +
c(W2 - W3)``, the same function as one batched matmul per row, without building the 4D input.

Guarantees and caveats
----------------------
- Item index 0 is padding/unknown: its embedding is fixed at zero and history positions holding
  it get weight 0, in training and in eval, so padding never changes an output (Dice's batch
  statistics are taken over real positions only).
- Empty histories (cold users) work: the interest vector is zero, the candidate part remains.
- Dice keeps running mean/variance like batch norm; ``eval()`` uses them (so outputs do not
  depend on the batch), ``train()`` uses the batch's. The batch statistics are constants for the
  backward pass (no gradient through E[s] and Var[s], unlike batch norm): a fused backward for
  the model's largest tensor, at the price of that second-order term. The final MLP's Dice
  (small inputs) lets gradients flow through its batch statistics, as batch norm does.
- Categories come from the ``item_category`` buffer: callers pass item indices only.
- ``mba_l2`` is the paper's mini-batch aware regulariser: L2 over the embedding rows the batch
  uses, each scaled by 1 / (its training frequency).
- Imports torch at module level: import lazily.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


class _DiceFn(torch.autograd.Function):
    """Dice with the normalising statistics held constant in the backward pass: one fused
    forward/backward instead of autograd's chain of six elementwise ops over the largest tensor
    of the model (the activation unit's [R, T, K, A] hidden layer)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid((x - mean) * rstd)
        ctx.save_for_backward(x, p, alpha, rstd)
        return x * (alpha + (1.0 - alpha) * p)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, p, alpha, rstd = ctx.saved_tensors
        gx = galpha = None
        q = 1.0 - p
        if ctx.needs_input_grad[1]:
            gx_alpha = grad * x * q
            galpha = gx_alpha.reshape(-1, x.shape[-1]).sum(0)
        if ctx.needs_input_grad[0]:
            # d/dx [x (alpha + (1 - alpha) p)] = alpha + (1 - alpha) (p + x p (1 - p) rstd)
            t = x * p
            t.mul_(q).mul_(rstd).add_(p).mul_(1.0 - alpha).add_(alpha).mul_(grad)
            gx = t
        return gx, galpha, None, None


class Dice(nn.Module):
    """``p(s) * s + (1 - p(s)) * alpha * s`` with ``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))``."""

    def __init__(self, dim: int, eps: float = 1e-8, momentum: float = 0.1, stats_grad: bool = False) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(dim))
        self.eps = eps
        self.momentum = momentum
        self.stats_grad = stats_grad
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` [..., dim]; ``mask`` (bool, ``x.shape[:-1]``) selects the positions whose statistics
        count in training (padding excluded)."""
        if x.dtype != torch.float32 or torch.is_autocast_enabled(x.device.type):
            # bf16 from a Linear under autocast (precision "bf16"): Dice and its statistics in float32
            with torch.autocast(x.device.type, enabled=False):
                return self._forward(x.float(), mask)
        return self._forward(x, mask)

    def _forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        mean, var = self.running_mean, self.running_var
        if self.training and self.stats_grad and mask is None and x.numel() > x.shape[-1]:
            # batch-norm style: gradients flow through the batch statistics (cheap on MLP-sized inputs)
            var, mean = torch.var_mean(x.reshape(-1, x.shape[-1]), dim=0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
            p = torch.sigmoid((x - mean) * torch.rsqrt(var + self.eps))
            return x * (self.alpha + p * (1.0 - self.alpha))
        if self.training:
            with torch.no_grad():
                flat = x.reshape(-1, x.shape[-1])
                if mask is None:
                    weight = torch.ones(1, flat.shape[0], dtype=x.dtype, device=x.device)
                else:
                    weight = mask.reshape(1, -1).to(x.dtype)
                count = float(weight.sum())
                if count > 1:
                    # masked first and second moments as two matmuls (no boolean-index copy)
                    mean = (weight @ flat).squeeze(0) / count
                    var = ((weight @ (flat * flat)).squeeze(0) / count - mean * mean).clamp_min_(0.0)
                    self.running_mean.lerp_(mean, self.momentum)
                    self.running_var.lerp_(var, self.momentum)
        return _DiceFn.apply(x, self.alpha, mean, torch.rsqrt(var + self.eps))


class ActivationUnit(nn.Module):
    """DIN's local activation unit: a weight per (history item, candidate) pair."""

    def __init__(self, dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        sizes = [4 * dim, *hidden]
        self.first = nn.Linear(sizes[0], sizes[1])
        self.dice = nn.ModuleList([Dice(s) for s in sizes[1:]])
        self.rest = nn.ModuleList([nn.Linear(a, b) for a, b in itertools.pairwise(sizes[1:])])
        self.out = nn.Linear(sizes[-1], 1)
        self.dim = dim

    def forward(self, hist: torch.Tensor, mask: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        """hist [R, T, D], mask [R, T] (bool), cand [R, K, D] -> weights [R, K, T]."""
        r, t, d = hist.shape
        k = cand.shape[1]
        w = self.first.weight.T  # [4D, A]
        a = w.shape[1]
        w_h, w_c, w_d, w_p = w[:d], w[d:2 * d], w[2 * d:3 * d], w[3 * d:]
        # One matrix per candidate folds the history and product blocks: h (W_h + W_d + diag(c) W_p).
        per_cand = (w_h + w_d) + cand.unsqueeze(-1) * w_p  # [R, K, D, A]
        per_cand = per_cand.permute(0, 2, 1, 3).reshape(r, d, k * a)
        cand_part = (cand @ (w_c - w_d) + self.first.bias).reshape(r, 1, k * a)
        x = torch.baddbmm(cand_part, hist, per_cand).view(r, t, k, a)  # [R, T, K, A]
        stat_mask = mask.unsqueeze(-1).expand(r, t, k)
        x = self.dice[0](x, stat_mask)
        for layer, dice in zip(self.rest, self.dice[1:], strict=True):
            x = dice(layer(x), stat_mask)
        weight = self.out(x).squeeze(-1)  # [R, T, K]
        return weight.masked_fill(~stat_mask, 0.0).transpose(1, 2)


class DIN(nn.Module):
    """Item id + category embeddings, activation unit over the history, Dice MLP to a logit."""

    def __init__(self, n_items: int, n_categories: int, item_category: torch.Tensor, item_dim: int = 16,
                 category_dim: int = 8, attention: tuple[int, ...] = (36,),
                 mlp: tuple[int, ...] = (200, 80), dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = float(dropout)  # functional, after each MLP layer: no module, no state_dict key
        self.item_emb = nn.Embedding(n_items, item_dim, padding_idx=0)
        self.cat_emb = nn.Embedding(n_categories, category_dim, padding_idx=0)
        self.register_buffer("item_category", item_category.to(torch.long).clone())
        dim = item_dim + category_dim
        self.attention = ActivationUnit(dim, tuple(attention))
        sizes = [3 * dim, *mlp]
        self.mlp = nn.ModuleList([nn.Linear(a, b) for a, b in itertools.pairwise(sizes)])
        self.mlp_dice = nn.ModuleList([Dice(s, stats_grad=True) for s in sizes[1:]])
        self.head = nn.Linear(sizes[-1], 1)
        self.dim = dim
        nn.init.normal_(self.item_emb.weight, std=0.05)
        nn.init.normal_(self.cat_emb.weight, std=0.05)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
            self.cat_emb.weight[0].zero_()

    def embed(self, items: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.item_emb(items), self.cat_emb(self.item_category[items])], dim=-1)

    def forward(self, hist: torch.Tensor, cands: torch.Tensor) -> torch.Tensor:
        """hist [R, T] item indices (0 = padding), cands [R, K] candidates of each row -> logits [R, K]."""
        mask = hist != 0
        h = self.embed(hist)  # [R, T, D]
        c = self.embed(cands)  # [R, K, D]
        weights = self.attention(h, mask, c)  # [R, K, T]
        interest = torch.bmm(weights, h)  # [R, K, D]
        x = torch.cat([interest, c, interest * c], dim=-1)
        for layer, dice in zip(self.mlp, self.mlp_dice, strict=True):
            x = dice(layer(x))
            if self.dropout > 0 and self.training:  # p = 0 draws nothing: runs stay bit-identical
                x = nn.functional.dropout(x, self.dropout, training=True)
        return self.head(x).squeeze(-1)

    def mba_l2(self, hist: torch.Tensor, cands: torch.Tensor, inv_item_freq: torch.Tensor,
               inv_cat_freq: torch.Tensor) -> torch.Tensor:
        """Mini-batch aware L2: sum over embedding rows used in this batch of ||w_j||^2 / n_j."""
        items = torch.unique(torch.cat([hist.reshape(-1), cands.reshape(-1)]))
        cats = torch.unique(self.item_category[items])
        reg = (self.item_emb.weight[items].pow(2).sum(-1) * inv_item_freq[items]).sum()
        return reg + (self.cat_emb.weight[cats].pow(2).sum(-1) * inv_cat_freq[cats]).sum()
