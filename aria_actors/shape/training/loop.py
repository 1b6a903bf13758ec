"""GRPO as a Ray-native loop: rollout actors sample, learner actors train data-parallel.

::

    driver (RayGRPO.step)
      |  weights (ray.put once) ---------------------> RolloutActor x R  (set_weights)
      |  prompts split by actor ---------------------> RolloutActor.sample -> groups of G
      |  rewards + group advantages (+ hindsight groups), in the driver
      |  groups split by learner --------------------> LearnerActor x W  (train_step)
      |        each: loss on its groups / global token count, backward,
      |        all_reduce(SUM) of gradients over gloo (CPU) or nccl (GPU),
      |        non-finite check on the reduced gradients, clip, Adam step
      |  <-------------------- weights of learner 0 (identical on every rank)
      |  checkpoint every `checkpoint_every` steps: blobs of learner 0 -> sink
      |        (aria_storage: content-addressed, dedupe per checkpoint; or <dir>/step-NNNNNN)
      v
    non-finite loss: every learner raises before stepping; the driver stops, keeps the last good
    checkpoint and raises TrainingDiverged naming it and the reason.

Guarantees and caveats
----------------------
- Data-parallel is exact up to float reduction order: with the ``dapo`` loss every learner divides
  by the *global* token count and gradients are summed, so W learners compute the same update as
  one learner on the same global batch (an integration test compares the weights).
- Groups are never split between learners (advantages are per group).
- Actors ask for ``num_gpus`` only when the cluster has GPUs; otherwise they run on CPU.
- Checkpoints go to aria_storage through ``checkpoints=StorageCheckpoints(...)`` (the driver
  puts the blobs learner 0 packs; see :mod:`aria_actors.shape.training.checkpoints`) or to a local
  directory (``checkpoint_dir``). Actors load the base model and restored checkpoints from a path
  (a storage checkpoint is materialised on the driver's node), so on a multi-node cluster those
  paths must be on shared storage.
- Only the ``dapo`` loss is allowed with several learners: the other aggregations normalise per
  shard and would not sum to the single-learner loss.
"""

from __future__ import annotations

import copy
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch
import torch.distributed as dist

from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.errors import TrainingConfigError, TrainingDiverged
from aria_actors.shape.model import load_model
from aria_actors.shape.training.checkpoints import DirectoryCheckpoints, pack, read_assets, read_optimizer, read_state
from aria_actors.shape.training.policy import GRPOSettings, Rollout, check_finite, loss_on, rollout, score, trainable
from aria_actors.shape.training.rewards import RewardFn, trait_coverage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(model_path: str, num_threads: int) -> Any:
    return load_model(ShapeConfig(model_path=model_path, num_threads=num_threads))


class RolloutWorker:
    """Holds a copy of the policy and samples groups of completions with it."""

    def __init__(self, model_path: str, settings: GRPOSettings, num_threads: int = 1) -> None:
        self.loaded = _load(model_path, num_threads)
        self.settings = settings
        self.version = 0

    def set_weights(self, state: dict[str, Any], version: int) -> int:
        self.loaded.model.load_state_dict(state)
        self.version = version
        return version

    def sample(self, prompts: list[str], seed: int) -> Rollout:
        return rollout(self.loaded.model, self.loaded.tokenizer, prompts, self.settings, seed)


class Learner:
    """One rank of the data-parallel learner group."""

    def __init__(self, model_path: str, settings: GRPOSettings, rank: int, world: int,
                 master_port: int, num_threads: int = 1) -> None:
        self.loaded = _load(model_path, num_threads)
        self.settings, self.rank, self.world = settings, rank, world
        self.model = self.loaded.model
        self.ref_model = copy.deepcopy(self.model).eval() if settings.beta else None
        self.optimizer = torch.optim.Adam(trainable(self.model, settings), lr=settings.learning_rate)
        self.step_count = 0
        self.assets: bytes | None = None  # the assets blob of the checkpoint restored
        if world > 1:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{master_port}",
                                    rank=rank, world_size=world)

    def restore(self, checkpoint: str) -> int:
        """Load weights, optimizer state and step count of a checkpoint directory."""
        self.assets = read_assets(checkpoint)
        # Through from_pretrained, so sharded and tied checkpoints load the same way as at start.
        self.model.load_state_dict(_load(checkpoint, torch.get_num_threads()).model.state_dict())
        self.optimizer.load_state_dict(read_optimizer(checkpoint))
        self.step_count = int(read_state(checkpoint)["step"])
        return self.step_count

    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Weights and optimizer state (identical on every rank)."""
        return self.weights(), copy.deepcopy(self.optimizer.state_dict())

    def train_step(self, shard: Rollout, num_items: float, last_checkpoint: str | None) -> dict[str, Any]:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        parts = loss_on(self.model, self.loaded.tokenizer, shard, self.settings,
                        ref_model=self.ref_model, num_items=num_items)
        parts.loss.backward()
        if self.world > 1:
            for p in self.model.parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        # After the reduction every rank sees the same gradients, so all ranks stop together.
        check_finite(parts.loss, self.model, self.step_count, last_checkpoint)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.max_grad_norm)
        self.optimizer.step()
        self.step_count += 1
        return {"loss": float(parts.loss.detach()), "kl": parts.kl, "clip_ratio": parts.clip_ratio}

    def weights(self) -> dict[str, Any]:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def blobs(self, metrics: dict[str, Any]) -> dict[str, bytes]:
        """Checkpoint blobs of this rank (identical on every rank)."""
        return pack(self.model, self.loaded.tokenizer, self.optimizer,
                    {"step": self.step_count, "metrics": metrics,
                     "settings": self.settings.model_dump(mode="json")}, assets=self.assets)

    def shutdown(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def _resources() -> dict[str, float]:
    gpus = ray.cluster_resources().get("GPU", 0)
    return {"num_cpus": 0.5, "num_gpus": 1 if gpus else 0}


@dataclass
class StepResult:
    step: int
    reward: float
    loss: float
    kl: float
    checkpoint: str | None


class RayGRPO:
    """Drives rollout and learner actors through GRPO steps; checkpoints to a sink or a directory."""

    def __init__(self, model_path: str, settings: GRPOSettings, *, num_learners: int = 1,
                 num_rollout_workers: int = 1, checkpoint_dir: str | Path | None = None,
                 checkpoint_every: int = 1, reward_fn: RewardFn = trait_coverage,
                 resume_from: str | None = None, checkpoints: Any = None) -> None:
        if num_learners < 1 or num_rollout_workers < 1:
            raise TrainingConfigError("need at least one learner and one rollout worker",
                                      field="num_learners")
        if num_learners > 1 and settings.loss_type != "dapo":
            raise TrainingConfigError(
                f"loss_type {settings.loss_type!r} does not split exactly over learners; use 'dapo'",
                field="loss_type")
        self.settings, self.reward_fn = settings, reward_fn
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoints = checkpoints  # a sink of aria_actors.shape.training.checkpoints; wins over the dir
        self.dedupe: list[dict[str, Any]] = []
        self.checkpoint_every = checkpoint_every
        self.last_checkpoint: str | None = None
        self.step_count = 0
        res = _resources()
        port = _free_port()
        learner_cls = ray.remote(**res)(Learner)
        rollout_cls = ray.remote(**res)(RolloutWorker)
        self.learners = [learner_cls.remote(model_path, settings, r, num_learners, port)
                         for r in range(num_learners)]
        self.rollouts = [rollout_cls.remote(model_path, settings) for _ in range(num_rollout_workers)]
        if resume_from:
            self.restore(resume_from)

    def _sink(self) -> Any:
        if self.checkpoints is not None:
            return self.checkpoints
        return DirectoryCheckpoints(self.checkpoint_dir) if self.checkpoint_dir else None

    def latest_checkpoint(self) -> str | None:
        sink = self._sink()
        return sink.latest() if sink else None

    def restore(self, checkpoint: str) -> int:
        """Resume from a checkpoint (a ref of the sink, or a directory): every learner loads it,
        rollout actors get its weights."""
        sink = self._sink()
        local = str(sink.local(checkpoint)) if sink else checkpoint
        steps = ray.get([ln.restore.remote(local) for ln in self.learners])
        self.step_count = steps[0]
        self.last_checkpoint = checkpoint
        self.broadcast()
        return self.step_count

    def _split(self, items: list[Any], parts: int) -> list[list[Any]]:
        return [items[i::parts] for i in range(parts)]

    def rollout(self, prompts: list[str]) -> Rollout:
        """Sample and score one batch of groups with the current rollout weights."""
        seed = self.settings.seed * 100_003 + self.step_count
        chunks = [c for c in self._split(prompts, len(self.rollouts)) if c]
        parts = ray.get([w.sample.remote(c, seed + i) for i, (w, c) in
                         enumerate(zip(self.rollouts, chunks, strict=False))])
        width = max(p.completion_ids.size(1) for p in parts)
        ids, masks = [], []
        for p in parts:
            pad = width - p.completion_ids.size(1)
            ids.append(torch.nn.functional.pad(p.completion_ids, (0, pad), value=0))
            masks.append(torch.nn.functional.pad(p.completion_mask, (0, pad), value=0))
        merged = Rollout([x for p in parts for x in p.prompts], [x for p in parts for x in p.completions],
                         torch.cat(ids), torch.cat(masks))
        return score(merged, self.reward_fn, self.settings)

    def learn(self, batch: Rollout) -> dict[str, Any]:
        """Apply one data-parallel update on ``batch`` and broadcast the new weights."""
        g = self.settings.num_generations
        n_groups = len(batch.prompts) // g
        w = len(self.learners)
        num_items = float(batch.completion_mask.sum())
        shards = []
        for r in range(w):
            groups = list(range(r, n_groups, w))
            rows = [i for grp in groups for i in range(grp * g, grp * g + g)]
            shards.append(Rollout([batch.prompts[i] for i in rows], [batch.completions[i] for i in rows],
                                  batch.completion_ids[rows], batch.completion_mask[rows],
                                  batch.rewards[rows], batch.advantages[rows]))
        try:
            metrics = ray.get([ln.train_step.remote(s, num_items, self.last_checkpoint)
                               for ln, s in zip(self.learners, shards, strict=True)])
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if not isinstance(cause, TrainingDiverged):
                raise
            reason = cause.fields.get("reason")
            raise TrainingDiverged(
                f"training stopped at step {self.step_count}: {reason}; last good "
                f"checkpoint: {self.last_checkpoint or 'none'}",
                step=self.step_count, reason=reason, checkpoint=self.last_checkpoint,
            ) from None
        self.step_count += 1
        self.broadcast()
        return {"loss": sum(m["loss"] for m in metrics), "kl": metrics[0]["kl"]}

    def broadcast(self) -> None:
        ref = ray.put(ray.get(self.learners[0].weights.remote()))
        ray.get([r.set_weights.remote(ref, self.step_count) for r in self.rollouts])

    def step(self, prompts: list[str]) -> StepResult:
        """Rollout, learn, broadcast, and checkpoint when due."""
        batch = self.rollout(prompts)
        n = len(prompts) * self.settings.num_generations
        reward = float(batch.rewards[:n].mean())
        metrics = self.learn(batch)
        ckpt = None
        sink = self._sink()
        if sink is not None and self.step_count % self.checkpoint_every == 0:
            blobs = ray.get(self.learners[0].blobs.remote({"reward": reward, **metrics}))
            saved = sink.save(blobs, self.step_count)  # written, then published
            if saved.report:
                self.dedupe.append(saved.report)
            ckpt = self.last_checkpoint = saved.ref
        return StepResult(self.step_count, reward, metrics["loss"], metrics["kl"], ckpt)

    def weights(self) -> dict[str, Any]:
        return ray.get(self.learners[0].weights.remote())

    def shutdown(self) -> None:
        ray.get([ln.shutdown.remote() for ln in self.learners])
        for a in [*self.learners, *self.rollouts]:
            ray.kill(a)
