"""aria_tune: hyperparameter studies whose trials run as aria_queue jobs (``hyperparameters``; the
seed's other seven features are mixins, each in its own module: archsearch, pipeline, autotune,
cacheopt, resources, queryopt/strategies, abtest).

::

    create_study(name, objective, space, direction, sampler, pruner, budget, parallelism)
        -> aria_tune.studies row (space and settings validated: space.py)
    optimize(name) -> status running, optimizer = the caller -> top up:
        under the study's row lock: reserve min(parallelism - running, budget - trials) trials,
        each with Optuna's next params over the stored trials (sampling.py)
        -> enqueue service:aria_tune.run_trial {study_id, number} as the optimizer, unique per trial
    queue worker -> run_trial(study_id, number) as the optimizer:
        objective(params) in a thread (objectives.py): a value, or intermediate values step by
        step (each stored; the median rule may prune the trial after one)
        -> finish once: complete | pruned | failed -> top up again (or mark the study completed)
    sweep (every sweep_interval_s): trials whose job finished without recording them -> failed;
        trials reserved but never enqueued -> enqueued again; running studies topped up

Guarantees and caveats
----------------------
- Only the ``@rpc`` methods are callable from outside, each checked as its caller: studies need
  ``tune:study:write`` / ``read`` / ``list`` scoped ``own`` (a study is its creator's; ``@tenant``
  and ``@any`` rights reach others' in the tenant). A study another caller may not see is
  answered as unknown (404). ``run_trial`` (``tune:trial:run``, job only in practice) runs as the
  optimizer and checks that it may still run the study's trials.
- The PostgreSQL rows are the record (sampling.py says why Optuna's RDBStorage is not used): an
  actor that restarts rebuilds everything from them. A trial is recorded once (``(study,
  number)`` is unique and a trial leaves ``running`` once); a trial whose job ran twice (the
  queue is at-least-once) is recorded by the first run to finish and answered from the record
  by the second.
- Crash of aria_tune mid-trial (kill -9): the job's call fails, the queue retries it, and the
  trial runs again from the start with the same params (its intermediate values are reset);
  completed trials are untouched. A job that exhausted its attempts (or was cancelled) leaves
  its trial failed, found by the sweep, and the study goes on. A crash between reserving a trial
  and enqueueing its job leaves a trial without a job, enqueued again by the sweep after
  ``unqueued_grace_s`` (the queue's unique key on (study, number) refuses a second job).
- An objective that raises, returns NaN or infinity, or runs past ``trial_timeout_s`` fails its
  trial (the error is kept) and the study goes on; a timed-out objective's thread cannot be
  stopped and finishes in the background (its result is discarded).
- ``stop_study`` stops new trials; running ones finish and are recorded. ``delete_study``
  removes the study and its trials; jobs still queued for it find nothing and end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import reprlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.queue.client import QueueClient
from aria_actors.queue.jobs import FINISHED
from aria_actors.runtime.errors import AriaError, BadRequest, Forbidden, ServiceUnavailable, Unauthorized, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.tune import sampling
from aria_actors.tune.abtest import ABTesting
from aria_actors.tune.archsearch import ArchitectureSearch, directions_of, metric_values
from aria_actors.tune.autotune import AutoTuning
from aria_actors.tune.cacheopt import CacheOptimization
from aria_actors.tune.candidates import Candidates
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import InvalidSearchSpace, StudyExists, StudyStateConflict, UnknownStudy
from aria_actors.tune.objectives import Objective, Objectives
from aria_actors.tune.pipeline import PipelineOptimization
from aria_actors.tune.queryopt import QueryOptimization
from aria_actors.tune.resources import Resources
from aria_actors.tune.space import (
    STUDY_NAME,
    check_count,
    check_direction,
    check_pruner,
    check_sampler,
    check_space,
    finite,
)
from aria_actors.tune.spec import SPEC
from aria_actors.tune.store import Store, TuneStore
from aria_actors.tune.strategies import StrategyChoice

log = logging.getLogger("aria.tune")
ME = Principal.internal(SPEC.name)  # aria_tune acting for itself (the sweep reading jobs)
WORKER = "service:aria_tune.run_trial"
TRIAL_STATES = ("running", "complete", "pruned", "failed")
FINISHED_JOBS = frozenset(s.value for s in FINISHED)
MAX_LIST = 1000
MAX_SWEPT = 1000  # running trials one sweep looks at
_DONE = object()


def _tenant(caller: Principal) -> str:
    return caller.tenant or ""


def _name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(STUDY_NAME, value):
        raise BadRequest("a study name is 1-128 letters, digits and ._- (a letter or digit first)", field="name")
    return value


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def _next_step(steps: Iterator[Any]) -> Any:
    return next(steps, _DONE)


class TuneService(ABTesting, Candidates, ArchitectureSearch, PipelineOptimization, AutoTuning, CacheOptimization,
                  Resources, QueryOptimization, StrategyChoice, Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: TuneSettings | None = None, *, store: Store | None = None,
                 queue: Any = None) -> None:
        super().__init__(settings)
        self.config: TuneSettings = config or getattr(settings, "tune", None) or TuneSettings()
        self.objectives = Objectives(self.config.objectives)
        self._store: Store | None = store
        self._queue = queue
        self._db: Database | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._running: set[tuple[int, int]] = set()  # trials this process is evaluating now
        self._problems: dict[str, str] = {}
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        if self._store is None and deps.get("aria_data") is not None:
            data = deps.of(DataClient)
            dsn = await data.dsn(ME)
            await data.migrate(ME, SPEC.name)
            self._db = await Database.connect(dsn, name=SPEC.name, min_size=1, max_size=4)
            self._store = TuneStore(self._db)
        if self._queue is None and deps.get("aria_queue") is not None:
            self._queue = deps.of(QueueClient)
        if self._store is not None and self._queue is not None:
            self._sweeper = periodic(self.config.sweep_interval_s, self.sweep, what="sweeping studies", log=log)
        await self._autotune_start()
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STOPPED if self._stopped else Status.STARTING, "not started")
        missing = list(self.spec.missing)
        built = len(self.spec.features) - len(missing)
        details: dict[str, Any] = {"missing": missing, "capabilities": list(self.spec.capabilities),
                                   "objectives": self.objectives.names(), "evaluating": len(self._running)}
        if self._store is None:
            return Health(Status.DEGRADED, "no database (aria_data is not a dependency here)", details)
        try:
            details.update(await asyncio.wait_for(self._store.totals(), self.settings.health_timeout_s))
        except Exception as exc:  # the probe's job is to report it
            return Health(Status.DEGRADED, f"database unreachable: {brief(exc)}", details)
        if self._problems:
            details["problems"] = dict(self._problems)
        return Health(Status.NOT_IMPLEMENTED if missing else Status.READY,
                      f"{built} of {len(self.spec.features)} seed features built; {details['studies']} studies, "
                      f"{details['running_trials']} trials running", details)

    async def stop(self) -> None:
        await self._autotune_stop()
        await stop_task(self._sweeper)
        self._sweeper = None
        if self._db is not None:
            await self._db.close()
            self._db = None
            self._store = None
        self._started = False
        self._stopped = True

    def _records(self) -> Store:
        if self._store is None:
            raise ServiceUnavailable("aria_tune has no database here (aria_data is not a dependency)",
                                     service="aria_data")
        return self._store

    def _jobs(self) -> Any:
        if self._queue is None:
            raise ServiceUnavailable("aria_tune runs trials through aria_queue, which is not a dependency here",
                                     service="aria_queue")
        return self._queue

    # -- access ----------------------------------------------------------------------------------
    def _holds(self, caller: Principal, action: str, scope: str) -> bool:
        try:
            default_gate().check(RpcSpec(action, action, scope), caller)  # type: ignore[arg-type]
        except (Forbidden, Unauthorized):
            return False
        return True

    def _may(self, caller: Principal, action: str, study: dict[str, Any]) -> bool:
        gate = default_gate()
        if (study["tenant"] or None) != (_tenant(caller) or None):
            # another tenant's study (or a tenant-less one for a tenant's user): only an @any grant
            return gate.allowed(caller, action, {"owner": "\0nobody", "tenant": "\0elsewhere"})
        return gate.allowed(caller, action, {"owner": study["owner"], "tenant": study["tenant"] or None})

    async def _study_for(self, caller: Principal, name: Any, action: str) -> dict[str, Any]:
        """The caller's tenant's study ``name`` when the caller may do ``action`` on it; else unknown."""
        name = _name(name)
        study = await self._records().study(_tenant(caller), name)
        if study is None or not self._may(caller, action, study):
            raise UnknownStudy(f"no study {name!r}", name=name)
        return study

    # -- studies ---------------------------------------------------------------------------------
    @rpc("tune:study:list", feature="hyperparameters")
    async def list_objectives(self, caller: Principal) -> list[dict[str, Any]]:
        """The objectives a study may name, with their parameters, direction, known optimum and
        usual search space."""
        return self.objectives.describe()

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def create_study(self, caller: Principal, name: str, objective: str,
                           space: dict[str, Any] | None = None, direction: str | None = None,
                           sampler: dict[str, Any] | str | None = None, pruner: dict[str, Any] | str | None = None,
                           budget: int = 20, parallelism: int = 1) -> dict[str, Any]:
        """A new study of ``objective`` (a registered name) over ``space`` (default: the
        objective's usual space), created ``created``: ``optimize`` runs it."""
        name = _name(name)
        found: Objective = self.objectives.get(objective)
        space = found.space if space is None and found.space else space
        clean = check_space(space, self.config.max_params, self.config.max_choices)
        if found.params is not None and set(clean) != set(found.params):
            lacking, extra = sorted(set(found.params) - set(clean)), sorted(set(clean) - set(found.params))
            what = f"lacks {lacking}" if lacking else f"has parameters it does not take: {extra}"
            raise InvalidSearchSpace(f"{found.name} takes exactly {list(found.params)}; the space {what}",
                                     field=f"space.{(lacking or extra)[0]}")
        found.check_space(clean)  # an objective with declared bounds (din): the space within them
        row = {"name": name, "owner": caller.subject, "objective": found.name,
               "direction": check_direction(direction if direction is not None else found.direction or "minimize"),
               "space": clean, "sampler": check_sampler(sampler), "pruner": check_pruner(pruner),
               "budget": check_count(budget, "budget", self.config.max_trials),
               "parallelism": check_count(parallelism, "parallelism", self.config.max_parallelism)}
        made = await self._records().create_study(_tenant(caller), row)
        if made is None:
            raise StudyExists(f"a study named {name!r} exists already in this tenant", name=name)
        return await self._summary(made)

    async def _summary(self, study: dict[str, Any]) -> dict[str, Any]:
        store = self._records()
        counts = await store.counts(study["id"])
        best = await store.best(study["id"], study["direction"])
        optimizer = study.get("optimizer") or {}
        found = None
        with contextlib.suppress(AriaError):
            found = self.objectives.get(study["objective"])
        return {k: study[k] for k in ("id", "name", "owner", "objective", "direction", "space", "sampler",
                                      "pruner", "budget", "parallelism", "status", "created_at", "updated_at")} | {
            "optimizer": optimizer.get("subject"),
            "trials": {state: counts.get(state, 0) for state in TRIAL_STATES} | {"total": sum(counts.values())},
            "best": None if best is None else {k: best[k] for k in ("number", "params", "value")},
            "optimum": found.optimum if found else None,
        }

    @rpc("tune:study:read", scope="own", feature="hyperparameters")
    async def get_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """A study: settings, status, trial counts by state, and its best trial."""
        return await self._summary(await self._study_for(caller, name, "tune:study:read"))

    @rpc("tune:study:list", scope="own", feature="hyperparameters")
    async def list_studies(self, caller: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Studies the caller may see in its tenant, newest first: its own, or (``@tenant``) all."""
        limit = _int(limit, "limit", 1, MAX_LIST)
        owner = None if self._holds(caller, "tune:study:list", "tenant") else caller.subject
        rows = await self._records().studies(_tenant(caller), owner, limit)
        return [{k: r[k] for k in ("id", "name", "owner", "objective", "direction", "status", "budget",
                                   "parallelism", "trials", "running", "best_value", "created_at")} for r in rows]

    @rpc("tune:study:read", scope="own", feature="hyperparameters")
    async def list_trials(self, caller: Principal, name: str, state: str | None = None, after: int = 0,
                          limit: int = MAX_LIST) -> dict[str, Any]:
        """A study's trials in number order (from ``after``, at most ``limit``; ``state`` filters)."""
        if state is not None and state not in TRIAL_STATES:
            raise BadRequest(f"state must be one of {list(TRIAL_STATES)}", field="state")
        after = _int(after, "after", 0, 2**31 - 1)
        limit = _int(limit, "limit", 1, MAX_LIST)
        study = await self._study_for(caller, name, "tune:study:read")
        rows = await self._records().trials(study["id"], state, after, limit)
        keep = ("number", "state", "params", "value", "intermediate", "attempts", "error", "created_at",
                "started_at", "finished_at")
        return {"study": study["name"], "trials": [{k: r[k] for k in keep} for r in rows]}

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def optimize(self, caller: Principal, name: str, budget: int | None = None,
                       parallelism: int | None = None) -> dict[str, Any]:
        """Start (or continue) a study: its trials are enqueued, ``parallelism`` at a time, until
        ``budget`` trials have run. A larger ``budget`` continues a completed study."""
        study = await self._study_for(caller, name, "tune:study:write")
        store = self._records()
        counts = await store.counts(study["id"])
        total = sum(counts.values())
        budget = study["budget"] if budget is None else check_count(budget, "budget", self.config.max_trials)
        if budget < total:
            raise StudyStateConflict(f"the study has {total} trials already; a budget must be at least that",
                                     field="budget", trials=total)
        parallelism = study["parallelism"] if parallelism is None else check_count(
            parallelism, "parallelism", self.config.max_parallelism)
        if total >= budget and not counts.get("running"):
            raise StudyStateConflict(f"study {study['name']!r} has spent its budget of {budget} trials; optimize "
                                     "with a larger budget to continue", status=study["status"], budget=budget)
        self._jobs()
        updated = await store.update_study(study["id"], "running", budget, parallelism, caller.to_dict())
        if updated is None:
            raise UnknownStudy(f"no study {study['name']!r}", name=study["name"])
        enqueued = await self._top_up(study["id"], caller)
        return {**await self._summary(await store.study_by_id(study["id"]) or updated), "enqueued": enqueued}

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def stop_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Stop enqueueing trials; those running finish and are recorded. ``optimize`` resumes."""
        study = await self._study_for(caller, name, "tune:study:write")
        if study["status"] == "running":
            await self._records().update_study(study["id"], "stopped", study["budget"], study["parallelism"], None)
        return await self._summary(await self._records().study_by_id(study["id"]) or study)

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def delete_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Delete a study and its trials (jobs still queued for it end without running)."""
        study = await self._study_for(caller, name, "tune:study:write")
        if not await self._records().delete_study(study["id"]):
            raise UnknownStudy(f"no study {study['name']!r}", name=study["name"])
        return {"deleted": study["name"]}

    # -- trials ----------------------------------------------------------------------------------
    async def _top_up(self, study_id: int, caller: Principal) -> int:
        """Reserve and enqueue the trials the study has room for; mark it completed when its budget
        is spent and nothing runs. The number of trials enqueued."""
        store = self._records()

        async def propose(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
            return await asyncio.to_thread(sampling.next_params, directions_of(study), study["space"],
                                           study["sampler"], trials, study["id"])

        made = await store.reserve(study_id, propose)
        enqueued = 0
        for trial in made:
            if await self._enqueue(study_id, int(trial["number"]), caller):
                enqueued += 1
        if not made:
            await store.complete_if_done(study_id)
        return enqueued

    async def _enqueue(self, study_id: int, number: int, caller: Principal) -> bool:
        try:
            # No unique key: one any editor could enqueue first (for a study id to come, or scheduled
            # years ahead) would block the real trial's job for ever. A second delivery of the same
            # trial is harmless: run_trial evaluates a trial once (the _running guard, start_trial).
            job = await self._jobs().enqueue(caller, WORKER, {"study_id": study_id, "number": number},
                                             max_attempts=self.config.trial_attempts)
        except AriaError as exc:
            if exc.status in (401, 403):  # the optimizer lost its rights: no trial of it can run as it
                store = self._records()
                await store.finish(study_id, number, "failed", None,
                                   f"its optimizer may no longer enqueue it: {exc.message}")
                study = await store.study_by_id(study_id)
                if study is not None and study["status"] == "running":
                    await store.update_study(study_id, "stopped", study["budget"], study["parallelism"], None)
                self._problems[f"study:{study_id}"] = f"stopped: its optimizer may not enqueue trials ({exc.message})"
                return False
            self._problems["enqueue"] = f"trial {study_id}/{number} not enqueued: {exc.message}"
            return False
        except Exception as exc:  # the sweep enqueues it again after unqueued_grace_s
            self._problems["enqueue"] = f"trial {study_id}/{number} not enqueued: {brief(exc)}"
            log.warning("enqueueing trial %s/%s failed", study_id, number, exc_info=True)
            return False
        self._problems.pop("enqueue", None)
        await self._records().set_job(study_id, number, int(job["id"]))
        return True

    @rpc("tune:trial:run", scope="own", job=True, feature="hyperparameters")
    async def run_trial(self, caller: Principal, study_id: int, number: int) -> dict[str, Any]:
        """Run trial ``number`` of study ``study_id`` (what a ``service:aria_tune.run_trial`` job
        calls, as the study's optimizer): evaluate, record once, enqueue the next trials."""
        study_id = _int(study_id, "study_id", 1, 2**63 - 1)
        number = _int(number, "number", 0, 2**31 - 1)
        store = self._records()
        study = await store.study_by_id(study_id)
        if study is None:
            return {"study_id": study_id, "number": number, "state": None, "skipped": "the study was deleted"}
        if not self._may(caller, "tune:trial:run", study):
            raise Forbidden(f"{caller.subject!r} may not run trials of study {study['name']!r}",
                            action="tune:trial:run")
        key = (study_id, number)
        if key in self._running:  # a second delivery while this process evaluates it: the first records it
            return {"study_id": study_id, "number": number, "state": "running", "skipped": "running here already"}
        self._running.add(key)  # before any await: two deliveries cannot both pass the check above
        recorded = None
        try:
            trial = await store.trial(study_id, number)
            if trial is None:
                return {"study_id": study_id, "number": number, "state": None, "skipped": "no such trial"}
            if trial["state"] == "running":
                started = await store.start_trial(study_id, number)
                if started is not None:
                    state, value, error = await self._evaluate(study, started, caller)
                    recorded = await store.finish(study_id, number, state, value, error)
        finally:
            self._running.discard(key)
        final = recorded or await store.trial(study_id, number) or trial
        await self._top_up(study_id, caller)
        return {"study_id": study_id, "study": study["name"], "number": number, "state": final["state"],
                "value": final["value"], "error": final["error"], "recorded": recorded is not None}

    async def _evaluate(self, study: dict[str, Any], trial: dict[str, Any],
                        caller: Principal | None = None) -> tuple[str, Any, str | None]:
        """``(state, value, error)`` of one run of the trial's objective (``value`` a list for a
        study of several objectives: archsearch.py)."""
        try:
            objective = self.objectives.get(study["objective"])
        except AriaError as exc:
            return "failed", None, f"objective {study['objective']!r} is not registered any more: {exc.message}"
        deadline = time.monotonic() + self.config.trial_timeout_s
        params = trial["params"]
        try:
            # din: calls aria_interpret as the caller (a context only for objectives that call services)
            evaluate = objective.bound(self._objective_context(caller) if objective.bind else None)
            result = await asyncio.wait_for(asyncio.to_thread(evaluate, params), self.config.trial_timeout_s)
            if objective.metrics is not None:  # {metric: value}: the study's metrics from it
                return metric_values(study, objective, result)
            if isinstance(result, Iterable) and not isinstance(result, str | bytes):
                return await self._steps(study, trial, iter(result), deadline)
            value = finite(result)  # inside the try: a huge int or an odd object is the trial's failure
            if value is None:
                return "failed", None, f"the objective returned {reprlib.repr(result)}, not a finite number"
        except TimeoutError:
            return "failed", None, f"the objective ran past trial_timeout_s ({self.config.trial_timeout_s:g} s)"
        except Exception as exc:  # the objective's own failure: the trial's, not the study's
            return "failed", None, f"the objective raised {type(exc).__name__}: {brief(exc)}"[:2000]
        return "complete", value, None

    async def _steps(self, study: dict[str, Any], trial: dict[str, Any], steps: Iterator[Any],
                     deadline: float) -> tuple[str, float | None, str | None]:
        """Drive an objective that reports intermediate values: store each, ask the pruner."""
        store = self._records()
        last: float | None = None
        for step in range(1_000_000):
            got = await asyncio.wait_for(asyncio.to_thread(_next_step, steps), max(0.0, deadline - time.monotonic()))
            if got is _DONE:
                break
            value = finite(got)
            if value is None:
                return "failed", None, f"step {step} reported {str(got)[:100]!r}, not a finite number"
            last = value
            reported = await store.report(study["id"], trial["number"], step, value)
            if reported is None:  # finished meanwhile (the sweep, a study deleted): stop evaluating
                return "failed", None, "the trial was finished elsewhere while running"
            others = [t for t in await store.all_trials(study["id"]) if t["number"] != trial["number"]]
            if await asyncio.to_thread(sampling.should_prune, study["direction"], study["pruner"], study["space"],
                                       others, reported):
                with contextlib.suppress(Exception):
                    steps.close()  # type: ignore[attr-defined]
                return "pruned", None, None
        if last is None:
            return "failed", None, "the objective reported no value"
        return "complete", last, None

    # -- the sweep ---------------------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Fail trials whose job ended without recording them, enqueue again trials that never got
        a job, top up running studies. Counts of each."""
        store, queue = self._records(), self._jobs()
        failed = requeued = 0
        studies: dict[int, dict[str, Any] | None] = {}
        for t in await store.running_trials(MAX_SWEPT):
            study_id, number = int(t["study_id"]), int(t["number"])
            if (study_id, number) in self._running:
                continue
            if t["job_id"] is None:
                if t["age_s"] < self.config.unqueued_grace_s:
                    continue
                if study_id not in studies:
                    studies[study_id] = await store.study_by_id(study_id)
                study = studies[study_id]
                if study is not None and study.get("optimizer"):
                    requeued += await self._enqueue(study_id, number, Principal.from_dict(study["optimizer"]))
                continue
            try:
                job = await queue.get_job(ME, int(t["job_id"]))
            except AriaError as exc:
                if exc.status != 404:
                    continue
                job = {"state": "gone", "errors": [{"error": "the job is not in aria_queue any more"}]}
            if job.get("state") in FINISHED_JOBS or job.get("state") == "gone":
                errors = job.get("errors") or [{}]
                why = str((errors[-1] or {}).get("error") or "")[:500]
                if await store.finish(study_id, number, "failed", None,
                                      f"its job {t['job_id']} ended {job.get('state')} without recording it: {why}"):
                    failed += 1
        topped = 0
        for study in await store.running_studies(MAX_LIST):
            if study.get("optimizer"):
                try:  # one study's fault must not stop the sweep of the others
                    topped += await self._top_up(int(study["id"]), Principal.from_dict(study["optimizer"]))
                except Exception as exc:
                    self._problems[f"study:{study['id']}"] = f"top-up failed: {brief(exc)}"
                    log.warning("top-up of study %s failed", study["id"], exc_info=True)
        return {"failed": failed, "requeued": requeued, "enqueued": topped}
