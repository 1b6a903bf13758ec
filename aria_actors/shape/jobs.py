"""GRPO training as a resumable long job, and its aria_queue worker ``aria_shape.train``.

::

    enqueue(aria_shape.train, {model_path | source, checkpoint_run | checkpoint_dir, steps, ...})
        -> attempt 1: steps 1..k, checkpoint every `checkpoint_every` steps -- crash --
        -> attempt 2: finds the newest complete checkpoint, resumes there, runs to `steps`
        -> result: {steps, resumed_from, final_checkpoint, rewards, dedupe}
    with a `version` (what ShapeService.start_training enqueues, :mod:`.runs`): also the held-out
       reward before/after (`eval_prompts`), and the result is what aria_shape registers:
       {version, parent, path (final checkpoint, local), metrics, training_config}

Guarantees and caveats
----------------------
- Resuming is exact on CPU: the checkpoint holds weights, optimizer state and step count, and
  the sampling seed of each step depends only on the step number, so an interrupted and resumed
  run ends with the same weights as an uninterrupted one (a unit test compares them).
- Checkpoints go to aria_storage (``checkpoint_run``: content-addressed, each checkpoint's dedupe
  against the previous one is in the result's ``dedupe``) or to directories
  (``checkpoint_dir``). Either way they are written, then published (manifest put / rename), so a
  crash in the middle of saving leaves the previous checkpoint as the resume point.
- GRPO settings that do not validate discard the job at once (no retry could fix them); the
  reason is in the job's errors.
- A non-finite loss raises :class:`TrainingDiverged` (the queue records the failed attempt);
  the last good checkpoint stays and a retry resumes from it, so lower the learning rate in
  the job's args before retrying.
- The worker runs a single-process run in the queue's worker process, with the service's model
  settings (``ARIA_SHAPE_NUM_THREADS`` torch threads, 1 by default) on every attempt; the Ray
  data-parallel loop is :mod:`aria_actors.shape.training`.
- The worker does not register the version: it only returns it, and aria_shape registers it from
  the result row (so no call goes from a queue worker back up to aria_shape).
- Enqueueing ``aria_shape.train`` needs ``shape:model:train`` (declared on the worker; aria_queue
  checks it at enqueue), and the job runs as its enqueuer: its checkpoints are read and written
  in aria_storage with the enqueuer's rights. A job without a recorded enqueuer may still train
  to a directory, never to aria_storage (it is discarded).
- The held-out rewards are sampled with a fixed seed on the base model and on the final weights
  (``before`` from the base even after a resume), so they compare the same prompts and draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aria_actors.queue.registry import worker
from aria_actors.runtime.principal import Principal
from aria_actors.shape.rewards import RewardFn, trait_coverage
from aria_actors.storage.client import StorageClient


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``checkpoint_dir``, if any."""
    from aria_actors.shape.checkpoints import DirectoryCheckpoints

    ref = DirectoryCheckpoints(checkpoint_dir).latest()
    return Path(ref) if ref else None


def run_training(model_path: str = "", checkpoint_dir: str | None = None, *, steps: int,
                 prompts_per_step: int = 4, checkpoint_every: int = 5,
                 settings: dict[str, Any] | None = None, num_threads: int = 1,
                 reward_fn: RewardFn = trait_coverage, checkpoints: Any = None,
                 source: dict[str, Any] | None = None, eval_prompts: int = 0) -> dict[str, Any]:
    """Train to ``steps`` total GRPO steps, resuming from the newest checkpoint when there is one.

    The model is the checkpoint at ``model_path`` or ``source`` (a
    :class:`~aria_actors.shape.config.ModelSource` as a dict, e.g. the tiny model built in its
    ``home``). Checkpoints go to ``checkpoints`` (a sink of :mod:`aria_actors.shape.checkpoints`,
    e.g. :class:`StorageCheckpoints`) or, without one, to directories under ``checkpoint_dir``.
    ``eval_prompts`` > 0 adds the mean reward on that many held-out prompts before and after.
    """
    from aria_actors.shape.config import ModelSource
    from aria_actors.shape.corpus import prompts
    from aria_actors.shape.policy import GRPORunner, GRPOSettings, mean_reward

    if checkpoints is None:
        checkpoints = _directory(checkpoint_dir)
    cfg = GRPOSettings(**(settings or {}))
    base = ModelSource(**source) if source else ModelSource.for_path(model_path, num_threads)
    resume = checkpoints.latest()
    local = checkpoints.local(resume) if resume else None
    # A resumed attempt loads its checkpoint with the first attempt's settings (device, threads).
    loaded = (ModelSource({**base.config, "model_path": str(local)}, base.home) if local else base).load()
    held_out = prompts(eval_prompts, seed=10_000 + cfg.seed) if eval_prompts else []
    before = None
    if held_out:
        scored = base.load() if local else loaded  # the base's score, also after a resume
        before = mean_reward(scored.model, scored.tokenizer, held_out, cfg, reward_fn)
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
    out = {"steps": runner.step_count, "resumed_from": resume,
           "final_checkpoint": runner.last_checkpoint, "rewards": rewards, "dedupe": dedupe}
    if held_out:
        out["held_out_reward_before"] = before
        out["held_out_reward_after"] = mean_reward(loaded.model, loaded.tokenizer, held_out, cfg, reward_fn)
    return out


def _directory(checkpoint_dir: str | None) -> Any:
    from aria_actors.shape.checkpoints import DirectoryCheckpoints
    from aria_actors.shape.errors import TrainingConfigError

    if not checkpoint_dir:
        raise TrainingConfigError("give checkpoint_dir or a checkpoint sink", field="checkpoint_dir")
    return DirectoryCheckpoints(checkpoint_dir)


def _sink(args: dict[str, Any], caller: Principal | None, storage: StorageClient | None = None,
          loop: Any = None) -> Any:
    """The checkpoint sink a job's ``args`` name (its keys are taken out of ``args``):
    aria_storage run ``checkpoint_run``, called as ``caller`` (the job's enqueuer; ``storage``
    default: the runtime's client, in a queue worker actor), else directories under
    ``checkpoint_dir``."""
    run, cache_dir = args.pop("checkpoint_run", None), args.pop("cache_dir", None)
    checkpoint_dir = args.pop("checkpoint_dir", None)
    if not run:
        return _directory(checkpoint_dir)
    from aria_actors.queue.jobs import Discard
    from aria_actors.shape.checkpoints import StorageCheckpoints

    if caller is None:  # a job runs with its enqueuer's rights; it has none to use the store with
        raise Discard("this job records no enqueuer, so it may not use aria_storage; enqueue it "
                      "through aria_queue (POST /v1/shape/train)")
    if storage is None:
        from aria_actors.queue.dispatch import typed_client

        storage = typed_client(StorageClient)
    return StorageCheckpoints(storage, run, caller=caller, loop=loop, cache_dir=cache_dir)


def train_version(args: dict[str, Any], caller: Principal | None, storage: StorageClient | None = None,
                  loop: Any = None) -> dict[str, Any]:
    """The run of a job with a ``version`` (see :meth:`ShapeService.start_training`): trains,
    then returns what aria_shape registers. Checkpoints go to aria_storage as ``caller`` (the
    job's enqueuer) through ``storage`` (default: the runtime's client, in a queue worker actor),
    from a thread when ``loop`` owns it."""
    from pydantic import ValidationError

    from aria_actors.queue.jobs import Discard
    from aria_actors.shape.policy import GRPOSettings

    args = dict(args)
    try:
        grpo = GRPOSettings(**(args.get("settings") or {}))
    except ValidationError as exc:  # no attempt would do better: give up now, not after five
        raise Discard(f"invalid GRPO settings: {exc}") from None
    version, parent = args.pop("version"), args.pop("parent", None)
    sink = _sink(args, caller, storage, loop)
    out = run_training(checkpoints=sink, **args)
    path = sink.local(out["final_checkpoint"])  # fetched onto this node from aria_storage
    metrics = {"held_out_reward_before": out.get("held_out_reward_before"),
               "held_out_reward_after": out.get("held_out_reward_after"), "train_rewards": out["rewards"],
               "steps": out["steps"], "checkpoint": out["final_checkpoint"],
               "resumed_from": out["resumed_from"], "dedupe": out["dedupe"]}
    config = {**grpo.model_dump(mode="json"), "steps": args["steps"],
              "prompts_per_step": args.get("prompts_per_step", 4)}
    return {"version": version, "parent": parent, "path": str(path), "metrics": metrics,
            "training_config": config}


@worker(queue="shape-train", name="aria_shape.train", max_attempts=5, permission="shape:model:train")
def train_job(job: Any) -> dict[str, Any]:
    """aria_queue worker: with a ``version`` in ``args``, :func:`train_version`; otherwise
    ``args`` are :func:`run_training`'s keyword arguments, plus ``checkpoint_run`` (checkpoints
    go to aria_storage under that run name instead of ``checkpoint_dir``). Either way it runs as
    the job's enqueuer (``job.caller``), who needed ``shape:model:train`` to enqueue it."""
    from aria_actors.queue.jobs import Discard
    from aria_actors.runtime.errors import AriaError

    try:
        if "version" in job.args:
            return train_version(job.args, job.caller)
        args = dict(job.args)
        sink = _sink(args, job.caller)
        return run_training(args.pop("model_path"), checkpoints=sink, **args)
    except AriaError as exc:
        if exc.status not in (401, 403):
            raise
        # the enqueuer's rights do not change between attempts: no retry would do better
        raise Discard(f"aria_storage refused the job's enqueuer: {exc.message}") from exc
