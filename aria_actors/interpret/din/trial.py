"""Evaluate-only DIN training for hyperparameter and architecture search: train on a subset of
the training split, report the validation metric epoch by epoch, store nothing.

::

    params {lr, reg, dropout, batch_size, item_dim, category_dim, attention_layers,
            attention_width, mlp_layers, mlp_width, threads, precision}   (flat: what a search samples)
        -> check_params: TRIAL_LIMITS, then DinConfig      (a ValueError naming params.<field>)
    trial_samples(full, rows, seed) -> Samples: ``rows`` training rows drawn once per seed,
        the whole valid block, no test block (a search never sees the test split)
    DinTrial(samples, config, epochs)
        .epoch()   one more epoch (Trainer.epoch) -> {epoch, loss, valid: {auc, gauc, logloss}}
        .result()  best-valid weights -> valid metrics, parameter count, scoring latency

Guarantees and caveats
----------------------
- Never the test split: the samples a trial gets hold an empty test block, so nothing here can
  read it; the value a study optimises is the validation GAUC.
- Bounded: TRIAL_LIMITS are tighter than DinConfig's (a batch of 1 would make an epoch thousands
  of steps), ``epochs`` is a budget the caller passes (bounded by the service's setting), and the
  subset is ``rows`` training rows, so an epoch's work is bounded by settings, not by a request.
- Fidelity: a subset trains a weaker model than the full split (see docs/interpret.md for the
  measured gap); rankings of configurations, not absolute values, carry over.
- Deterministic for (params, rows, seed): the subset and the weights come from seeded generators.
- torch loads on first use (``Trainer``), never at import.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from aria_actors.interpret.din.data import Block, Samples
from aria_actors.interpret.din.train import DinConfig, Trainer, predict_block

# name -> (kind, low, high): what a trial takes; tighter than DinConfig where its bound would let
# one trial run for minutes (batch_size 1, 1024-wide layers).
TRIAL_LIMITS: dict[str, tuple[str, float, float]] = {
    "lr": ("float", 1e-5, 1.0),
    "reg": ("float", 0.0, 1.0),
    "dropout": ("float", 0.0, 0.9),
    "batch_size": ("int", 64, 8192),
    "item_dim": ("int", 2, 128),
    "category_dim": ("int", 1, 64),
    "attention_layers": ("int", 1, 3),
    "attention_width": ("int", 4, 256),
    "mlp_layers": ("int", 1, 3),
    "mlp_width": ("int", 8, 512),
    # the training pipeline's settings (pipeline optimisation): torch threads of the run, and
    # precision (fp32, or bf16 matmuls under CPU autocast); PRECISIONS below
    "threads": ("int", 1, 8),
}
PRECISIONS = ("fp32", "bf16")
LATENCY_REPEATS = 25


class BadParam(ValueError):
    """A trial's input at fault: ``field`` names it (``params.lr``, ``epochs``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def layers(count: int, width: int, halving: bool) -> tuple[int, ...]:
    """``count`` layers of ``width`` (each half the previous one when ``halving``, at least 1)."""
    return tuple(max(1, width >> i) if halving else width for i in range(count))


def params_config(params: Any) -> dict[str, Any]:
    """The DinConfig fields of a trial's flat ``params``: what a search sampled, as the settings a
    full training takes. :class:`BadParam` naming ``params.<name>`` for an unknown name, a wrong
    type or a value out of TRIAL_LIMITS."""
    if not isinstance(params, Mapping):
        raise BadParam("params must be an object of hyperparameters", "params")
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name == "precision":
            if value not in PRECISIONS:
                raise BadParam(f"precision is one of {list(PRECISIONS)}", "params.precision")
            out[name] = value
            continue
        if name not in TRIAL_LIMITS:
            raise BadParam(f"unknown hyperparameter {name!r}; known: {sorted([*TRIAL_LIMITS, 'precision'])}",
                           f"params.{name}")
        kind, low, high = TRIAL_LIMITS[name]
        ok = (isinstance(value, int) if kind == "int" else isinstance(value, int | float)) \
            and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not low <= value <= high:
            raise BadParam(f"{name} must be {'an integer' if kind == 'int' else 'a number'} from {low:g} to "
                             f"{high:g}", f"params.{name}")
        out[name] = value
    config: dict[str, Any] = {k: out[k] for k in ("lr", "reg", "dropout", "batch_size", "item_dim",
                                                  "category_dim", "precision", "threads") if k in out}
    if "attention_layers" in out or "attention_width" in out:
        config["attention"] = list(layers(out.get("attention_layers", 1), out.get("attention_width", 36), False))
    if "mlp_layers" in out or "mlp_width" in out:
        config["mlp"] = list(layers(out.get("mlp_layers", 2), out.get("mlp_width", 200), True))
    return config


def check_params(params: Any, threads: int = 1, seed: int = 0) -> DinConfig:
    """The DinConfig of a trial's flat ``params`` (one epoch at a time; ``threads`` unless the
    params name theirs); :class:`BadParam` as :func:`params_config`, or for the joint bounds."""
    config = {"threads": threads, **params_config(params)}
    try:
        return DinConfig(**config, seed=seed, epochs=1, patience=1, device="cpu")
    except ValidationError as exc:  # the joint bound (attention elements): name the widest culprit
        raise BadParam(f"these hyperparameters do not fit DIN's bounds: {exc.errors()[0]['msg']}",
                         "params.batch_size") from None


def trial_samples(full: Samples, rows: int, seed: int) -> Samples:
    """``rows`` training rows of ``full`` (all when it has fewer), drawn by a ``seed``-ed generator,
    with the whole valid block and an empty test block."""
    train = full.train
    if rows < len(train):
        pick = np.sort(np.random.default_rng([seed, rows]).choice(len(train), size=rows, replace=False))
        train = Block(train.hist[pick], train.cands[pick], train.labels[pick], train.user[pick])
    empty = Block(full.test.hist[:0], full.test.cands[:0], full.test.labels[:0], full.test.user[:0])
    return Samples(train, full.valid, empty, full.n_items, full.item_category, full.item_freq, full.max_history,
                   full.train_only_users, full.n_users, full.seen)


@dataclass
class DinTrial:
    """One evaluate-only training run, advanced an epoch at a time by its caller."""

    trainer: Trainer
    epochs: int  # the budget: epoch() past it is refused

    @classmethod
    def start(cls, samples: Samples, n_categories: int, config: DinConfig, epochs: int) -> DinTrial:
        return cls(Trainer(samples, n_categories, config), epochs)

    @property
    def done(self) -> bool:
        return self.trainer.epochs_run >= self.epochs

    def epoch(self) -> dict[str, Any]:
        if self.done:
            raise BadParam(f"the trial has run its budget of {self.epochs} epochs", "epochs")
        report = self.trainer.epoch()
        return {"epoch": report.epoch, "loss": report.loss, "valid": report.valid,
                "elapsed_s": report.elapsed_s, "best_epoch": report.best_epoch, "done": self.done}

    def result(self) -> dict[str, Any]:
        """The best-valid weights' validation metrics, parameter count and scoring latency."""
        trainer = self.trainer
        trainer.restore_best()
        valid = trainer.samples.valid
        metrics = trainer.reports[trainer.best[1] - 1].valid if trainer.best[1] else None
        one = Block(valid.hist[:1], valid.cands[:1], valid.labels[:1], valid.user[:1])
        predict_block(trainer.model, one)  # warm-up: the first call pays allocations
        times = []
        for _ in range(LATENCY_REPEATS):
            t0 = time.perf_counter()
            predict_block(trainer.model, one)
            times.append(time.perf_counter() - t0)
        rows = len(trainer.samples.train) * trainer.epochs_run
        samples = rows * trainer.samples.train.cands.shape[1]
        return {"valid": metrics, "best_epoch": trainer.best[1], "epochs": trainer.epochs_run,
                "parameters": trainer.parameters, "latency_ms": 1000 * float(np.median(times)),
                "latency_candidates": int(one.cands.shape[1]), "train_rows": len(trainer.samples.train),
                "valid_rows": len(valid), "wall_s": trainer.wall_s,
                "train_s": trainer.train_s,
                "samples_per_s": samples / trainer.train_s if trainer.train_s > 0 else None,
                "config": trainer.config.model_dump(mode="json")}
