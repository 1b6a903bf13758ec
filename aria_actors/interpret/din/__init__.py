"""Deep Interest Network (DIN) core of aria_interpret: data, model, training, artifacts, scoring.

::

    data.py      InteractionLog (rows or MovieLens-100k) -> leave-last-out split -> Samples
    model.py     DIN: embeddings, Dice, local activation unit, MLP (torch)
    train.py     DinConfig, train_din(log, config) -> TrainedDin (early stopping on valid GAUC)
    metrics.py   auc, gauc, logloss (numpy)
    baselines.py popularity and logistic MF on the same samples
    artifact.py  to_bytes / load -> DinScorer.score / score_batch

Guarantees and caveats
----------------------
- Importing this package imports numpy and pydantic, not torch: torch-backed names
  (``DIN``, ``DinScorer``, ``to_bytes``, ``load``, ``train_mf``) resolve lazily on first use.
- Ray-free: nothing here starts a server or touches Ray.
"""

from __future__ import annotations

from typing import Any

from aria_actors.interpret.din.data import InteractionLog, Samples, Vocab, build_samples, load_movielens, split_log
from aria_actors.interpret.din.metrics import auc, evaluate, gauc, logloss
from aria_actors.interpret.din.train import DinConfig, EpochReport, TrainedDin, train_din

_LAZY = {
    "DIN": "aria_actors.interpret.din.model",
    "Dice": "aria_actors.interpret.din.model",
    "DinScorer": "aria_actors.interpret.din.artifact",
    "to_bytes": "aria_actors.interpret.din.artifact",
    "load": "aria_actors.interpret.din.artifact",
    "popularity": "aria_actors.interpret.din.baselines",
    "train_mf": "aria_actors.interpret.din.baselines",
}

__all__ = [
    "DIN", "Dice", "DinConfig", "DinScorer", "EpochReport", "InteractionLog", "Samples", "TrainedDin", "Vocab",
    "auc", "build_samples", "evaluate", "gauc", "load", "load_movielens", "logloss", "popularity", "split_log",
    "to_bytes", "train_din", "train_mf",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        # heavy: torch loads on first use, not when the service imports this package
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
