"""aria_interpret's DIN against RecBole 1.2.1's DIN, in one run, on the same MovieLens-100k samples.

1. Quality and training time: one :func:`aria_actors.interpret.din.data.build_samples` (leave-last-
   out split per user, ``--negatives`` sampled negatives per training positive,
   ``--eval-negatives`` per valid/test positive, histories of up to ``--max-history`` items, one
   seed) feeds both sides. Aria trains :func:`aria_actors.interpret.din.train.fit`; the peer is
   RecBole's ``recbole.model.sequential_recommender.din.DIN`` built by RecBole (``Config``,
   ``create_dataset`` over atomic files of the same items and categories) and trained by RecBole's
   own ``Trainer._train_epoch`` (zero_grad, ``calculate_loss``, backward, Adam step) on batches of
   the same samples in the same shuffled order (``--resample-negatives``: training negatives
   redrawn each epoch from the same seeded generator, ``Samples.train_for_epoch``, the same rows on
   both sides). Both: same threads, same batch size and learning rate, at most ``--epochs`` epochs,
   early stopping after ``--patience`` epochs without a better valid GAUC, best-valid weights
   scored on test with the same metrics code. Training wall time covers the epoch loop (training
   and per-epoch validation) on both sides; building samples and the peer's dataset is outside it.
2. Popularity and logistic MF on the same test samples (context, no peer).
3. ``direct_latency(scorer)``: p50/p99 ms of scoring 100 candidates for one user (history 50)
   in-process, one torch thread: the peer side of the lead's serving bench.

Prints ``name: aria X, peer Y, ratio Z`` lines (goals: AUC and GAUC ratio >= 1.0, training wall
ratio <= 0.5) and what differs between the sides. Asserts nothing about time.
Run: ``.venv/bin/python bench/interpret_din.py [--epochs 8] [--max-history 50] [--negatives 4]
[--threads 1] [--peer-mlp 80,40] [--resample-negatives] [--only din,baselines,latency]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which torch imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np


def line(name: str, aria: float, peer: float, unit: str = "", higher_is_better: bool = True,
         goal: str | None = None) -> None:
    ratio = aria / peer if peer else float("nan")
    goal = goal or (">= 1.0" if higher_is_better else "<= 1.0")
    u = f" {unit}" if unit else ""
    print(f"{name}: aria {aria:.4f}{u}, peer {peer:.4f}{u}, ratio {ratio:.3f} (goal {goal})", flush=True)


@contextlib.contextmanager
def _chdir(path: str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _numpy2_shim() -> None:
    """RecBole 1.2.1's ``Config`` aliases names NumPy 2 removed (``np.float_`` ...); put them back
    in this process so it runs on the project's NumPy."""
    for old, new in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if old not in np.__dict__:
            setattr(np, old, new)


class RecBolePeer:
    """RecBole's DIN on aria's samples: RecBole builds the dataset, model and trainer."""

    def __init__(self, samples: Any, log: Any, args: argparse.Namespace, workdir: str) -> None:
        _numpy2_shim()
        from recbole.config import Config
        from recbole.data import create_dataset
        from recbole.model.sequential_recommender.din import DIN
        from recbole.trainer import Trainer
        from recbole.utils import init_seed

        data = Path(workdir) / "aria"
        data.mkdir(parents=True, exist_ok=True)
        # Every item index once in .item (its category) so RecBole's token space covers all items;
        # .inter holds the training positives (RecBole needs one; the samples are fed below).
        with (data / "aria.item").open("w") as f:
            f.write("item_id:token\tcategory:token\n")
            for j in range(1, samples.n_items):
                f.write(f"{j}\t{int(samples.item_category[j])}\n")
        with (data / "aria.inter").open("w") as f:
            f.write("user_id:token\titem_id:token\ttimestamp:float\n")
            for n, (u, j) in enumerate(zip(samples.train.user, samples.train.cands[:, 0], strict=True)):
                f.write(f"{u}\t{j}\t{n}\n")
        self.config = Config(model="DIN", dataset="aria", config_dict={
            "data_path": workdir, "checkpoint_dir": workdir, "device": "cpu", "use_gpu": False,
            "seed": args.seed, "reproducibility": True, "show_progress": False, "state": "ERROR",
            "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
            "LABEL_FIELD": "label", "load_col": {"inter": ["user_id", "item_id", "timestamp"],
                                                 "item": ["item_id", "category"]},
            "MAX_ITEM_LIST_LENGTH": samples.max_history, "embedding_size": args.peer_embedding,
            "mlp_hidden_size": args.peer_mlp, "dropout_prob": 0.0, "pooling_mode": "mean",
            "learning_rate": args.lr, "train_batch_size": args.batch_size, "epochs": args.epochs,
            "train_neg_sample_args": None, "weight_decay": 0.0, "clip_grad_norm": None,
            "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "labeled"},
            "metrics": ["AUC", "LogLoss"], "valid_metric": "AUC",
            "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        })
        logging.getLogger().setLevel(logging.ERROR)
        init_seed(args.seed, True)
        self.dataset = create_dataset(self.config)
        built = self.dataset.build()[0]  # what data_preparation hands the model: features as Interactions
        # RecBole's NaN fill is an in-place fillna on a column, a no-op under pandas' copy-on-write,
        # so the padding item's category is NaN cast to int64; it must be the padding token 0.
        for feat in (built.item_feat.interaction, built.get_user_feature().interaction):
            for value in feat.values():
                if not value.is_floating_point():
                    value[value < 0] = 0
        import torch

        self.model = DIN(self.config, built)
        self.trainer = Trainer(self.config, self.model)
        self.trainer.tensorboard.close()
        self.item_map = torch.from_numpy(self._map("item_id", samples.n_items))
        self.user_map = torch.from_numpy(self._map("user_id", int(samples.train.user.max()) + 1))
        self.torch = torch

    def _map(self, field: str, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        tokens = self.dataset.field2token_id[field]
        for j in range(1, n):
            out[j] = tokens.get(str(j), 0)
        return out

    def interactions(self, block: Any, rows: Any, with_label: bool = True) -> Any:
        """One RecBole ``Interaction`` per (row, candidate) of ``rows`` (histories repeated)."""
        from recbole.data.interaction import Interaction

        torch = self.torch
        k = block.cands.shape[1]
        hist = self.item_map[torch.from_numpy(block.hist)[rows]]
        data = {
            "user_id": self.user_map[torch.from_numpy(block.user)[rows]].repeat_interleave(k),
            "item_id_list": hist.repeat_interleave(k, 0),
            "item_length": (hist != 0).sum(1).repeat_interleave(k),
            "item_id": self.item_map[torch.from_numpy(block.cands)[rows].reshape(-1)],
        }
        if with_label:
            data["label"] = torch.from_numpy(block.labels)[rows].reshape(-1)
        return Interaction(data)

    def predict(self, block: Any, rows_per_batch: int = 256) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        out = []
        with torch.no_grad():
            for b in range(0, len(block), rows_per_batch):
                rows = torch.arange(b, min(b + rows_per_batch, len(block)))
                out.append(self.model.predict(self.interactions(block, rows, with_label=False)).numpy())
        return np.concatenate(out).reshape(block.cands.shape)


def train_peer(samples: Any, log: Any, args: argparse.Namespace) -> dict[str, Any]:
    """RecBole's DIN with the same samples, batches, threads and early stopping rule as aria's."""
    import torch

    from aria_actors.interpret.din.train import block_metrics

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir, _chdir(workdir):
        peer = RecBolePeer(samples, log, args, workdir)
        train = samples.train
        rows, k = train.cands.shape
        per_batch = max(1, args.batch_size // k)
        gen = torch.Generator().manual_seed(args.seed)
        # RecBole's DataLoader pre-collates too; build the flat per-sample tensors once, outside the timing.
        from recbole.data.interaction import Interaction

        flat = peer.interactions(train, torch.arange(rows)).interaction
        best = (-1.0, 0, None)
        wall = 0.0
        epoch = 0
        for epoch in range(1, args.epochs + 1):
            if args.resample_negatives and epoch > 1:
                # the same per-epoch negatives aria's fit draws (Samples.train_for_epoch), rebuilt
                # outside the clock (aria redraws inside its clock)
                block = samples.train_for_epoch(epoch, args.seed)
                flat = peer.interactions(block, torch.arange(rows)).interaction
            perm = torch.randperm(rows, generator=gen)
            order = (perm[:, None] * k + torch.arange(k)).reshape(-1)
            step = per_batch * k
            # the epoch's batches are collated before the clock starts (RecBole's DataLoader collates
            # in the loop, so this favours the peer slightly)
            loader = [Interaction({n: v[order[b:b + step]] for n, v in flat.items()})
                      for b in range(0, len(order), step)]
            start = time.perf_counter()
            peer.trainer._train_epoch(loader, epoch)
            valid = block_metrics(samples.valid, peer.predict(samples.valid))
            if valid["gauc"] > best[0]:
                best = (valid["gauc"], epoch, {n: v.detach().clone() for n, v in peer.model.state_dict().items()})
            wall += time.perf_counter() - start
            print(f"  peer epoch {epoch}: valid {valid}, {wall:.1f} s", flush=True)
            if epoch - best[1] >= args.patience:
                break
        peer.model.load_state_dict(best[2])
        return {"valid": block_metrics(samples.valid, peer.predict(samples.valid)),
                "test": block_metrics(samples.test, peer.predict(samples.test)),
                "train_wall_s": wall, "epochs": epoch, "best_epoch": best[1],
                "params": sum(p.numel() for p in peer.model.parameters())}


def direct_latency(scorer: Any, n: int = 100, history: int = 50, rounds: int = 300, seed: int = 0) -> dict[str, float]:
    """p50/p99 ms of ``scorer.score`` for one user: ``history`` known items, ``n`` candidates, in-process."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    items = list(scorer.items.tokens[1:])
    pick = rng.choice(len(items), size=history + n, replace=len(items) < history + n)
    hist = [items[i] for i in pick[:history]]
    cands = [items[i] for i in pick[history:]]
    for _ in range(20):
        scorer.score(hist, cands)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        scorer.score(hist, cands)
        times.append(time.perf_counter() - t)
    ms = np.asarray(times) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": n,
            "history": history}


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--eval-negatives", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=3e-3, help="both sides (RecBole's default is 1e-3)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-mlp", type=lambda s: [int(x) for x in s.split(",")], default=[80, 40],
                        help="RecBole's mlp_hidden_size (its attention and DNN share it); its default is 256,256,256")
    parser.add_argument("--peer-embedding", type=int, default=12, help="per field; item + category = 24 dims")
    parser.add_argument("--resample-negatives", action="store_true",
                        help="both sides: training negatives redrawn per epoch, the same draw (default: fixed)")
    parser.add_argument("--only", default="din,baselines,latency")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))

    import torch

    from aria_actors.interpret.din.artifact import DinScorer
    from aria_actors.interpret.din.baselines import popularity, train_mf
    from aria_actors.interpret.din.data import build_samples, load_movielens
    from aria_actors.interpret.din.train import DinConfig, train_din

    torch.set_num_threads(args.threads)
    log = load_movielens()
    config = DinConfig(epochs=args.epochs, patience=args.patience, max_history=args.max_history,
                       negatives=args.negatives, eval_negatives=args.eval_negatives, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, threads=args.threads,
                       resample_negatives=args.resample_negatives)
    t = time.perf_counter()
    samples = build_samples(log, config.max_history, config.negatives, config.eval_negatives, config.seed)
    print(f"samples: {len(samples.train)} train rows x {samples.train.cands.shape[1]} candidates, "
          f"{len(samples.valid)} valid and {len(samples.test)} test users x {samples.test.cands.shape[1]}, "
          f"{time.perf_counter() - t:.2f} s", flush=True)
    result: dict[str, Any] = {}
    trained = None
    if "din" in only or "latency" in only:
        trained = train_din(log, config, samples=samples, on_epoch=lambda r: print(
            f"  aria epoch {r.epoch}: valid {r.valid}, {r.elapsed_s:.1f} s", flush=True))
        result["aria"] = {**trained.metrics, "train_wall_s": trained.train_wall_s, "epochs": trained.epochs}
    if "din" in only and trained is not None:
        peer = train_peer(samples, log, args)
        result["peer"] = peer
        aria_m = trained.metrics
        line("din_test_auc", aria_m["test"]["auc"], peer["test"]["auc"])
        line("din_test_gauc", aria_m["test"]["gauc"], peer["test"]["gauc"])
        line("din_test_logloss", aria_m["test"]["logloss"], peer["test"]["logloss"], higher_is_better=False,
             goal="lower is better")
        line("din_train_wall_s", trained.train_wall_s, peer["train_wall_s"], "s", goal="<= 0.5")
        n_params = sum(p.numel() for p in trained.model.parameters())
        print(f"  differs: epochs run aria {trained.epochs} (best {trained.best_epoch}), peer {peer['epochs']} "
              f"(best {peer['best_epoch']}); params aria {n_params}, peer {peer['params']}; aria: item 16 + "
              f"category 8 dims, activation unit [36] with Dice (paper), MLP 200-80 with Dice, mini-batch aware "
              f"L2 {config.reg}; peer: {args.peer_embedding} dims per field, attention and MLP {args.peer_mlp} "
              f"(sigmoid attention, Dice MLP with batch norm), no regularisation. Same: samples "
              f"({'redrawn per epoch, same draw' if args.resample_negatives else 'fixed'} training negatives), "
              f"batch size "
              f"{args.batch_size}, Adam lr {args.lr}, threads {args.threads}, epochs <= {args.epochs}, early stop "
              f"patience {args.patience} on valid GAUC, best-valid weights", flush=True)
    if "baselines" in only:
        pop = popularity(samples)
        mf = train_mf(samples, log.n_users, seed=args.seed, threads=args.threads)
        result["popularity"], result["mf"] = pop, mf
        print(f"popularity_test: auc {pop['test']['auc']:.4f}, gauc {pop['test']['gauc']:.4f} (no peer)")
        print(f"mf_test: auc {mf['test']['auc']:.4f}, gauc {mf['test']['gauc']:.4f}, "
              f"train {mf['train_wall_s']:.1f} s, {mf['epochs']} epochs (logistic MF, dim 32; no peer)", flush=True)
    if "latency" in only and trained is not None:
        lat = direct_latency(DinScorer.from_trained(trained))
        result["latency"] = lat
        print(f"din_direct_latency: p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms "
              f"(100 candidates, history 50, one thread; no peer)", flush=True)
    return result


if __name__ == "__main__":
    run(sys.argv[1:])
