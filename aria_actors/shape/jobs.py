"""GRPO training as a resumable long job, and its aria_queue worker ``aria_shape.train``.

::

    enqueue(aria_shape.train, {model_path, checkpoint_dir, steps, ...})
        -> attempt 1: steps 1..k, checkpoint every `checkpoint_every` steps -- crash --
        -> attempt 2: finds the newest complete checkpoint, resumes there, runs to `steps`
        -> result: {steps, resumed_from, final_checkpoint, rewards}

Guarantees and caveats
----------------------
- Resuming is exact on CPU: the checkpoint holds weights, optimizer state and step count, and
  the sampling seed of each step depends only on the step number, so an interrupted and resumed
  run ends with the same weights as an uninterrupted one (a unit test compares them).
- A checkpoint counts only once its ``trainer_state.json`` is written (written last), so a crash
  in the middle of saving leaves the previous checkpoint as the resume point.
- A non-finite loss raises :class:`TrainingDiverged` (the queue records the failed attempt);
  the last good checkpoint stays and a retry resumes from it, so lower the learning rate in
  the job's args before retrying.
- The worker runs a single-process run in the queue's worker process (one torch thread);
  the Ray data-parallel loop is :mod:`aria_actors.shape.training`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aria_actors.queue.registry import worker
from aria_actors.shape.rewards import RewardFn, trait_coverage


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``checkpoint_dir``, if any."""
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    done = [p for p in root.glob("step-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: json.loads((p / "trainer_state.json").read_text())["step"], default=None)


def run_training(model_path: str, checkpoint_dir: str, *, steps: int, prompts_per_step: int = 4,
                 checkpoint_every: int = 5, settings: dict[str, Any] | None = None,
                 num_threads: int = 1, reward_fn: RewardFn = trait_coverage) -> dict[str, Any]:
    """Train to ``steps`` total GRPO steps, resuming from the newest checkpoint when there is one."""
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.corpus import prompts
    from aria_actors.shape.model import load_model
    from aria_actors.shape.policy import GRPORunner, GRPOSettings

    cfg = GRPOSettings(**(settings or {}))
    resume = latest_checkpoint(checkpoint_dir)
    loaded = load_model(ShapeConfig(model_path=str(resume or model_path), num_threads=num_threads))
    runner = GRPORunner(loaded.model, loaded.tokenizer, cfg, reward_fn=reward_fn)
    if resume is not None:
        runner.restore(resume)
    rewards: list[float] = []
    while runner.step_count < steps:
        metrics = runner.step(prompts(prompts_per_step, seed=cfg.seed * 1_000_003 + runner.step_count))
        rewards.append(metrics["reward"])
        if runner.step_count % checkpoint_every == 0 or runner.step_count == steps:
            runner.save(Path(checkpoint_dir) / f"step-{runner.step_count:06d}", metrics)
    return {"steps": runner.step_count, "resumed_from": str(resume) if resume else None,
            "final_checkpoint": runner.last_checkpoint, "rewards": rewards}


@worker(queue="shape-train", name="aria_shape.train", max_attempts=5)
def train_job(job: Any) -> dict[str, Any]:
    """aria_queue worker: ``args`` are :func:`run_training`'s keyword arguments."""
    args = dict(job.args)
    return run_training(args.pop("model_path"), args.pop("checkpoint_dir"), **args)
