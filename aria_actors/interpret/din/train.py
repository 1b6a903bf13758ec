"""Train a DIN on an interaction log: pre-built padded tensors, early stopping on valid GAUC.

::

    InteractionLog ─► build_samples ─► Samples ─► fit ─► (DIN, report)
                                                   │ per epoch: shuffled row batches (one positive
                                                   │ and its negatives per row), BCE + MBA-L2,
                                                   │ Adam; valid GAUC; on_epoch(report) -> stop?
                                                   ▼
                                       best-valid weights, valid/test metrics ─► TrainedDin

Guarantees and caveats
----------------------
- Deterministic for a config (seed, threads): samples come from a seeded numpy generator, batch
  order and initial weights from seeded torch generators. Different thread counts may differ
  in the last bits (float summation order).
- With ``resample_negatives`` (default off) training negatives are redrawn every epoch: epoch ``e``
  trains on ``Samples.train_for_epoch(e, seed)`` (epoch 1 on the built samples), the same rows
  and positives with fresh negatives from a ``[seed, e]``-seeded generator, as RecBole's
  per-epoch sampling does; valid/test candidates never change. The draw is inside the clock.
- ``DinConfig`` is bounded (finite numbers, field ranges, no unknown keys, the activation unit's
  largest tensor within ``MAX_ATTENTION_ELEMENTS``) and ``predict_block`` shrinks its chunks to
  ``EVAL_CHUNK_ELEMENTS``, so a config cannot make a job exhaust memory or loop for long; the
  data's size still sets the time per epoch.
- ``ValueError`` raised while building samples or training (the log's shape, not the config)
  surfaces as :class:`~aria_actors.interpret.errors.NotEnoughData`.
- Batches are index gathers into tensors built once; no per-sample Python in the loop. A batch
  holds ``batch_size // (1 + negatives)`` rows, i.e. about ``batch_size`` samples.
- Early stopping: stops after ``patience`` epochs without a better valid GAUC (or at ``epochs``)
  and keeps the best epoch's weights; test metrics are of those weights.
- ``on_epoch`` gets an :class:`EpochReport` after each epoch and returning ``True`` stops training
  (after that epoch; the best weights so far are kept).
- ``train_wall_s`` covers the epoch loop (training and per-epoch validation), not sample building
  (``samples_wall_s``).
- Sets ``torch.set_num_threads(config.threads)`` for the run and restores the previous value.
- torch is imported inside the functions (``import torch`` costs about 1.4 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aria_actors.interpret.din.data import Block, InteractionLog, Samples, Vocab, build_samples
from aria_actors.interpret.din.metrics import evaluate, gauc
from aria_actors.interpret.errors import NotEnoughData

if TYPE_CHECKING:
    from aria_actors.interpret.din.model import DIN


# Largest activation-unit tensor a training batch may build, in float32 elements (2**26: 256 MiB;
# autograd keeps a few of them). The per-field bounds alone would allow ~10**11.
MAX_ATTENTION_ELEMENTS = 1 << 26
# Same budget per scoring chunk in predict_block: a chunk shrinks to fit, so eval cannot blow up.
EVAL_CHUNK_ELEMENTS = 1 << 23

_Layers = Annotated[tuple[Annotated[int, Field(ge=1, le=1024)], ...], Field(min_length=1, max_length=4)]


class DinConfig(BaseModel):
    """Model, sampling and optimisation settings of one DIN training run.

    Bounded so a request cannot make a job exhaust memory or run forever: finite numbers only,
    no unknown keys, each field in a range, and the activation unit's largest tensor within
    :data:`MAX_ATTENTION_ELEMENTS`. Violations raise pydantic's ``ValidationError``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    item_dim: int = Field(16, ge=1, le=256)
    category_dim: int = Field(8, ge=1, le=256)
    attention: _Layers = (36,)  # the paper's activation unit: one hidden layer of 36
    mlp: _Layers = (200, 80)
    lr: float = Field(3e-3, gt=0, le=1.0)
    batch_size: int = Field(1024, ge=1, le=65536)
    epochs: int = Field(10, ge=1, le=200)
    patience: int = Field(2, ge=1, le=200)
    reg: float = Field(1e-2, ge=0, le=10.0)
    # dropout after each MLP layer in training (0: none, what every stored artifact was trained with)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    negatives: int = Field(4, ge=1, le=100)
    eval_negatives: int = Field(20, ge=1, le=1000)
    max_history: int = Field(50, ge=1, le=1000)
    min_user_interactions: int = Field(3, ge=3, le=10_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    threads: int = Field(1, ge=1, le=16)
    # redraw training negatives each epoch (Samples.train_for_epoch); off: on MovieLens-100k it did
    # not move aria's valid GAUC (0.9033 vs 0.9031) and lifted RecBole's more when fed the same draw
    resample_negatives: bool = False
    # where training runs: "cpu" (default, bit-for-bit reproducible for a seed), "cuda", or "auto"
    # (cuda when a GPU is visible); the trained model always comes back on the CPU
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    # training's matmuls in bfloat16 under CPU autocast ("bf16"; Dice and validation stay float32);
    # "fp32" (default) is what every stored artifact was trained with
    precision: Literal["fp32", "bf16"] = "fp32"

    @model_validator(mode="after")
    def _bounded_work(self) -> DinConfig:
        # [R, T, K, A] hidden layer and [R, K, D, A] folded weights: R * K is about the batch in
        # training and 1 + eval_negatives for the smallest scoring chunk (one row)
        width = max(self.max_history, self.item_dim + self.category_dim) * max(self.attention)
        for name, rows_x_cands in (("batch_size", max(self.batch_size, 1 + self.negatives)),
                                   ("1 + eval_negatives", 1 + self.eval_negatives)):
            elements = rows_x_cands * width
            if elements > MAX_ATTENTION_ELEMENTS:
                raise ValueError(
                    f"{name} x max(max_history, item_dim + category_dim) x max(attention) = {elements} exceeds "
                    f"{MAX_ATTENTION_ELEMENTS}; lower {name}, max_history or the attention width")
        return self


@dataclass
class EpochReport:
    epoch: int
    loss: float
    valid: dict[str, float]
    elapsed_s: float
    best_epoch: int


@dataclass
class TrainedDin:
    """A trained model with what scoring and serialisation need."""

    model: DIN
    config: DinConfig
    item_vocab: Vocab
    cat_vocab: Vocab
    item_category: np.ndarray
    popularity: np.ndarray  # training positives per item index
    metrics: dict[str, Any]  # {"valid": {...}, "test": {...}, "valid_cold": {...}, ...}
    train_wall_s: float
    epochs: int
    best_epoch: int
    cold_start: str  # "model" or "popularity": what scores an empty history (the better on valid)
    history: list[EpochReport] = field(default_factory=list)


def predict_block(model: DIN, block: Block, rows_per_batch: int = 128, empty_history: bool = False) -> np.ndarray:
    """Probabilities [R, K] for a block, in eval mode (running Dice statistics); at most
    ``rows_per_batch`` rows per forward, fewer when wide rows would exceed ``EVAL_CHUNK_ELEMENTS``."""
    # heavy: torch loads on first use, not when the service imports this package
    import torch

    was_training = model.training
    model.eval()
    width = max([model.attention.first.out_features, *(layer.out_features for layer in model.attention.rest)])
    per_row = block.cands.shape[1] * max(block.hist.shape[1], model.dim) * width
    rows_per_batch = max(1, min(rows_per_batch, EVAL_CHUNK_ELEMENTS // max(1, per_row)))
    device = next(model.parameters()).device
    hist = torch.from_numpy(block.hist).to(device)
    cands = torch.from_numpy(block.cands).to(device)
    out = np.empty(block.cands.shape, dtype=np.float32)
    with torch.inference_mode():
        for b in range(0, len(block), rows_per_batch):
            h = hist[b:b + rows_per_batch]
            # a new tensor for the empty history: h is a view of the block's numpy array, which
            # zero_() would change for every later caller of the same samples
            h = torch.zeros_like(h[:, :1]) if empty_history else h[:, : max(1, int((h != 0).sum(1).max()))]
            logits = model(h, cands[b:b + rows_per_batch])
            out[b:b + rows_per_batch] = torch.sigmoid(logits).cpu().numpy()
    model.train(was_training)
    return out


def block_metrics(block: Block, probs: np.ndarray) -> dict[str, float]:
    return evaluate(np.repeat(block.user, block.cands.shape[1]), block.labels.reshape(-1), probs.reshape(-1))


def _inverse_frequencies(samples: Samples, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """1 / (occurrences in training samples, as candidate or in a history), 1 for unseen rows."""
    train = samples.train
    item_n = np.bincount(train.cands.reshape(-1), minlength=samples.n_items).astype(np.float64)
    k = train.cands.shape[1]
    item_n += k * np.bincount(train.hist.reshape(-1), minlength=samples.n_items)
    cat_n = np.bincount(samples.item_category, weights=item_n, minlength=n_categories)
    return 1.0 / np.maximum(item_n, 1.0), 1.0 / np.maximum(cat_n, 1.0)


def train_device(choice: str) -> Any:
    """The torch device of ``choice`` (cpu, cuda, auto); cuda without a GPU is a ValueError."""
    # heavy: torch loads on first use
    import torch

    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is visible; use 'cpu' or 'auto'")
    return torch.device(choice)


class Trainer:
    """One DIN training run, epoch by epoch: :func:`fit` loops over it; an evaluate-only trial
    (aria_interpret's ``start_din_trial``) calls :meth:`epoch` once per request, so a pruner can
    stop it between epochs. Holds the model, the optimizer and the best-valid weights so far."""

    def __init__(self, samples: Samples, n_categories: int, config: DinConfig) -> None:
        # heavy: torch loads on first use, not when the service imports this package
        import torch

        from aria_actors.interpret.din.model import DIN

        self.samples, self.config = samples, config
        with _threads(config.threads):
            torch.manual_seed(config.seed)
            self.device = train_device(config.device)
            self.model = DIN(samples.n_items, n_categories, torch.from_numpy(samples.item_category),
                             config.item_dim, config.category_dim, config.attention, config.mlp,
                             config.dropout).to(self.device)
            self.inv_item, self.inv_cat = (torch.from_numpy(a).float().to(self.device)
                                           for a in _inverse_frequencies(samples, n_categories))
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
            self.gen = torch.Generator().manual_seed(config.seed)
            self.hist = torch.from_numpy(samples.train.hist).to(self.device)
            self.cands = torch.from_numpy(samples.train.cands).to(self.device)
            self.labels = torch.from_numpy(samples.train.labels).to(self.device)
            self.lengths = (self.hist != 0).sum(1)
        self.best: tuple[float, int, Any] = (-1.0, 0, None)  # (valid gauc, epoch, state)
        self.reports: list[EpochReport] = []
        self.epochs_run = 0
        self.wall_s = 0.0  # training and per-epoch validation, not sample building
        self.train_s = 0.0  # the batches alone (throughput: samples per second of training)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def epoch(self) -> EpochReport:
        """Train one more epoch and validate; the report (``best_epoch`` so far included)."""
        # heavy: torch loads on first use
        import torch

        config, model, device = self.config, self.model, self.device
        t0 = time.perf_counter()
        with _threads(config.threads):
            self.epochs_run += 1
            epoch = self.epochs_run
            model.train()
            cands = self.cands
            if config.resample_negatives:
                cands = torch.from_numpy(self.samples.train_for_epoch(epoch, config.seed).cands).to(device)
            rows, k = cands.shape
            per_batch = max(1, config.batch_size // k)
            perm = torch.randperm(rows, generator=self.gen)
            total = torch.zeros((), device=device)
            bce = torch.nn.functional.binary_cross_entropy_with_logits
            autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
            t_train = time.perf_counter()
            for b in range(0, rows, per_batch):
                idx = perm[b:b + per_batch].to(device)
                n = idx.shape[0]
                h = self.hist[idx]
                # histories are left-aligned: drop the all-padding tail of this batch
                h = h[:, : max(1, int(self.lengths[idx].max()))]
                c = cands[idx]
                with autocast:
                    loss = bce(model(h, c).float(), self.labels[idx])
                    if config.reg > 0:
                        loss = loss + config.reg * model.mba_l2(h, c, self.inv_item, self.inv_cat)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += loss.detach() * n
            self.train_s += time.perf_counter() - t_train
            valid = block_metrics(self.samples.valid, predict_block(model, self.samples.valid))
            if valid["gauc"] > self.best[0]:
                self.best = (valid["gauc"], epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        self.wall_s += time.perf_counter() - t0
        report = EpochReport(epoch, float(total) / rows, valid, self.wall_s, self.best[1])
        self.reports.append(report)
        return report

    def restore_best(self) -> None:
        """Load the best-valid weights into the model (eval mode)."""
        if self.best[2] is not None:
            self.model.load_state_dict(self.best[2])
        self.model.eval()


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the block, the previous value restored after."""
    # heavy: torch loads on first use
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit(samples: Samples, n_categories: int, config: DinConfig,
        on_epoch: Callable[[EpochReport], bool | None] | None = None) -> tuple[DIN, dict[str, Any]]:
    """Train a DIN on ``samples``; returns the best-valid model and a report (metrics, timings)."""
    trainer = Trainer(samples, n_categories, config)
    for _ in range(config.epochs):
        report = trainer.epoch()
        stop = on_epoch(report) if on_epoch is not None else False
        if stop or report.epoch - trainer.best[1] >= config.patience:
            break
    model = trainer.model
    with _threads(config.threads):
        trainer.restore_best()
        valid_p = predict_block(model, samples.valid)
        metrics: dict[str, Any] = {
            "valid": block_metrics(samples.valid, valid_p),
            "test": block_metrics(samples.test, predict_block(model, samples.test)),
            "valid_cold": block_metrics(samples.valid, predict_block(model, samples.valid, empty_history=True)),
        }
    model.to("cpu")  # artifacts and scorers are CPU models; the report says where it trained
    pop = samples.item_freq[samples.valid.cands].astype(np.float64)
    metrics["valid_popularity_gauc"] = gauc(np.repeat(samples.valid.user, samples.valid.cands.shape[1]),
                                            samples.valid.labels.reshape(-1), pop.reshape(-1))
    return model, {"metrics": metrics, "train_wall_s": trainer.wall_s, "epochs": trainer.epochs_run,
                   "best_epoch": trainer.best[1], "history": trainer.reports, "device": str(trainer.device)}


def train_din(log: InteractionLog, config: DinConfig | None = None,
              on_epoch: Callable[[EpochReport], bool | None] | None = None,
              samples: Samples | None = None) -> TrainedDin:
    """Split ``log``, sample, train with early stopping; ``samples`` reuses ones already built from
    this log (the bench feeds the same samples to the peer)."""
    config = config or DinConfig()
    t0 = time.perf_counter()
    try:
        if samples is None:
            samples = build_samples(log, config.max_history, config.negatives, config.eval_negatives, config.seed,
                                    config.min_user_interactions)
        samples_wall = time.perf_counter() - t0
        model, report = fit(samples, len(log.cat_vocab), config, on_epoch)
    except ValueError as exc:
        # The config is validated and the log's rows checked, so what is left is the log's shape
        # (e.g. metrics over candidates of a single class when users have seen every item).
        raise NotEnoughData(f"this interaction log cannot train a DIN: {exc}", users=log.n_users - 1,
                            items=log.n_items - 1) from exc
    metrics = report["metrics"]
    metrics["samples_wall_s"] = samples_wall
    metrics["device"] = report["device"]
    cold = "model" if metrics["valid_cold"]["gauc"] >= metrics["valid_popularity_gauc"] else "popularity"
    return TrainedDin(model, config, log.item_vocab, log.cat_vocab, samples.item_category, samples.item_freq,
                      metrics, report["train_wall_s"], report["epochs"], report["best_epoch"], cold,
                      report["history"])
