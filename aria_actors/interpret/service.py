"""aria_interpret: understanding of character text, analytics of what characters and players do,
and a DIN recommender trained as queue jobs and served by Ray Serve.

::

    text      embed / analyze / consistency / put_character / similar   (text.TextAnalyzer:
              MiniLM embeddings, spaCy entities and traits, VADER sentiment; exact cosine search
              over the tenant's stored characters)
    events    record(events) -> aria_interpret.events (actions, interactions, states, picks,
              feedback) -> the analytics (analytics.*) and the recommender's training data
    analytics patterns / interaction_stats / development / recommend_attributes /
              recommend_traits: fitted on the tenant's newest events at each call, each with its
              evaluation metric in the answer
    trials    start_din_trial / din_trial_epoch / end_din_trial (din_trials.py): evaluate-only
              training on a subset, validation metric per epoch, nothing stored
    DIN       start_training -> aria_queue job aria_interpret.train (training.py) -> artifact in
              aria_storage -> registered here -> promote / rollback / set_traffic (A/B)
              recommend(user, candidates) -> the served version (or the split's pick for the
              user) on its backend (serving.backends: Serve replicas, batched) -> ranked items

Guarantees and caveats
----------------------
- Only the ``@rpc`` methods are callable from outside, each checked as its caller: reading text
  ``interpret:text:read``, characters ``interpret:character:*``, events ``interpret:event:write``,
  analyses ``interpret:analysis:read``, recommendations ``interpret:recommendation:read``,
  training ``interpret:model:train``, evaluate-only trials (din_trials.py, what aria_tune's
  ``din`` objectives call) ``interpret:trial:run``; promotion, rollback and the A/B split need
  ``interpret:model:deploy@any`` (model versions serve every tenant). Tenants' events and
  characters are kept apart by row-level security.
- Import-light: torch, transformers and spaCy load on the first call that needs them (text or
  scoring), never at start; analytics use numpy/scipy only.
- Health is ``ready`` when the store answers and the served version (if any) loads; a served
  version that no longer loads makes it ``degraded`` while the previous scorer (if one was
  loaded) keeps serving.
- Promotion and rollback are single transactions (served version, split cleared, promotion row);
  a version whose artifact fails to load (corrupted in storage, sha256 mismatch) is refused with
  :class:`ModelArtifactError` before anything changes, so the previous version keeps serving.
- Cold start: a user with no recorded feedback is scored with an empty history (the model's
  answer for a new user); candidates the model never saw get the scorer's defined fallback; the
  answer names the fallback used. No served model at all is a 409 (:class:`NoModel`).
- A/B: while a split runs, each user is routed stickily (hash of the user id) and the version's
  request and feedback counters are kept in memory and flushed every ``ab_flush_s`` (a crash loses
  at most that interval's counts); feedback events recorded for a user count for the version that
  user is routed to, once per user (a newer score replaces the user's earlier one, so repeating
  events cannot sway the test), and only from the caller that asked for that user's
  recommendations last (no other writer rewrites its users' scores). The caller names its users: a
  caller that invents user ids speaks for them (a product's backend is trusted with its players).
  Who was served and their score are kept in memory for the newest 100,000 users: after a restart,
  or once pushed out, a user counts again when served again.
- Retraining on a schedule: an aria_queue cron entry naming ``service:aria_interpret.retrain``
  (a job method) trains a new version on the tenant's interactions and promotes it when its test
  GAUC is at least the served version's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.interpret.analysis import AnalysisMixin, _int
from aria_actors.interpret.din_trials import DinTrialsMixin, refused
from aria_actors.interpret.errors import (
    InvalidFeatures,
    InvalidTraffic,
    ModelArtifactError,
    NoModel,
    NotEnoughData,
    UnknownModelVersion,
)
from aria_actors.interpret.events import parse_events
from aria_actors.interpret.spec import SPEC
from aria_actors.interpret.store import InterpretStore
from aria_actors.interpret.training import (
    DATASETS,
    VERSION,
    WORKER,
    TrainArgs,
    TrainResult,
    dataset_asset,
    din_config,
    model_asset,
    snapshot_bytes,
)
from aria_actors.queue.client import QueueClient
from aria_actors.queue.jobs import FINISHED, JobState
from aria_actors.runtime.errors import AriaError, BadRequest, Conflict, NotFound, ServiceUnavailable, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.shape.inference.traffic import TrafficSplit, score_change
from aria_actors.storage.client import StorageClient

log = logging.getLogger("aria.interpret")
ME = Principal.internal(SPEC.name)  # aria_interpret acting for itself (start-up, background sync)
ITEM = r"^[A-Za-z0-9_.:@-]{1,128}$"
MAX_CHARACTERS = 50_000  # stored characters one similarity search scans (exact search)
INDEX_CACHE = 16  # tenants whose character index is kept built
AB_USERS = 100_000  # users the A/B split served recently, whose feedback counts for their arm
MAX_CANDIDATES = 1000  # the scorer's bound
MAX_WEIGHT = 1e6
FINISHED_STATES = frozenset(s.value for s in FINISHED)
# What training and promoting need, checked inside methods that do either on the caller's behalf.
TRAIN = RpcSpec("aria_interpret.train", "interpret:model:train", scope="any")
DEPLOY = RpcSpec("aria_interpret.promote", "interpret:model:deploy", scope="any")


def _tenant(caller: Principal) -> str:
    return caller.tenant or ""


def _check_k(k: Any, high: int = 1000) -> int:
    return _int(k, "k", 1, high)


def _params_config(params: Any) -> dict[str, Any]:
    """The DIN settings of a search's flat hyperparameters (BadRequest naming ``params.<name>``)."""
    # heavy: numpy and the trainer's module (torch loads only when a Trainer is made)
    from aria_actors.interpret.din.trial import BadParam, params_config

    try:
        return params_config(params)
    except BadParam as exc:
        raise refused(exc) from None


def _check_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(ITEM, value):
        raise InvalidFeatures(f"{field} must be 1-128 characters of letters, digits and _.:@-", field=field)
    return value


def _check_ids(values: Any, field: str, limit: int) -> list[str]:
    if not isinstance(values, list) or len(values) > limit:
        raise InvalidFeatures(f"{field} must be a list of at most {limit} ids", field=field, limit=limit)
    return [_check_id(v, f"{field}[{i}]") for i, v in enumerate(values)]


class InterpretService(AnalysisMixin, DinTrialsMixin, Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: Any = None) -> None:
        super().__init__(settings)
        self.config = config or settings.interpret
        self._started = False
        self._stopped = False
        self._db: Database | None = None
        self._store: InterpretStore | None = None
        self._queue: QueueClient | None = None
        self._storage: StorageClient | None = None
        self._text: Any = None  # text.TextAnalyzer, loaded on first use
        self._text_lock = asyncio.Lock()
        self._backend: Any = None  # serving.backends.*, created on first use
        self._served: str | None = None
        self._traffic: TrafficSplit | None = None
        self._serving_lock = asyncio.Lock()
        self._problems: dict[str, str] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._feedback: dict[str, tuple[int, float, float]] = {}  # A/B feedback not flushed: n, sum, sum of squares
        # (tenant, user) -> (arm served, the user's counted score or None, the caller who asked for
        # the user's recommendations last): one score per user, from that caller's events only
        self._ab_users: OrderedDict[tuple[str, str], tuple[str, float | None, str]] = OrderedDict()
        self._indexes: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # tenant -> (key, VectorIndex)
        self._load_locks: dict[str, asyncio.Lock] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        if deps.get("aria_data") is not None:
            data = deps.of(DataClient)
            dsn = await data.dsn(ME)
            await data.migrate(ME, SPEC.name)
            self._db = await Database.connect(dsn, name=SPEC.name, min_size=1, max_size=4)
            self._store = InterpretStore(self._db)
        if deps.get("aria_storage") is not None:
            self._storage = deps.of(StorageClient)
        if deps.get("aria_queue") is not None:
            self._queue = deps.of(QueueClient)
        if self._store is not None:
            await self._restore_serving()
            self._flusher = periodic(self.config.ab_flush_s, self._flush_ab, what="flushing A/B counters", log=log)
            if self._queue is not None:
                self._watcher = periodic(self.config.train_poll_s, self._sync_training,
                                         what="registering finished training jobs", log=log)
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STOPPED if self._stopped else Status.STARTING, "not started")
        details: dict[str, Any] = {"served_version": self._served,
                                   "traffic": self._traffic.weights if self._traffic else None,
                                   "text_models": "loaded" if self._text is not None else "load on first use"}
        if self._store is None:
            details["store"] = "none (no aria_data dependency): text only"
        else:
            try:
                await self._db.ping(self.settings.health_timeout_s)  # type: ignore[union-attr]
            except Exception as exc:  # the probe's job is to report it
                return Health(Status.DEGRADED, f"database unreachable: {brief(exc)}", details)
        if self._backend is not None:
            details["scoring"] = {"backend": self._backend.kind, "versions": await self._backend.states()}
        if self._problems:
            details["problems"] = dict(self._problems)
            return Health(Status.DEGRADED, "; ".join(self._problems.values()), details)
        return Health(Status.READY, f"serving {self._served or 'no model yet'}", details)

    async def stop(self) -> None:
        for task in (self._watcher, self._flusher):
            if task is not None:
                await stop_task(task)
        self._watcher = self._flusher = None
        with contextlib.suppress(Exception):  # the last counts; a dead pool loses them (documented)
            await self._flush_ab()
        if self._backend is not None:
            await self._backend.close()
            self._backend = None
        if self._db is not None:
            await self._db.close()
            self._db = self._store = None
        self._started = False
        self._stopped = True

    def _records(self) -> InterpretStore:
        if self._store is None:
            raise ServiceUnavailable("aria_interpret has no database here (aria_data is not a dependency)",
                                     service="aria_data")
        return self._store

    # -- text --------------------------------------------------------------------------------------
    async def _analyzer(self) -> Any:
        if self._text is None:
            async with self._text_lock:
                if self._text is None:
                    cache = Path(self.config.cache_dir or Path(self.settings.home) / "interpret") / "personality"
                    self._text = await asyncio.to_thread(_load_text_models, self.config.num_threads, cache)
        return self._text

    @rpc("interpret:text:read", feature="nlp")
    async def embed(self, caller: Principal, texts: list[str]) -> dict[str, Any]:
        """Unit-length all-MiniLM-L6-v2 vectors (384 dimensions) of ``texts``, in order."""
        analyzer = await self._analyzer()
        vectors = await asyncio.to_thread(analyzer.embed, texts)
        return {"model": "all-MiniLM-L6-v2", "dimension": 384, "vectors": vectors}

    @rpc("interpret:text:read", features=("nlp", "trait-analysis"))
    async def analyze(self, caller: Principal, text: str, traits: list[str] | None = None) -> dict[str, Any]:
        """Entities, traits, sentiment of a description (and, with ``traits``, their consistency)."""
        analyzer = await self._analyzer()
        return await asyncio.to_thread(analyzer.analyze, text, traits)

    @rpc("interpret:text:read", feature="trait-analysis")
    async def consistency(self, caller: Principal, traits: list[str], text: str) -> dict[str, Any]:
        """How well ``text`` supports each trait: supported, absent or contradicted, and overall."""
        if not isinstance(traits, list) or not traits:
            raise BadRequest("traits must be a non-empty list of traits", field="traits")
        analyzer = await self._analyzer()
        analysis = await asyncio.to_thread(analyzer.analyze, text, traits)
        return analysis["consistency"]

    @rpc("interpret:character:write", features=("trait-analysis", "content-recommendations"))
    async def put_character(self, caller: Principal, character_id: str, description: str,
                            traits: list[str] | None = None) -> dict[str, Any]:
        """Store a character's description, traits and embedding (for similarity search and
        content-based recommendations); the answer holds the analysis of the description."""
        _check_id(character_id, "character_id")
        store = self._records()
        analyzer = await self._analyzer()
        analysis = await asyncio.to_thread(analyzer.analyze, description, traits, embedding=True)
        found = [t["trait"] for t in analysis.get("traits", []) if not t.get("negated")]
        stored_traits = list(traits) if traits else found
        saved = await store.put_character(_tenant(caller), character_id, description, stored_traits,
                                          analysis.pop("embedding"))
        return {**saved, "analysis": analysis}

    @rpc("interpret:character:read", feature="trait-analysis")
    async def get_character(self, caller: Principal, character_id: str) -> dict[str, Any]:
        _check_id(character_id, "character_id")
        found = await self._records().character(_tenant(caller), character_id)
        if found is None:
            raise NotFound(f"no character {character_id!r}", character_id=character_id)
        found.pop("embedding", None)
        return found

    @rpc("interpret:character:delete", feature="trait-analysis")
    async def delete_character(self, caller: Principal, character_id: str) -> dict[str, Any]:
        _check_id(character_id, "character_id")
        if not await self._records().delete_character(_tenant(caller), character_id):
            raise NotFound(f"no character {character_id!r}", character_id=character_id)
        return {"deleted": character_id}

    async def _index(self, tenant: str) -> Any:
        """The tenant's characters as a vector index, rebuilt only when they changed (an LRU of
        INDEX_CACHE tenants): a search reads one float32 matrix, not the table."""
        # heavy: numpy only, but kept with the rest of the text package, loaded on first use
        from aria_actors.interpret.text.index import VectorIndex

        store = self._records()
        key = await store.characters_key(tenant)
        cached = self._indexes.get(tenant)
        if cached is not None and cached[0] == key:
            self._indexes.move_to_end(tenant)
            return cached[1]
        rows = await store.characters(tenant, MAX_CHARACTERS)
        index = VectorIndex()
        if rows:
            index.add([r["character_id"] for r in rows], [r["embedding"] for r in rows])
        self._indexes[tenant] = (key, index)
        while len(self._indexes) > INDEX_CACHE:
            self._indexes.popitem(last=False)
        return index

    @rpc("interpret:character:read", feature="nlp")
    async def similar(self, caller: Principal, character_id: str | None = None, text: str | None = None,
                      k: int = 10) -> dict[str, Any]:
        """The ``k`` stored characters most similar (cosine of description embeddings) to a stored
        character or to a text; exact search."""
        _check_k(k)
        if (character_id is None) == (text is None):
            raise BadRequest("give character_id or text, not both", field="character_id")
        tenant = _tenant(caller)
        if character_id is not None:
            _check_id(character_id, "character_id")
            found = await self._records().character(tenant, character_id)
            if found is None:
                raise NotFound(f"no character {character_id!r}", character_id=character_id)
            vector = found["embedding"]
        else:
            analyzer = await self._analyzer()
            vector = (await asyncio.to_thread(analyzer.embed, [text]))[0]
        index = await self._index(tenant)
        exclude = (character_id,) if character_id else ()
        hits = index.search(vector, k, exclude=exclude) if len(index) else []
        return {"search": "exact", "results": [{"character_id": i, "score": float(s)} for i, s in hits]}

    # -- events --------------------------------------------------------------------------------------
    @rpc("interpret:event:write", features=("behavior-patterns", "interaction-stats", "predictive-models",
                                            "collaborative-filtering", "din"))
    async def record(self, caller: Principal, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Store events (actions, interactions, states, picks, feedback); all or none."""
        parsed = parse_events(events, self.config.max_events)
        tenant = _tenant(caller)
        stored = await self._records().add_events(tenant, [e.row() for e in parsed])
        if self._traffic is not None:
            for e in parsed:
                # Feedback counts for the arm that served this user: only users the split served
                # (recently, this tenant's) at this caller's request, with the value clipped, and
                # once per user: a user's newer score replaces theirs, so that no writer can sway
                # the leader by repeating events or rewrite the scores of users another caller
                # served. (The caller names its users: one that invents user ids speaks for them.)
                served = self._ab_users.get((tenant, e.subject)) if e.kind == "feedback" else None
                if served is not None and served[0] in self._traffic.weights and served[2] == caller.subject:
                    self._count_feedback(self._traffic, tenant, e.subject, served[0], served[1],
                                         min(1.0, max(-1.0, e.value)), caller.subject)
        return {"recorded": stored}

    def _count_feedback(self, split: TrafficSplit, tenant: str, user: str, version: str, before: float | None,
                        value: float, asked_by: str) -> None:
        n, s, ss = self._feedback.get(version, (0, 0.0, 0.0))
        dn, ds, dss = score_change(value, before)
        self._feedback[version] = (n + dn, s + ds, ss + dss)
        split.feedback(version, value, replaces=before)
        self._ab_users[(tenant, user)] = (version, value, asked_by)

    @rpc("interpret:analysis:read", features=("behavior-patterns", "interaction-stats", "predictive-models",
                                              "collaborative-filtering", "din"))
    async def event_counts(self, caller: Principal) -> dict[str, int]:
        """How many events of each kind the caller's tenant has recorded."""
        return await self._records().counts(_tenant(caller))

    async def _events(self, caller: Principal, kind: str) -> list[dict[str, Any]]:
        return await self._records().events(_tenant(caller), kind, self.config.max_analysis_events)

    # -- recommender: training ------------------------------------------------------------------------
    def _jobs(self) -> QueueClient:
        if self._queue is None:
            raise ServiceUnavailable("aria_interpret trains through aria_queue, which is not a dependency here",
                                     service="aria_queue")
        return self._queue

    # A version serves every tenant, so making one is an operator's act (as registering a model is
    # in aria_shape): training needs the permission across tenants, and trains on tenant-less data.
    @rpc("interpret:model:train", scope="any", job=True, feature="din")
    async def start_training(self, caller: Principal, version: str, dataset: str = "interactions",
                             config: dict[str, Any] | None = None, promote: bool = False,
                             params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Enqueue the DIN training of ``version`` on ``dataset`` (the tenant-less feedback events,
        or the shipped MovieLens-100k), run as the caller; ``promote``: serve it when it is done,
        which needs ``interpret:model:deploy@any`` as promoting does. ``params``: a search's flat
        hyperparameters (a study's best trial, as a DIN trial takes them), under ``config``."""
        if not isinstance(promote, bool):
            raise BadRequest("promote must be a boolean", field="promote")
        if promote:
            default_gate().check(DEPLOY, caller)
        if params is not None:
            if config is not None and not isinstance(config, dict):
                raise BadRequest("config must be an object of DIN settings", field="config")
            config = {**_params_config(params), **(config or {})}
        return await self._start(caller, version, dataset, config, "yes" if promote else "no")

    async def _start(self, caller: Principal, version: str, dataset: str, config: dict[str, Any] | None,
                     promote: str) -> dict[str, Any]:
        _check_version(version)
        if dataset not in DATASETS:
            raise BadRequest(f"dataset must be one of {list(DATASETS)}", field="dataset")
        if config is not None and not isinstance(config, dict):
            raise BadRequest("config must be an object of DIN settings", field="config")
        try:
            din_config(config or {})
        except ValueError as exc:
            raise BadRequest(str(exc), field="config") from None
        store = self._records()
        queue = self._jobs()
        if await store.run_of_version(version) is not None or await self._version_exists(version):
            raise Conflict(f"model version {version!r} exists already; choose a new id", version=version)
        snapshot = None
        if dataset == "interactions":
            rows = await store.events("", "feedback", self.config.max_analysis_events)
            if len(rows) < 10:
                raise NotEnoughData(f"training on interactions needs at least 10 tenant-less feedback events; "
                                    f"there are {len(rows)}", events=len(rows))
            if self._storage is None:
                raise ServiceUnavailable("aria_storage is not a dependency here", service="aria_storage")
            put = await self._storage.put(caller, dataset_asset(version), snapshot_bytes(rows),
                                          content_type="application/x-ndjson", metadata={"version": version})
            snapshot = {"name": dataset_asset(version), "version": int(put["version"])}
        args = TrainArgs(version=version, dataset=dataset, snapshot=snapshot, config=config or {})  # type: ignore[arg-type]
        body = args.model_dump(mode="json")
        job = await queue.enqueue(caller, WORKER, body, unique={"period": None, "keys": ["version"]})
        if job.get("conflict"):
            # Ours only if exactly what this call enqueues (a start that stopped before recording
            # it): same worker, same enqueuer, same arguments. Anything else holds the version.
            by = (job.get("enqueued_by") or {}).get("subject")
            if job.get("worker") != WORKER or by != caller.subject or job.get("args") != body:
                raise Conflict(f"training job {job['id']} holds model version {version!r} but was not started by "
                               "aria_interpret with these arguments: it is never registered; cancel it or train "
                               "under another version id", job_id=job["id"], version=version)
        await store.add_run(int(job["id"]), version, dataset, caller.subject, promote)
        return {"job_id": job["id"], "version": version, "dataset": dataset, "state": job.get("state"),
                "promote": promote}

    async def _version_exists(self, version: str) -> bool:
        try:
            await self._records().version(version)
        except UnknownModelVersion:
            return False
        return True

    @rpc("interpret:model:read", feature="din")
    async def training_status(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """A training job as the caller may read it (another's job is not found), and the version
        it made once registered (registered now when the caller may train, else by the poll)."""
        if isinstance(job_id, bool) or not isinstance(job_id, int) or not 1 <= job_id < 2**63:
            raise BadRequest("job_id must be a positive integer", field="job_id")
        job = await self._jobs().get_job(caller, job_id)
        run = await self._records().run(job_id)
        out: dict[str, Any] = {"job_id": job_id, "state": job["state"], "attempt": job.get("attempt"),
                               "errors": [str(e.get("error") or "")[:500] for e in job.get("errors") or []],
                               "version": run["version"] if run else None, "error": run["error"] if run else None,
                               "registered": None}
        if run is None:
            return out
        if job["state"] == JobState.COMPLETED.value and _may(caller, TRAIN):
            await self._register_safely(run, job)
        with contextlib.suppress(UnknownModelVersion):
            out["registered"] = await self._records().version(run["version"])
        return out

    async def _sync_training(self) -> None:
        """Register the versions of recorded jobs that completed; note the ones that failed."""
        store, queue = self._store, self._queue
        if store is None or queue is None:
            return
        for run in await store.pending_runs():
            try:
                job = await queue.get_job(ME, int(run["job_id"]))
            except AriaError as exc:
                if exc.status == 404:  # pruned or never there: nothing will register it
                    await store.fail_run(int(run["job_id"]), f"job not found: {exc.message}")
                continue
            state = str(job.get("state"))
            if state == JobState.COMPLETED.value:
                await self._register_safely(run, job)
            elif state in FINISHED_STATES:
                errors = job.get("errors") or [{}]
                await store.fail_run(int(run["job_id"]), f"{state}: {str(errors[-1].get('error') or '')[:500]}")

    async def _register_safely(self, run: dict[str, Any], job: dict[str, Any]) -> None:
        """:meth:`_register`, a result that does not validate failing its run alone (never the
        poll, nor the runs after it)."""
        try:
            await self._register(run, job)
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            await self._records().fail_run(int(run["job_id"]), f"the job's result does not validate: {brief(exc)}")

    async def _register(self, run: dict[str, Any], job: dict[str, Any]) -> None:
        store = self._records()
        if job.get("worker") != WORKER:
            await store.fail_run(int(run["job_id"]), f"job {run['job_id']} is not an {WORKER} job")
            return
        result = TrainResult.model_validate(job.get("result"))
        if result.version != run["version"] or result.asset != model_asset(run["version"]):
            await store.fail_run(int(run["job_id"]), "the job's result names another version or asset")
            return
        added = await store.add_version(run["version"], result.asset, result.asset_version, result.sha256,
                                        run["dataset"], self._served, result.metrics, result.config,
                                        int(run["job_id"]))
        if added and run.get("promote") in ("yes", "if-better"):
            if run["promote"] == "if-better" and not await self._better(run["version"]):
                return
            try:
                await self._promote(run["version"], f"trained, promote={run['promote']}", run.get("enqueuer") or "")
            except AriaError as exc:
                self._problems[f"promote:{run['version']}"] = f"could not promote {run['version']!r}: {exc.message}"

    async def _better(self, version: str) -> bool:
        """Whether ``version``'s test GAUC is at least the served version's on the same dataset
        (True with none served; False when they were evaluated on different data)."""
        if self._served is None:
            return True
        new, old = await self._records().version(version), await self._records().version(self._served)
        if new["dataset"] != old["dataset"]:
            return False
        new_gauc, old_gauc = _test_gauc(new["metrics"]), _test_gauc(old["metrics"])
        return new_gauc is not None and (old_gauc is None or new_gauc >= old_gauc)

    @rpc("interpret:model:list", feature="din")
    async def list_versions(self, caller: Principal) -> dict[str, Any]:
        store = self._records()
        serving = await store.serving()
        return {"served": serving["served"], "traffic": serving["traffic"], "versions": await store.versions(),
                "promotions": await store.promotions(20)}

    @rpc("interpret:model:read", feature="din")
    async def get_version(self, caller: Principal, version: str) -> dict[str, Any]:
        return await self._records().version(_check_version(version))

    @rpc("interpret:model:deploy", scope="any", job=True, feature="din")
    async def retrain(self, caller: Principal, dataset: str = "interactions") -> dict[str, Any]:
        """What a cron entry runs: train a new version on ``dataset`` and promote it when its test
        GAUC is at least the served version's on the same dataset (the first version is promoted).
        Needs the right to promote (``deploy@any``), and to train."""
        default_gate().check(TRAIN, caller)
        version = "auto-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{int(time.time() * 1000) % 1000:03d}"
        return await self._start(caller, version, dataset, None, "if-better")

    # -- recommender: serving -------------------------------------------------------------------------
    def _scoring(self) -> Any:
        if self._backend is None:
            # heavy: the scorers import torch; a service that never scores never loads it
            from aria_actors.interpret.serving.backends import LocalScoring, ServeScoring

            mode = self.config.serving
            if mode == "auto":
                mode = "serve" if _in_ray_actor() else "local"
            self._backend = (ServeScoring(self.config, self.settings) if mode == "serve"
                             else LocalScoring(self.config.num_threads))
        return self._backend

    async def _artifact(self, version: str) -> bytes:
        """The version's artifact from aria_storage, checked against its recorded sha256."""
        row = await self._records().version(version)
        if self._storage is None:
            raise ServiceUnavailable("aria_storage is not a dependency here", service="aria_storage")
        try:
            data = await self._storage.get(ME, row["asset"], int(row["asset_version"]))
        except AriaError as exc:
            raise ModelArtifactError(f"the artifact of {version!r} cannot be read from aria_storage: {exc.message}",
                                     version=version) from None
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise ModelArtifactError(f"the artifact of {version!r} does not match its recorded sha256 "
                                     "(corrupted or replaced)", version=version)
        return data

    async def _load(self, version: str) -> None:
        """Load ``version`` on the backend once, however many callers ask at the same time."""
        backend = self._scoring()
        if backend.loaded(version):
            return
        lock = self._load_locks.setdefault(version, asyncio.Lock())
        async with lock:
            if not backend.loaded(version):
                await backend.load(version, await self._artifact(version))

    async def _restore_serving(self) -> None:
        serving = await self._records().serving()
        self._served = serving["served"]
        if serving["traffic"]:
            metrics = await self._records().ab_metrics()
            weights = {v: float(w) for v, w in serving["traffic"].items()}
            self._traffic = TrafficSplit.restore(weights, 0, {v: {"requests": m["requests"],
                                                                  "feedback_count": m["feedback_count"],
                                                                  "feedback_sum": m["feedback_sum"],
                                                                  "feedback_sumsq": m["feedback_sumsq"]}
                                                              for v, m in metrics.items()})
        # Versions load on the first scoring call: a start does not wait for replicas.

    async def _unload_others(self, keep: set[str]) -> None:
        backend = self._scoring()
        for other in backend.versions():
            if other not in keep:
                await backend.remove(other)

    async def _serve_only(self, version: str) -> None:
        """The in-memory side of a promotion or rollback stored already: ``version`` served to
        everyone, no split, its counters and routed users gone, other versions unloaded."""
        self._served, self._traffic, self._feedback = version, None, {}
        self._ab_users.clear()
        await self._unload_others({version})

    async def _promote(self, version: str, reason: str, by: str) -> dict[str, Any]:
        async with self._serving_lock:
            await self._records().version(_check_version(version))  # UnknownModelVersion first
            await self._load(version)  # refuses a corrupted artifact before anything changes
            previous = self._served
            await self._records().promote(version, reason, by)
            self._problems.pop(f"load:{version}", None)
            await self._serve_only(version)
            return {"served": version, "previous": previous}

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def promote(self, caller: Principal, version: str, reason: str = "") -> dict[str, Any]:
        """Serve ``version`` to everyone (ends any A/B split); refused if its artifact does not load."""
        if not isinstance(reason, str) or len(reason) > 500:
            raise BadRequest("reason must be a string of at most 500 characters", field="reason")
        return await self._promote(_check_version(version), reason or "promoted", caller.subject)

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def rollback(self, caller: Principal) -> dict[str, Any]:
        """Undo the current promotion: serve the version promoted before it. A second rollback
        goes further back (undone promotions are skipped), never forth again."""
        async with self._serving_lock:
            store = self._records()
            target = await store.rollback_target()
            if target is None:
                raise NotFound("no earlier promoted version to roll back to")
            current_id, version = target
            await self._load(version)  # a version whose artifact no longer loads is refused here
            if not await store.rollback(current_id, version):
                raise Conflict("another promotion or rollback came first; look at the served version and retry")
            previous = self._served
            await self._serve_only(version)
            return {"served": version, "previous": previous}

    @rpc("interpret:model:deploy", scope="any", feature="recommendation-serving")
    async def set_traffic(self, caller: Principal, weights: dict[str, float] | None) -> dict[str, Any]:
        """Start (or, with ``null``, end) an A/B test: users routed to versions by weight."""
        store = self._records()
        if weights is None:
            async with self._serving_lock:
                with contextlib.suppress(Exception):  # counts of an ending split: best effort
                    await self._flush_ab()
                await store.set_traffic(None)
                self._traffic = None
                self._ab_users.clear()
                if self._served is not None:
                    await self._unload_others({self._served})
            return {"traffic": None}
        if not isinstance(weights, dict) or not 2 <= len(weights) <= 8:
            raise InvalidTraffic("weights must map 2-8 versions to weights", field="weights")
        for v, w in weights.items():
            if not isinstance(v, str) or not re.fullmatch(VERSION, v):
                raise InvalidTraffic("each version must be a model version id", field="weights")
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= MAX_WEIGHT:
                raise InvalidTraffic(f"the weight of {v!r} must be a number 0-{MAX_WEIGHT:g}", field="weights")
        if sum(weights.values()) <= 0:
            raise InvalidTraffic("at least one weight must be > 0", field="weights")
        async with self._serving_lock:
            for v in weights:
                try:
                    await store.version(v)
                except UnknownModelVersion:
                    raise InvalidTraffic(f"no model version {v!r}", field="weights", version=v) from None
                await self._load(v)
            clean = {v: float(w) for v, w in weights.items()}
            await store.set_traffic(clean)
            self._traffic, self._feedback = TrafficSplit(clean), {}
            self._ab_users.clear()
        return {"traffic": clean}

    @rpc("interpret:model:read", feature="recommendation-serving")
    async def traffic_report(self, caller: Principal) -> dict[str, Any]:
        """The A/B split with each version's requests and mean feedback (the leader has the best)."""
        if self._traffic is None:
            return {"traffic": None, "served": self._served}
        await self._flush_ab()
        split = self._traffic
        return {"served": self._served, **split.report()} if split is not None else {"traffic": None,
                                                                                       "served": self._served}

    async def _flush_ab(self) -> None:
        split = self._traffic
        if split is None or self._store is None:
            return
        requests = split.take_unflushed()
        feedback, self._feedback = self._feedback, {}
        deltas = {v: (requests[v].requests if v in requests else 0, *feedback.get(v, (0, 0.0, 0.0)))
                  for v in set(requests) | set(feedback)}
        try:
            await self._store.add_ab_metrics(deltas)
        except Exception:
            if self._traffic is split:  # the split ended meanwhile: its counts go with it
                split.give_back(requests)
                for v, (n, s, ss) in feedback.items():
                    old = self._feedback.get(v, (0, 0.0, 0.0))
                    self._feedback[v] = (old[0] + n, old[1] + s, old[2] + ss)
            raise

    @rpc("interpret:recommendation:read", feature="recommendation-serving")
    async def recommend(self, caller: Principal, user: str, candidates: list[str], k: int | None = None,
                        history: list[str] | None = None) -> dict[str, Any]:
        """Rank ``candidates`` (item ids: characters, templates, actions...) for ``user`` with the
        served DIN version (or the A/B split's pick for the user). The user's history is their
        newest feedback events unless ``history`` is given (a client-side session)."""
        _check_id(user, "user")
        items = _check_ids(candidates, "candidates", min(self.config.max_candidates, MAX_CANDIDATES))
        if not items:
            raise InvalidFeatures("candidates must not be empty", field="candidates")
        if k is not None:
            _check_k(k, MAX_CANDIDATES)
        tenant = _tenant(caller)
        if history is None:
            rows = await self._records().history(tenant, "feedback", user, self.config.history_length)
            past = [r["object"] for r in rows]
        else:
            past = _check_ids(history, "history", 1000)[-self.config.history_length:]
        split = self._traffic
        version = split.pick(user) if split is not None else self._served
        if version is None:
            raise NoModel("no model version is served yet: train one (POST /v1/interpret/train) and promote it")
        try:
            await self._load(version)
        except ModelArtifactError as exc:
            self._problems[f"load:{version}"] = exc.message
            raise ServiceUnavailable(f"model version {version!r} cannot be loaded: {exc.message}",
                                     service=SPEC.name) from None
        t0 = time.perf_counter()
        try:
            scored = await self._scoring().score(version, past, items)
        except AriaError:
            raise
        except Exception as exc:  # a replica that died or failed: the caller's request was fine
            raise ServiceUnavailable(f"scoring with {version!r} failed: {brief(exc)}", service=SPEC.name) from None
        if split is not None:
            split.record(version, len(items), time.perf_counter() - t0)
            served = self._ab_users.get((tenant, user))
            counted = served[1] if served is not None and served[0] == version else None  # still one vote
            self._ab_users[(tenant, user)] = (version, counted, caller.subject)
            self._ab_users.move_to_end((tenant, user))
            while len(self._ab_users) > AB_USERS:
                self._ab_users.popitem(last=False)
        order = sorted(range(len(items)), key=lambda i: -scored["scores"][i])
        ranked = [{"item": items[i], "score": float(scored["scores"][i])} for i in order]
        return {"user": user, "version": version, "history": len(past), "fallback": scored.get("fallback"),
                "items": ranked[:k] if k else ranked}

    @rpc("interpret:model:read", feature="recommendation-serving")
    async def serving_status(self, caller: Principal) -> dict[str, Any]:
        """What is served where: the version, the split, each loaded version's replicas."""
        backend = self._backend
        return {"served": self._served, "traffic": self._traffic.weights if self._traffic else None,
                "backend": backend.kind if backend else None,
                "versions": await backend.states() if backend else {}}


def _may(caller: Principal, spec: RpcSpec) -> bool:
    try:
        default_gate().check(spec, caller)
    except AriaError:
        return False
    return True


def _check_version(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(VERSION, value):
        raise BadRequest("version must be 1-128 characters of letters, digits and ._- (first a letter or digit)",
                         field="version")
    return value


def _test_gauc(metrics: Any) -> float | None:
    test = metrics.get("test") if isinstance(metrics, dict) else None
    value = test.get("gauc") if isinstance(test, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _load_text_models(num_threads: int, personality_cache: Path) -> Any:
    # heavy: torch, transformers and spaCy load with the text models, on the first text call
    import torch

    from aria_actors.interpret.text.analyzer import TextAnalyzer

    torch.set_num_threads(num_threads)
    return TextAnalyzer(personality_cache_dir=personality_cache)


def _in_ray_actor() -> bool:
    try:
        import ray  # ray: only to tell whether this process is a Ray actor (serve) or not (local)

        return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
    except Exception:
        return False
