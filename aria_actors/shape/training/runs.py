"""Training runs through aria_queue: enqueue one, follow it, register the version it made.

A mixin of :class:`aria_actors.shape.service.ShapeService`, kept apart so that each module holds
one concern::

    POST /v1/shape/train -> start_training(version, ...) -> aria_queue enqueue aria_shape.train as
        the caller, args job.TrainArgs (version, GRPO settings, model knobs, the served version's
        checkpoint relative to ARIA_HOME/shape/checkpoints, storage or directories: no paths)
        -> aria_shape.training_runs row {job_id, version, parent: the served version, enqueuer}
    queue worker actor -> job.train_job: run (resumes from the newest checkpoint on a retry),
        evaluate, result row {version, path, metrics, training_config}
    GET /v1/shape/train/{job_id} -> training_status -> aria_queue get_job as the caller;
        completed -> the registered version (registered now if the caller may train, else by
        the background sync)
    in the background: sync_training() once at start (every completed recorded training job) and
        every ARIA_SHAPE_TRAIN_POLL_S while recorded jobs this actor knows are unfinished

Guarantees and caveats
----------------------
- The version is registered here, by aria_shape, from the job's result row, never by the worker:
  every call goes along the dependency graph (aria_shape -> aria_queue -> worker -> result row,
  read back by aria_shape through its aria_queue client), as DESIGN.md's job path draws it.
- Only jobs ``start_training`` recorded in ``aria_shape.training_runs`` are registered, under the
  recorded version and parent (a result naming another version is refused): a job of
  ``aria_shape.train`` enqueued directly on aria_queue (``shape:model:train`` suffices) trains
  with its enqueuer's rights but never becomes a model version, which would otherwise bypass
  ``register_model``'s ``@any``. A start that stopped between the enqueue and the record leaves a
  job with the version's unique key; asking again as the same caller with the same arguments
  records it, anything else is a 409 (:class:`TrainingRunConflict`).
- ``training_status`` reads the job as its caller (aria_queue's rules: one's own jobs, the
  tenant's or all by the caller's ``queue:job:read``; another's job is a 404) and registers a
  finished run only for a caller holding ``shape:model:train``; for others (viewers) it shows the
  version once the background sync registered it. The background sync reads jobs as aria_shape.
- A version is registered once (``INSERT ... ON CONFLICT DO NOTHING``) however often its job is
  seen, by this actor or a restarted one. A job that completed while no aria_shape ran is
  registered at the next start, unless the queue's pruner deleted it first
  (``ARIA_QUEUE_PRUNE_RETENTION_S``); until someone looks at it or the poll sees it, a completed
  job's version may be missing from ``list_models`` for up to ``train_poll_s``.
- ``start_training`` refuses a version id that is registered already
  (:class:`ModelVersionExists`); a second request for a version whose job is unfinished or
  completed gets that job back (unique on ``version``), with ``conflict: true``.
- Checkpoints are named after the version, so a new job of the same enqueuer for a version whose
  earlier job was discarded or cancelled resumes from that run's newest checkpoint (give a new id
  to start over); checkpoints written by anyone else are never resumed from.
- The parent is the version served when the job was enqueued; promoting another one later does
  not change what the job trains. A served version an operator registered at a directory outside
  ``ARIA_HOME/shape/checkpoints`` is trained from only by callers holding
  ``shape:model:deploy@any`` (the job names that directory); others get a 403.
- Progress is the job's state, attempt and the errors of failed attempts; the steps done are not
  reported while a run goes (aria_queue has no progress channel for a running job).
- The version's path is a directory on the node of the worker that ran the job (the checkpoint,
  fetched from aria_storage there, ``<run>/manifest-NNNNNN-<key>``). On any other node that loads
  the version or trains from it, the same directory is fetched from aria_storage first (that name
  says which manifest version and its hash: ``checkpoints.fetch_trained``), so no node needs
  another's disk, nor the same ``ARIA_HOME``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from aria_actors.queue.client import QueueClient
from aria_actors.queue.errors import JobNotFound
from aria_actors.queue.jobs import FINISHED, JobState
from aria_actors.runtime.errors import AriaError, Forbidden, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import default_gate, rpc
from aria_actors.shape.errors import ModelVersionExists, TrainingConfigError, TrainingRunConflict
from aria_actors.shape.training.checkpoints import trained_ref
from aria_actors.shape.training.job import MODEL_KNOBS, NODE_PATHS, TrainArgs, checkpoint_ref, checkpoint_root

log = logging.getLogger("aria.shape")
WORKER = "aria_shape.train"
# aria_shape acting for itself: its start-up, following its training jobs (the mixins share it).
ME = Principal.internal("aria_shape")
UNFINISHED = tuple(s.value for s in JobState if s not in FINISHED)


def job_view(job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """What a caller sees of a training job (``run``: its training_runs row)."""
    return {"job_id": job["id"], "version": run["version"], "state": job["state"],
            "attempt": job["attempt"], "max_attempts": job["max_attempts"],
            "steps": (job.get("args") or {}).get("steps"),
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

    def _start_from(self, caller: Principal, served: str) -> dict[str, Any]:
        """The job arguments naming the model a run of ``served`` starts from (none: the base)."""
        if served == "base":  # the worker's node loads its configured base model
            return {}
        path = str(self._inference().source(served).config.get("model_path") or "")
        # Trained here, in this node's checkpoint root or another's (fetched from aria_storage
        # wherever the job runs).
        ref = checkpoint_ref(checkpoint_root(self.settings.home), path) or trained_ref(path)
        if ref is not None:
            return {"checkpoint": ref}
        try:
            default_gate().check(NODE_PATHS, caller)
        except Forbidden:
            raise Forbidden(f"the served version {served!r} is a directory an operator registered "
                            f"({path}); a run from it names that directory, which needs "
                            f"{NODE_PATHS.describe()}: promote a version trained here (or 'base') first",
                            action=NODE_PATHS.permission, model_version=served) from None
        return {"model_path": path}

    @rpc("shape:model:train", feature="grpo-training")
    async def start_training(self, caller: Principal, version_id: str, *, steps: int = 20,
                             prompts_per_step: int = 4, settings: dict[str, Any] | None = None,
                             eval_prompts: int = 8, seed: int = 0, checkpoint_every: int = 5) -> dict[str, Any]:
        """Enqueue a GRPO run on the served model whose result becomes model version
        ``version_id`` (parent: the served version; metrics: the held-out mean reward before and
        after, the rewards of each step; training config: the GRPO settings). Returns the job.

        The job is enqueued as ``caller``, so it runs (checkpoints to aria_storage included) with
        the caller's rights, never aria_shape's; aria_shape records it as its run."""
        store, queue = self._records(), self._queue()
        if await store.existing_models([version_id]):
            raise ModelVersionExists(f"model version {version_id!r} exists already; train under a new id",
                                     model_version=version_id)
        served = self._served_version
        parent = None if served == "base" else served
        try:
            args = TrainArgs(version=version_id, steps=steps, prompts_per_step=prompts_per_step,
                             settings={"seed": seed, **(settings or {})}, checkpoint_every=checkpoint_every,
                             eval_prompts=eval_prompts, storage=self.deps.get("aria_storage") is not None,
                             model={k: getattr(self.config, k) for k in MODEL_KNOBS},
                             **self._start_from(caller, served))
        except ValidationError as exc:
            raise TrainingConfigError(f"invalid training run: {exc}", field="args") from None
        body = args.model_dump(mode="json", exclude_none=True)
        job = await queue.enqueue(caller, WORKER, body, unique={"period": None, "keys": ["version"]})
        run = await self._claim(caller, job, body, parent)
        self._train_jobs.add(job["id"])
        return job_view(job, run)

    async def _claim(self, caller: Principal, job: dict[str, Any], body: dict[str, Any],
                     parent: str | None) -> dict[str, Any]:
        """The training_runs row of the job ``start_training`` got back from the queue: recorded
        now for a new job, the recorded one for a second request, or refused (a job aria_shape did
        not start holds the version)."""
        store = self._records()
        version = body["version"]
        if job.get("conflict"):
            recorded = (await store.training_runs([job["id"]])).get(job["id"])
            if recorded is not None:
                return recorded
            # Ours only if it is exactly what this call enqueued (a start that stopped before it
            # recorded the job): same worker, same enqueuer, same arguments.
            by = (job.get("enqueued_by") or {}).get("subject")
            if job.get("worker") != WORKER or by != caller.subject or job.get("args") != body:
                raise TrainingRunConflict(
                    f"training job {job['id']} holds model version {version!r} but was not started by "
                    "aria_shape (enqueued directly, or with other arguments): it is never registered; "
                    "cancel it or train under another version id", job_id=job["id"], model_version=version)
        await store.record_training_run(job["id"], version, parent, caller.subject)
        return {"job_id": job["id"], "version": version, "parent": parent, "enqueued_by": caller.subject}

    @rpc("shape:model:read", feature="grpo-training")
    async def training_status(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """A training job's state; once completed, with the model version it registered.

        The job is read as ``caller`` (aria_queue's visibility: another's job is not found), and
        a finished run is registered here only for a caller who may train (``shape:model:train``);
        for anyone else ``model`` stays empty until the background sync has registered it."""
        store = self._records()
        job = await self._queue().get_job(caller, job_id)
        run = (await store.training_runs([job["id"]])).get(job["id"]) if job["worker"] == WORKER else None
        if run is None:
            raise NotFound(f"job {job_id} is not a training run of aria_shape ({job['worker']})",
                           job_id=job_id)
        view = job_view(job, run)
        if job["state"] == "completed":
            if await store.existing_models([run["version"]]):
                view["model"] = await store.model(run["version"])
            elif default_gate().allowed(caller, "shape:model:train", {"tenant": caller.tenant}):
                view["model"] = await self._register_trained(job, run)
            else:  # a read is no write: the background sync registers it
                self._train_jobs.add(job["id"])
        return view

    async def _register_trained(self, job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """Register the version of a recorded run from its job's result: version and parent as
        recorded, path, metrics and training config from the result."""
        r = job.get("result")
        if not isinstance(r, dict) or r.get("version") != run["version"] or not isinstance(r.get("path"), str):
            raise TrainingRunConflict(f"the result of training job {job['id']} does not make the recorded "
                                      f"version {run['version']!r}", job_id=job["id"],
                                      model_version=run["version"])
        return await self._records().register_model(run["version"], r["path"], run["parent"],
                                                    r.get("metrics") or {}, r.get("training_config") or {},
                                                    existing_ok=True)

    async def _train_jobs_in(self, state: str) -> list[dict[str, Any]]:
        """The recorded training jobs in ``state`` (read as aria_shape)."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self._queue().list_jobs(ME, state=state, worker=WORKER, after_id=after, limit=500)
            runs = await self._store.training_runs([j["id"] for j in page])
            out += [j for j in page if j["id"] in runs]
            if len(page) < 500:
                return out
            after = page[-1]["id"]

    async def sync_training(self, scan: bool = False) -> dict[str, list[str]]:
        """Register the versions of completed recorded training jobs not registered yet: of the
        jobs this actor follows, or (``scan``) of every recorded training job the queue holds,
        whose unfinished ones it then follows. Returns the versions registered and those still
        training."""
        if self._store is None or self.deps.get("aria_queue") is None:
            return {"registered": [], "training": []}
        done: list[dict[str, Any]] = []
        if scan:
            for state in UNFINISHED:
                self._train_jobs.update(j["id"] for j in await self._train_jobs_in(state))
            done = await self._train_jobs_in("completed")
        following: list[dict[str, Any]] = []
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
                following.append(job)
        runs = await self._store.training_runs([j["id"] for j in [*done, *following]])
        training = [runs[j["id"]]["version"] for j in following if j["id"] in runs]
        done = [j for j in done if j["id"] in runs]  # only aria_shape's runs become versions
        known = await self._store.existing_models([runs[j["id"]]["version"] for j in done])
        registered = []
        for job in done:
            run = runs[job["id"]]
            version = run["version"]
            if version in known:
                continue
            try:
                registered.append((await self._register_trained(job, run))["id"])
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
