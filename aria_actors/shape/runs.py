"""Training runs through aria_queue: enqueue one, follow it, register the version it made.

A mixin of :class:`aria_actors.shape.service.ShapeService`, kept apart so that each module holds
one concern::

    POST /v1/shape/train -> start_training(version, ...) -> aria_queue enqueue aria_shape.train
        args: version, parent (the served version), source (how to load its model), GRPO
              settings, checkpoints (aria_storage run <version>, or ARIA_HOME/shape/checkpoints/<version>)
    queue worker actor -> jobs.train_job: run (resumes from the newest checkpoint on a retry),
        evaluate, result row {version, path, parent, metrics, training_config}
    GET /v1/shape/train/{job_id} -> training_status -> aria_queue get_job;
        completed -> the version registered from the result row (if it is not already)
    in the background: sync_training() once at start (every completed training job) and every
        ARIA_SHAPE_TRAIN_POLL_S while jobs this actor knows are unfinished

Guarantees and caveats
----------------------
- The version is registered here, by aria_shape, from the job's result row, never by the worker:
  every call goes along the dependency graph (aria_shape -> aria_queue -> worker -> result row,
  read back by aria_shape through its aria_queue client), as DESIGN.md's job path draws it.
- A version is registered once (``INSERT ... ON CONFLICT DO NOTHING``) however often its job is
  seen, by this actor or a restarted one. A job that completed while no aria_shape ran is
  registered at the next start, unless the queue's pruner deleted it first
  (``ARIA_QUEUE_PRUNE_RETENTION_S``); until someone looks at it or the poll sees it, a completed
  job's version may be missing from ``list_models`` for up to ``train_poll_s``.
- ``start_training`` refuses a version id that is registered already
  (:class:`ModelVersionExists`); a second request for a version whose job is unfinished or
  completed gets that job back (unique on ``version``), with ``conflict: true``.
- Checkpoints are named after the version, so a new job for a version whose earlier job was
  discarded or cancelled resumes from that run's newest checkpoint (give a new id to start over).
- The parent is the version served when the job was enqueued; promoting another one later does
  not change what the job trains.
- Progress is the job's state, attempt and the errors of failed attempts; the steps done are not
  reported while a run goes (aria_queue has no progress channel for a running job).
- The version's path is a directory on the node of the worker that ran the job (the checkpoint,
  fetched from aria_storage there): single-node, or shared storage on a cluster.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aria_actors.queue.client import QueueClient
from aria_actors.queue.errors import JobNotFound
from aria_actors.queue.jobs import FINISHED, JobState
from aria_actors.runtime.errors import AriaError, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.shape.errors import ModelVersionExists

log = logging.getLogger("aria.shape")
WORKER = "aria_shape.train"
# aria_shape acting for itself: its start-up, following its training jobs (the mixins share it).
ME = Principal.internal("aria_shape")
UNFINISHED = tuple(s.value for s in JobState if s not in FINISHED)


def _versioned(job: dict[str, Any]) -> bool:
    """A run this service enqueued: jobs of the same worker given plain ``run_training``
    arguments (no ``version``) make no model version, and are not this module's to follow."""
    return "version" in (job.get("args") or {})


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """What a caller sees of a training job."""
    args = job["args"]
    return {"job_id": job["id"], "version": args["version"], "state": job["state"],
            "attempt": job["attempt"], "max_attempts": job["max_attempts"], "steps": args.get("steps"),
            "errors": [{k: e.get(k) for k in ("attempt", "at", "error")} for e in job["errors"]],
            "inserted_at": job["inserted_at"], "completed_at": job["completed_at"],
            "conflict": job.get("conflict", False), "model": None}


class TrainingRunsMixin:
    """Training-run methods of ShapeService."""

    settings: Any
    config: Any
    deps: Any
    _store: Any
    _served_version: str
    _train_jobs: set[int]
    _training_problems: dict[str, str]

    if TYPE_CHECKING:  # provided by ShapeService
        def _records(self) -> Any: ...
        def _inference(self) -> Any: ...

    def _queue(self) -> QueueClient:
        if self.deps.get("aria_queue") is None:
            raise ServiceUnavailable("training runs go through aria_queue, which is not a dependency here",
                                     service="aria_queue")
        return self.deps.of(QueueClient)

    @rpc("shape:model:train")
    async def start_training(self, caller: Principal, version_id: str, *, steps: int = 20,
                             prompts_per_step: int = 4, settings: dict[str, Any] | None = None,
                             eval_prompts: int = 8, seed: int = 0, checkpoint_every: int = 5) -> dict[str, Any]:
        """Enqueue a GRPO run on the served model whose result becomes model version
        ``version_id`` (parent: the served version; metrics: the held-out mean reward before and
        after, the rewards of each step; training config: the GRPO settings). Returns the job.

        The job is enqueued as ``caller``, so it runs (checkpoints to aria_storage included) with
        the caller's rights, never aria_shape's."""
        store, queue = self._records(), self._queue()
        if await store.existing_models([version_id]):
            raise ModelVersionExists(f"model version {version_id!r} exists already; train under a new id",
                                     model_version=version_id)
        served = self._served_version
        source = self._inference().source(served)
        args: dict[str, Any] = {
            "version": version_id, "parent": None if served == "base" else served,
            "source": {"config": source.config, "home": source.home}, "steps": steps,
            "prompts_per_step": prompts_per_step, "settings": {"seed": seed, **(settings or {})},
            "checkpoint_every": checkpoint_every, "eval_prompts": eval_prompts}
        ckpt = self.settings.home / "shape" / "checkpoints"
        if self.deps.get("aria_storage") is not None:
            args.update(checkpoint_run=version_id, cache_dir=str(ckpt))
        else:
            args["checkpoint_dir"] = str(ckpt / version_id)
        job = await queue.enqueue(caller, WORKER, args, unique={"period": None, "keys": ["version"]})
        self._train_jobs.add(job["id"])
        return job_view(job)

    @rpc("shape:model:read")
    async def training_status(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """A training job's state; once completed, with the model version it registered."""
        # Read as aria_shape: a training run is aria_shape's record (its version is registered
        # here), whoever enqueued it; the caller's right to see it is shape:model:read.
        job = await self._queue().get_job(ME, job_id)
        if job["worker"] != WORKER or not _versioned(job):
            raise NotFound(f"job {job_id} is not a training run of aria_shape ({job['worker']})",
                           job_id=job_id)
        view = job_view(job)
        if job["state"] == "completed":
            view["model"] = await self._register_trained(job)
        return view

    async def _register_trained(self, job: dict[str, Any]) -> dict[str, Any]:
        r = job["result"]
        return await self._records().register_model(r["version"], r["path"], r["parent"], r["metrics"],
                                                    r["training_config"], existing_ok=True)

    async def _train_jobs_in(self, state: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self._queue().list_jobs(ME, state=state, worker=WORKER, after_id=after, limit=500)
            out += [j for j in page if _versioned(j)]
            if len(page) < 500:
                return out
            after = page[-1]["id"]

    async def sync_training(self, scan: bool = False) -> dict[str, list[str]]:
        """Register the versions of completed training jobs not registered yet: of the jobs this
        actor follows, or (``scan``) of every training job the queue holds, whose unfinished ones
        it then follows. Returns the versions registered and those still training."""
        if self._store is None or self.deps.get("aria_queue") is None:
            return {"registered": [], "training": []}
        done: list[dict[str, Any]] = []
        if scan:
            for state in UNFINISHED:
                self._train_jobs.update(j["id"] for j in await self._train_jobs_in(state))
            done = await self._train_jobs_in("completed")
        training: list[str] = []
        for job_id in sorted(self._train_jobs):
            try:
                job = await self._queue().get_job(ME, job_id)
            except JobNotFound:  # pruned: nothing left to register
                self._train_jobs.discard(job_id)
                continue
            if job["state"] in FINISHED:
                self._train_jobs.discard(job_id)
                done += [job] if job["state"] == "completed" else []
            else:
                training.append(job["args"]["version"])
        known = await self._store.existing_models([j["args"]["version"] for j in done])
        registered = []
        for job in done:
            version = job["args"]["version"]
            if version in known:
                continue
            try:
                registered.append((await self._register_trained(job))["id"])
            except AriaError as exc:  # this one's row does not register (its parent is gone, say): the rest do
                self._training_problems[version] = f"training job {job['id']} not registered: {exc.message}"
                log.warning("%s", self._training_problems[version])
                continue
            self._training_problems.pop(version, None)
            known.add(version)
        return {"registered": registered, "training": training}

    async def _watch_training(self) -> None:
        scan = True
        while True:
            if scan or self._train_jobs:
                try:
                    await self.sync_training(scan=scan)
                    scan = False
                except asyncio.CancelledError:
                    raise
                except Exception:  # aria_queue restarting, say: tried again next tick
                    log.warning("checking training jobs failed", exc_info=True)
            await asyncio.sleep(self.config.train_poll_s)
