"""Baselines for DIN on the same samples: item popularity and logistic matrix factorisation.

::

    popularity:  score(u, i) = training positives of i
    logistic MF: score(u, i) = sigmoid(<p_u, q_i> + b_u + b_i), BCE on the training block's
                 positives and negatives, Adam, early stopping on valid GAUC

Guarantees and caveats
----------------------
- Both are scored on the same valid/test blocks as DIN (same candidates, same users), so their
  AUC/GAUC are directly comparable.
- MF is deterministic for a seed; it uses user ids, which DIN does not (DIN sees only the
  behaviour history), so MF cannot score users it was not trained on.
- torch is imported inside :func:`train_mf`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aria_actors.interpret.din.data import Block, Samples
from aria_actors.interpret.din.metrics import evaluate


def _metrics(block: Block, scores: np.ndarray) -> dict[str, float]:
    return evaluate(np.repeat(block.user, block.cands.shape[1]), block.labels.reshape(-1), scores.reshape(-1))


def popularity(samples: Samples) -> dict[str, Any]:
    """Metrics of ranking by training popularity (log loss of the share of the top item's count)."""
    prior = samples.item_freq / max(1, samples.item_freq.max())
    return {"valid": _metrics(samples.valid, prior[samples.valid.cands]),
            "test": _metrics(samples.test, prior[samples.test.cands])}


def train_mf(samples: Samples, n_users: int, dim: int = 32, lr: float = 5e-3, batch_size: int = 4096,
             epochs: int = 20, patience: int = 2, weight_decay: float = 1e-5, seed: int = 0,
             threads: int = 1) -> dict[str, Any]:
    """Logistic MF on the training block; metrics of the best-valid epoch."""
    # heavy: torch loads on first use, not when the service imports this package
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        n_items = samples.n_items
        user = torch.nn.Embedding(n_users, dim)
        item = torch.nn.Embedding(n_items, dim)
        ub = torch.nn.Embedding(n_users, 1)
        ib = torch.nn.Embedding(n_items, 1)
        for e in (user, item):
            torch.nn.init.normal_(e.weight, std=0.05)
        for e in (ub, ib):
            torch.nn.init.zeros_(e.weight)
        params = [*user.parameters(), *item.parameters(), *ub.parameters(), *ib.parameters()]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        k = samples.train.cands.shape[1]
        u_all = torch.from_numpy(np.repeat(samples.train.user, k))
        i_all = torch.from_numpy(samples.train.cands.reshape(-1))
        y_all = torch.from_numpy(samples.train.labels.reshape(-1))

        def logits(u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
            return (user(u) * item(i)).sum(-1) + ub(u).squeeze(-1) + ib(i).squeeze(-1)

        def predict(block: Block) -> np.ndarray:
            with torch.no_grad():
                u = torch.from_numpy(np.repeat(block.user, block.cands.shape[1]))
                return torch.sigmoid(logits(u, torch.from_numpy(block.cands.reshape(-1)))).numpy()

        best: tuple[float, int, list[torch.Tensor] | None] = (-1.0, 0, None)
        start = time.perf_counter()
        epoch = 0
        for epoch in range(1, epochs + 1):
            perm = torch.randperm(len(y_all), generator=gen)
            for b in range(0, len(perm), batch_size):
                idx = perm[b:b + batch_size]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(u_all[idx], i_all[idx]), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            valid = _metrics(samples.valid, predict(samples.valid))
            if valid["gauc"] > best[0]:
                best = (valid["gauc"], epoch, [p.detach().clone() for p in params])
            if epoch - best[1] >= patience:
                break
        wall = time.perf_counter() - start
        if best[2] is not None:
            with torch.no_grad():
                for p, saved in zip(params, best[2], strict=True):
                    p.copy_(saved)
        return {"valid": _metrics(samples.valid, predict(samples.valid)),
                "test": _metrics(samples.test, predict(samples.test)),
                "train_wall_s": wall, "epochs": epoch, "best_epoch": best[1]}
    finally:
        torch.set_num_threads(previous)
