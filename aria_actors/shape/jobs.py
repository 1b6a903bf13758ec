"""GRPO training as a resumable long job, and its aria_queue worker ``aria_shape.train``.

::

    enqueue(aria_shape.train, {model_path, checkpoint_run | checkpoint_dir, steps, ...})
        -> attempt 1: steps 1..k, checkpoint every `checkpoint_every` steps -- crash --
        -> attempt 2: finds the newest complete checkpoint, resumes there, runs to `steps`
        -> result: {steps, resumed_from, final_checkpoint, rewards, dedupe}

Guarantees and caveats
----------------------
- Resuming is exact on CPU: the checkpoint holds weights, optimizer state and step count, and
  the sampling seed of each step depends only on the step number, so an interrupted and resumed
  run ends with the same weights as an uninterrupted one (a unit test compares them).
- Checkpoints go to aria_storage (``checkpoint_run``: content-addressed, each checkpoint's dedupe
  against the previous one is in the result's ``dedupe``) or to directories
  (``checkpoint_dir``). Either way they are written, then published (manifest put / rename), so a
  crash in the middle of saving leaves the previous checkpoint as the resume point.
- A non-finite loss raises :class:`TrainingDiverged` (the queue records the failed attempt);
  the last good checkpoint stays and a retry resumes from it, so lower the learning rate in
  the job's args before retrying.
- The worker runs a single-process run in the queue's worker process (one torch thread);
  the Ray data-parallel loop is :mod:`aria_actors.shape.training`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aria_actors.queue.registry import worker
from aria_actors.shape.rewards import RewardFn, trait_coverage


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``checkpoint_dir``, if any."""
    from aria_actors.shape.checkpoints import DirectoryCheckpoints

    ref = DirectoryCheckpoints(checkpoint_dir).latest()
    return Path(ref) if ref else None


def run_training(model_path: str, checkpoint_dir: str | None = None, *, steps: int,
                 prompts_per_step: int = 4, checkpoint_every: int = 5,
                 settings: dict[str, Any] | None = None, num_threads: int = 1,
                 reward_fn: RewardFn = trait_coverage, checkpoints: Any = None) -> dict[str, Any]:
    """Train to ``steps`` total GRPO steps, resuming from the newest checkpoint when there is one.

    Checkpoints go to ``checkpoints`` (a sink of :mod:`aria_actors.shape.checkpoints`, e.g.
    :class:`StorageCheckpoints`) or, without one, to directories under ``checkpoint_dir``.
    """
    from aria_actors.shape.checkpoints import DirectoryCheckpoints
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.corpus import prompts
    from aria_actors.shape.errors import TrainingConfigError
    from aria_actors.shape.model import load_model
    from aria_actors.shape.policy import GRPORunner, GRPOSettings

    if checkpoints is None:
        if not checkpoint_dir:
            raise TrainingConfigError("give checkpoint_dir or a checkpoint sink", field="checkpoint_dir")
        checkpoints = DirectoryCheckpoints(checkpoint_dir)
    cfg = GRPOSettings(**(settings or {}))
    resume = checkpoints.latest()
    local = checkpoints.local(resume) if resume else None
    loaded = load_model(ShapeConfig(model_path=str(local or model_path), num_threads=num_threads))
    runner = GRPORunner(loaded.model, loaded.tokenizer, cfg, reward_fn=reward_fn)
    if resume is not None:
        runner.restore(local, ref=resume)
    rewards: list[float] = []
    dedupe: list[dict[str, Any]] = []
    while runner.step_count < steps:
        metrics = runner.step(prompts(prompts_per_step, seed=cfg.seed * 1_000_003 + runner.step_count))
        rewards.append(metrics["reward"])
        if runner.step_count % checkpoint_every == 0 or runner.step_count == steps:
            saved = checkpoints.save(runner.blobs(metrics), runner.step_count)
            runner.last_checkpoint = saved.ref
            if saved.report:
                dedupe.append(saved.report)
    return {"steps": runner.step_count, "resumed_from": resume,
            "final_checkpoint": runner.last_checkpoint, "rewards": rewards, "dedupe": dedupe}


@worker(queue="shape-train", name="aria_shape.train", max_attempts=5)
def train_job(job: Any) -> dict[str, Any]:
    """aria_queue worker: ``args`` are :func:`run_training`'s keyword arguments, plus
    ``checkpoint_run`` (checkpoints go to aria_storage under that run name instead of
    ``checkpoint_dir``)."""
    args = dict(job.args)
    run = args.pop("checkpoint_run", None)
    if run:
        from aria_actors.queue.dispatch import ray_client
        from aria_actors.shape.checkpoints import StorageCheckpoints

        args["checkpoints"] = StorageCheckpoints(ray_client("aria_storage"), run)
    return run_training(args.pop("model_path"), args.pop("checkpoint_dir", None), **args)
