"""GRPO training as a resumable long job, and its aria_queue worker ``aria_shape.train``.

::

    ShapeService.start_training -> enqueue(aria_shape.train, TrainArgs{version, steps, settings, model
                                           knobs, checkpoint | model_path, storage, ...}) as the caller
        -> attempt 1: steps 1..k, checkpoint every `checkpoint_every` steps -- crash --
        -> attempt 2: finds the newest complete checkpoint, resumes there, runs to `steps`
        -> evaluation: the held-out reward before/after (`eval_prompts`)
        -> result: {version, path (final checkpoint, local), metrics, training_config}, which
           aria_shape registers (:mod:`.runs`) if it recorded the job

Guarantees and caveats
----------------------
- The worker takes exactly the arguments ``start_training`` builds (:class:`TrainArgs`, unknown
  keys refused) and no directory: checkpoints, the fetched checkpoint and the tiny model go under
  this node's ``ARIA_HOME/shape`` (:func:`checkpoint_root`; a parent trained through aria_storage
  on another node is fetched from it there, see ``checkpoints.fetch_trained``), the base model is this node's
  configured one (``ARIA_SHAPE_MODEL_PATH``/``ARIA_MODEL_PATH``, else the tiny model from the
  ``model`` knobs), a parent trained here is named relative to the checkpoint root
  (``checkpoint``), and a directory anywhere else (``model_path``, a version an operator
  registered) is honoured only when the job's enqueuer holds ``shape:model:deploy@any``, the
  right to name node directories. Arguments that do not validate discard the job before it
  touches any file (aria_queue has no hook to refuse them at enqueue; enqueueing needs
  ``shape:model:train`` either way).
- Resuming is exact on CPU: the checkpoint holds weights, optimizer state and step count, and
  the sampling seed of each step depends only on the step number, so an interrupted and resumed
  run ends with the same weights as an uninterrupted one (a unit test compares them).
- Checkpoints go to aria_storage (``storage``: run ``<version>``, content-addressed, each
  checkpoint's dedupe against the previous one is in the result's ``dedupe``) or to directories
  ``<root>/<version>/<enqueuer>/step-NNNNNN`` (``<enqueuer>``: a hash of its subject). Either way
  they are written, then published (manifest put / rename), so a crash in the middle of saving
  leaves the previous checkpoint as the resume point, and a run resumes only from checkpoints
  its enqueuer wrote (see :mod:`.checkpoints`).
- GRPO settings or arguments that do not validate discard the job at once (no retry could fix
  them); the reason is in the job's errors.
- A non-finite loss raises :class:`TrainingDiverged` (the queue records the failed attempt);
  the last good checkpoint stays and a retry resumes from it.
- The worker runs a single-process run in the queue's worker process, with the service's model
  knobs (``ARIA_SHAPE_NUM_THREADS`` torch threads, 1 by default) on every attempt; the Ray
  data-parallel loop is :mod:`aria_actors.shape.training.loop`.
- The worker does not register the version: it only returns it, and aria_shape registers it from
  the result row of a job it recorded (so no call goes from a queue worker back up to
  aria_shape, and a job enqueued directly on aria_queue never becomes a version).
- Enqueueing ``aria_shape.train`` needs ``shape:model:train`` (declared on the worker; aria_queue
  checks it at enqueue), and the job runs as its enqueuer: its checkpoints are read and written
  in aria_storage with the enqueuer's rights. A job without a recorded enqueuer may still train
  to a directory, never to aria_storage (it is discarded).
- The held-out rewards are sampled with a fixed seed on the base model and on the final weights
  (``before`` from the base even after a resume), so they compare the same prompts and draws.
- :func:`run_training` is the library call behind it (tests, benches, tools): it takes paths,
  because whoever calls it in-process can name them anyway; only the worker faces enqueuers.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from aria_actors.queue import dispatch
from aria_actors.queue.jobs import Discard
from aria_actors.queue.registry import worker
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, default_gate
from aria_actors.runtime.settings import AriaSettings
from aria_actors.shape.characters.corpus import prompts
from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.errors import TrainingConfigError
from aria_actors.shape.source import ModelSource
from aria_actors.shape.training.checkpoints import DirectoryCheckpoints, StorageCheckpoints, fetch_trained
from aria_actors.shape.training.rewards import RewardFn, trait_coverage
from aria_actors.storage.client import StorageClient

MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ModelId = Annotated[str, Field(min_length=1, max_length=128, pattern=MODEL_ID)]
# A trained version's checkpoint directory relative to the checkpoint root: fetched from
# aria_storage (<run>/manifest-NNNNNN-<key>) or written by the directory sink
# (<run>/<enqueuer>/step-NNNNNN). Nothing else under the root, nothing outside it.
CHECKPOINT_REF = (r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}/"
                  r"(manifest-[0-9]{6}-[0-9a-f]{16}|[0-9a-f]{16}/step-[0-9]{6})$")
# The model settings a job carries: ShapeConfig's fields that are neither paths nor serving knobs.
MODEL_KNOBS = ("device", "num_threads", "seed", "vocab_size", "hidden_size", "num_layers", "num_heads",
               "num_kv_heads", "intermediate_size", "pretrain_steps")
ModelKnobs = create_model(  # same types and bounds as ShapeConfig's fields
    "ModelKnobs", __config__=ConfigDict(extra="forbid", frozen=True),
    **{name: (ShapeConfig.model_fields[name].annotation, ShapeConfig.model_fields[name])
       for name in MODEL_KNOBS})
# Naming a directory of the worker's node (``model_path``) takes what register_model and
# load_version take: a permission held across tenants.
NODE_PATHS = RpcSpec("aria_shape.train model_path", "shape:model:deploy", scope="any")


class TrainArgs(BaseModel):
    """The arguments of an ``aria_shape.train`` job: what ShapeService.start_training builds, and
    nothing else (no directory but ``model_path``, honoured for ``NODE_PATHS`` holders only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: ModelId = Field(description="The model version to make; also the checkpoint run's name.")
    steps: int = Field(20, ge=1, le=10_000)
    prompts_per_step: int = Field(4, ge=1, le=1024)
    checkpoint_every: int = Field(5, ge=1, le=10_000)
    eval_prompts: int = Field(8, ge=0, le=1024)
    settings: dict[str, Any] = Field(default_factory=dict, max_length=256, description="GRPOSettings.")
    model: ModelKnobs = Field(default_factory=ModelKnobs)  # type: ignore[valid-type]
    checkpoint: str | None = Field(None, max_length=200, pattern=CHECKPOINT_REF,
                                   description="The parent's checkpoint under the checkpoint root.")
    model_path: str | None = Field(None, min_length=1, max_length=4096,
                                   description="A parent's directory elsewhere (NODE_PATHS holders).")
    storage: bool = Field(False, description="Checkpoints to aria_storage (else to directories).")

    @model_validator(mode="after")
    def _one_parent(self) -> TrainArgs:
        if self.checkpoint is not None and self.model_path is not None:
            raise ValueError("give checkpoint or model_path, not both")
        return self


def checkpoint_root(home: Path | str) -> Path:
    """Where training jobs keep checkpoint directories on a node: ``ARIA_HOME/shape/checkpoints``."""
    return Path(home) / "shape" / "checkpoints"


def checkpoint_ref(root: Path | str, path: str | Path) -> str | None:
    """``path`` as :attr:`TrainArgs.checkpoint` (relative to ``root``), or None when it is not a
    checkpoint directory that a training job made there."""
    try:
        rel = Path(path).relative_to(root).as_posix()
    except ValueError:
        return None
    return rel if re.fullmatch(CHECKPOINT_REF, rel) else None


def enqueuer_dir(caller: Principal | None) -> str:
    """The directory sink's folder of one enqueuer (a hash: subjects are not file names)."""
    return hashlib.sha256((caller.subject if caller else "").encode()).hexdigest()[:16]


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``checkpoint_dir``, if any."""
    ref = DirectoryCheckpoints(checkpoint_dir).latest()
    return Path(ref) if ref else None


def run_training(model_path: str = "", checkpoint_dir: str | None = None, *, steps: int,
                 prompts_per_step: int = 4, checkpoint_every: int = 5,
                 settings: dict[str, Any] | None = None, num_threads: int = 1,
                 reward_fn: RewardFn = trait_coverage, checkpoints: Any = None,
                 source: dict[str, Any] | None = None, eval_prompts: int = 0) -> dict[str, Any]:
    """Train to ``steps`` total GRPO steps, resuming from the newest checkpoint when there is one.

    The model is the checkpoint at ``model_path`` or ``source`` (a
    :class:`~aria_actors.shape.source.ModelSource` as a dict, e.g. the tiny model built in its
    ``home``). Checkpoints go to ``checkpoints`` (a sink of :mod:`aria_actors.shape.training.checkpoints`,
    e.g. :class:`StorageCheckpoints`) or, without one, to directories under ``checkpoint_dir``.
    ``eval_prompts`` > 0 adds the mean reward on that many held-out prompts before and after.
    """
    # heavy: torch; the queue service imports this module to register the worker, only a run needs it
    from aria_actors.shape.training.policy import GRPORunner, GRPOSettings, mean_reward

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


def _directory(checkpoint_dir: str | Path | None) -> Any:
    if not checkpoint_dir:
        raise TrainingConfigError("give checkpoint_dir or a checkpoint sink", field="checkpoint_dir")
    return DirectoryCheckpoints(checkpoint_dir)


def parse_args(args: Any) -> TrainArgs:
    """A job's ``args`` as :class:`TrainArgs`; anything else discards the job (no retry would do
    better), before a file is touched."""
    try:
        return TrainArgs.model_validate(args)
    except ValidationError as exc:
        raise Discard(f"aria_shape.train takes only what POST /v1/shape/train builds: {exc}") from None


def _source(a: TrainArgs, caller: Principal | None, node: Any) -> Any:
    """The model the run starts from, resolved on this node (``node``: its AriaSettings)."""
    own = node.shape  # this node's [shape] section (its model, its cache_dir)
    config = {**own.model_dump(mode="json"), **a.model.model_dump(mode="json")}
    if a.checkpoint is not None:
        root = checkpoint_root(node.home).resolve()
        path = (root / a.checkpoint).resolve()
        if path.is_relative_to(root) and not (path / "config.json").is_file():
            try:  # trained on another node: its checkpoint is in aria_storage
                fetch_trained(node.home, path)
            except AriaError as exc:
                raise Discard(f"checkpoint {a.checkpoint!r} is not on this node and could not be fetched "
                              f"from aria_storage: {exc.message}") from None
        if not path.is_relative_to(root) or not (path / "config.json").is_file():
            raise Discard(f"no checkpoint {a.checkpoint!r} under {root} on this node (a checkpoint of "
                          "the directory sink is on the node that wrote it only)")
        config["model_path"] = str(path)
    elif a.model_path is not None:
        try:
            if caller is None:
                raise PermissionError("no enqueuer")
            default_gate().check(NODE_PATHS, caller)
        except (AriaError, PermissionError):
            raise Discard(f"model_path names a directory of this node, which needs "
                          f"{NODE_PATHS.describe()}; the job's enqueuer does not hold it") from None
        config["model_path"] = a.model_path
    else:
        config["model_path"] = own.model_path or node.model_path  # empty: the tiny model
    return ModelSource(config, str(node.home))


def _sink(a: TrainArgs, caller: Principal | None, home: Path, storage: StorageClient | None = None,
          loop: Any = None) -> Any:
    """Where the job's checkpoints go: aria_storage run ``version``, called as ``caller`` (the
    job's enqueuer; ``storage`` default: the runtime's client, in a queue worker actor), fetched
    into the checkpoint root; else the enqueuer's directories under the root."""
    root = checkpoint_root(home)
    if not a.storage:
        return _directory(root / a.version / enqueuer_dir(caller))

    if caller is None:  # a job runs with its enqueuer's rights; it has none to use the store with
        raise Discard("this job records no enqueuer, so it may not use aria_storage; enqueue it "
                      "through aria_queue (POST /v1/shape/train)")
    if storage is None:
        storage = dispatch.typed_client(StorageClient)
    return StorageCheckpoints(storage, a.version, caller=caller, loop=loop, cache_dir=root)


def train_version(args: dict[str, Any], caller: Principal | None, storage: StorageClient | None = None,
                  loop: Any = None, settings: Any = None) -> dict[str, Any]:
    """The run of a job (see :meth:`ShapeService.start_training`): validates ``args``, trains,
    then returns what aria_shape registers. Directories come from ``settings`` (this node's
    AriaSettings by default). Checkpoints go to aria_storage as ``caller`` (the job's enqueuer)
    through ``storage`` (default: the runtime's client, in a queue worker actor), from a thread
    when ``loop`` owns it."""
    from aria_actors.shape.training.policy import GRPOSettings  # heavy: torch, as in run_training

    a = parse_args(args)
    try:
        grpo = GRPOSettings(**a.settings)
    except ValidationError as exc:  # no attempt would do better: give up now, not after five
        raise Discard(f"invalid GRPO settings: {exc}") from None
    node = settings if settings is not None else AriaSettings()
    source = _source(a, caller, node)
    sink = _sink(a, caller, node.home, storage, loop)
    out = run_training(checkpoints=sink, source={"config": source.config, "home": source.home},
                       steps=a.steps, prompts_per_step=a.prompts_per_step,
                       checkpoint_every=a.checkpoint_every, settings=a.settings, eval_prompts=a.eval_prompts)
    path = sink.local(out["final_checkpoint"])  # fetched onto this node from aria_storage
    metrics = {"held_out_reward_before": out.get("held_out_reward_before"),
               "held_out_reward_after": out.get("held_out_reward_after"), "train_rewards": out["rewards"],
               "steps": out["steps"], "checkpoint": out["final_checkpoint"],
               "resumed_from": out["resumed_from"], "dedupe": out["dedupe"]}
    config = {**grpo.model_dump(mode="json"), "steps": a.steps, "prompts_per_step": a.prompts_per_step}
    return {"version": a.version, "path": str(path), "metrics": metrics, "training_config": config}


@worker(queue="shape-train", name="aria_shape.train", max_attempts=5, permission="shape:model:train")
def train_job(job: Any) -> dict[str, Any]:
    """aria_queue worker: :func:`train_version` of the job's ``args`` (:class:`TrainArgs` only),
    run as the job's enqueuer (``job.caller``), who needed ``shape:model:train`` to enqueue it."""
    try:
        return train_version(job.args, job.caller)
    except AriaError as exc:
        if exc.status not in (401, 403):
            raise
        # the enqueuer's rights do not change between attempts: no retry would do better
        raise Discard(f"aria_storage refused the job's enqueuer: {exc.message}") from exc
