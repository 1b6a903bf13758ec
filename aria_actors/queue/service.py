"""aria_queue: durable jobs with Oban's semantics on Postgres, executed by Ray worker actors.

The service opens its pool through aria_data's ``Database`` on the DSN aria_data gives it, has
aria_data apply its migrations (schema ``aria_queue``), starts worker actors per queue (or one
in-process executor with ``ARIA_QUEUE_EXECUTOR=local``), and runs the leader-only plugins
(lifeline, pruner, cron). Its declared ``@rpc`` methods (typed client:
:mod:`aria_actors.queue.client`) are what the REST API, the CLI and other services call, each as
its caller. Job states are drawn in :mod:`aria_actors.queue.jobs`.

Guarantees and caveats:
- Everything durable is in Postgres: a restarted service finds its jobs, queue settings and
  replica counts there; jobs running on dead actors come back through the lifeline.
- ``health()`` pings the database and reports queue depths, the age of the oldest available
  job per queue, and live worker actors; it is ``degraded`` when a queue with available jobs has
  no live executor or is paused with a backlog older than ``rescue_after_s``.
- A job records the principal that enqueued it (never from the request body) and runs as it:
  enqueueing checks that principal may enqueue the worker (a worker's declared permission, or
  the Gate check of the ``@rpc(job=True)`` method a ``service:`` job calls; see
  :mod:`aria_actors.queue.dispatch`), and a ``service:`` job calls its target with it as the
  caller, so the target decides again. Reading, retrying and cancelling a job needs the right
  on that job (its enqueuer's own, or the tenant's, or any); a job the caller may not read is
  answered as not found.
- Workers must be registered in every process that enqueues through this service and in the
  worker actors: the service imports ``aria_actors.<svc>.jobs`` of every other service that has
  one (``ARIA_QUEUE_DISCOVER_WORKERS``) and the modules in ``ARIA_QUEUE_WORKER_MODULES``, and so
  does each worker actor. A worker module must stay import-light.
"""

from __future__ import annotations

import importlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.queue import admin, producer
from aria_actors.queue.dispatch import service_job_modules
from aria_actors.queue.errors import InvalidJob, JobNotFound, JobStateConflict, QueueNotStarted
from aria_actors.queue.executor import Executor
from aria_actors.queue.jobs import owner_resource
from aria_actors.queue.metrics import Latency, exposition
from aria_actors.queue.plugins import Cron, CronEntry, PluginConfig, PluginRunner
from aria_actors.queue.registry import default_registry
from aria_actors.queue.spec import SPEC
from aria_actors.runtime.errors import Forbidden, Unauthorized
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, RpcSpec, Scope, default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status

ME = Principal.internal(SPEC.name)
# What a job may set about itself; who it runs as is never one of them (the caller is).
ENQUEUE_OPTIONS = frozenset({"queue", "priority", "schedule_in", "scheduled_at", "max_attempts",
                             "unique", "tags", "meta"})
MAX_BATCH = 10_000
MAX_ID = 2**63 - 1


class QueueService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings, queue_settings: Any = None) -> None:
        super().__init__(settings)
        self.config = queue_settings or settings.queue  # the tree's [queue] section
        self.dsn = ""
        self._database: Database | None = None
        self._pool: Any = None  # self._database.pool
        self._plugins: Any = None
        self._workers: Any = None
        self._local: Any = None
        self._supervisor: Any = None
        self.worker_modules: list[str] = []
        self.gate: Gate | None = None  # None: the role table in force (tests give their own)

    # -- lifecycle ---------------------------------------------------------------------------
    async def prepare(self) -> None:
        # Worker actors' processes take ~0.5 CPU-s each to start: begun here, while aria_data
        # boots, rather than in start(), where the services above wait for them.
        if self.config.executor != "ray" or self._workers is not None:
            return
        try:
            # ray: QueueService is Ray-free; only executor="ray" (worker actors) needs Ray
            from aria_actors.queue.workers import WorkerPool

            self._load_worker_modules()
            queues = set(self.config.queues) | set(default_registry.queues())
            self._workers = WorkerPool("", self.worker_modules, self.config.worker_num_cpus,
                                       self._executor_options())
            self._workers.prespawn(self.config.replicas * len(queues))
        except Exception:  # start() does the same work again and reports what fails
            logging.getLogger("aria.queue").exception("starting spare worker actors failed")

    def _load_worker_modules(self) -> None:
        self.worker_modules = list(self.config.worker_modules)
        if self.config.discover_workers:
            self.worker_modules += [m for m in service_job_modules() if m not in self.worker_modules]
        for mod in self.worker_modules:
            importlib.import_module(mod)

    def _executor_options(self) -> dict[str, float | bool]:
        c = self.config
        return {"poll_interval": c.poll_interval_s, "heartbeat_interval": c.heartbeat_interval_s,
                "stage_interval": c.stage_interval_s, "async_commit": c.async_commit}

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        data = deps.of(DataClient)
        self.dsn = await data.dsn(ME)
        await data.migrate(ME, "aria_queue")
        self._load_worker_modules()
        c = self.config
        cron = Cron([CronEntry(e.expression, e.worker, e.args, e.name) for e in c.cron]) if c.cron else None
        if cron is not None:
            cron.check()  # before the pool opens: a refused start leaves nothing behind
        self._database = await Database.connect(self.dsn, name=SPEC.name, min_size=1,
                                                max_size=self.config.pool_size)
        self._pool = self._database.pool
        self._plugins = PluginRunner(self.dsn, self._pool, PluginConfig(
            prune_retention=c.prune_retention_s, prune_interval=c.prune_interval_s,
            rescue_after=c.rescue_after_s, rescue_interval=c.rescue_interval_s,
            cron_interval=c.cron_interval_s), cron)
        self._plugins.start()
        options = self._executor_options()
        # Queues: configured ones, those registered workers name, and those stored by earlier
        # runs (scaled at run time); stored concurrency/replicas win over the defaults.
        limits = dict.fromkeys(default_registry.queues(), c.discovered_queue_concurrency)
        limits.update(c.queues)
        stored = {q["name"]: q for q in await admin.queues(self._pool) if q["concurrency"]}
        for name, row in stored.items():
            limits[name] = row["concurrency"]
        if c.executor == "local":
            self._local = Executor(self.dsn, limits, **options)
            await self._local.start()
        else:
            from aria_actors.queue.workers import WorkerPool  # ray: as in prepare

            if self._workers is None:  # not prepared (a test, a tool): no spares
                self._workers = WorkerPool(self.dsn, self.worker_modules, c.worker_num_cpus, options)
            self._workers.dsn = self.dsn
            targets = {}
            for name, limit in sorted(limits.items()):
                row = stored.get(name) or {}
                replicas = row.get("replicas") if row.get("replicas") is not None else c.replicas
                targets[name] = (replicas, limit)
            await self._workers.scale_many(targets)
            self._workers.release_spares()  # stored replica counts may need fewer than prepared
            self._supervisor = periodic(self.config.rescue_interval_s, self.reconcile,
                                        what="replacing dead worker actors", log=logging.getLogger("aria.queue"),
                                        level=logging.ERROR)

    async def reconcile(self) -> dict[str, int]:
        """Replace worker actors that died; returns how many were replaced per queue."""
        if self._workers is None:
            return {}

        limits = {q["name"]: q["concurrency"] or 10 for q in await admin.queues(self._db())}
        return await self._workers.reconcile(limits)

    async def stop(self) -> None:
        await stop_task(self._supervisor)
        self._supervisor = None
        if self._plugins is not None:
            await self._plugins.stop()
            self._plugins = None
        if self._workers is not None:
            await self._workers.shutdown(grace=2.0)
            self._workers = None
        if self._local is not None:
            await self._local.stop(grace=2.0)
            self._local = None
        db, self._database, self._pool = self._database, None, None
        if db is not None:
            await db.close()

    async def health(self) -> Health:
        if self._pool is None:
            return Health(Status.STARTING, "not started")

        t0 = time.perf_counter()
        try:
            await self._database.ping()
            queues = await admin.queues(self._pool)
        except Exception as exc:
            return Health(Status.FAILED, f"database unreachable: {type(exc).__name__}: {exc}")
        ping_ms = (time.perf_counter() - t0) * 1000
        executors = await self._executor_stats()
        live: dict[str, int] = {}
        for st in executors:
            for name in st["queues"]:
                live[name] = live.get(name, 0) + 1
        problems = []
        for q in queues:
            backlog = q["jobs"]["available"]
            if backlog and not live.get(q["name"]):
                problems.append(f"{q['name']}: {backlog} available jobs, no live executor")
            elif backlog and q["paused"] and (q["oldest_available_s"] or 0) > self.config.rescue_after_s:
                problems.append(f"{q['name']}: paused with a backlog")
        details = {
            "db_ping_ms": round(ping_ms, 2),
            "pool": {"size": self._pool.get_size(), "idle": self._pool.get_idle_size()},
            "queues": {q["name"]: {"available": q["jobs"]["available"],
                                   "executing": q["jobs"]["executing"],
                                   "scheduled": q["jobs"]["scheduled"],
                                   "retryable": q["jobs"]["retryable"],
                                   "paused": q["paused"], "executors": live.get(q["name"], 0),
                                   "oldest_available_s": q["oldest_available_s"]}
                       for q in queues},
            "leader": bool(self._plugins and self._plugins.leader.is_leader),
        }
        if problems:
            return Health(Status.DEGRADED, "; ".join(problems), details)
        return Health(Status.READY, f"{len(queues)} queues, {len(executors)} executors", details)

    async def _executor_stats(self) -> list[dict[str, Any]]:
        if self._local is not None:
            return [self._local.stats()]
        if self._workers is not None:
            return await self._workers.stats()
        return []

    def _db(self) -> Any:
        if self._pool is None:
            raise QueueNotStarted()
        return self._pool

    # -- the RPC surface -----------------------------------------------------------------------
    # Every method runs as ``caller``. Jobs are the caller's own (``scope="own"``): a caller with
    # only @own rights enqueues jobs that run as itself and sees, retries and cancels only those;
    # @tenant rights reach the jobs of its tenant, @any rights every job. Queues, scaling and
    # metrics are the whole system's: only @any rights (operators, admins) reach them.
    def _gate(self) -> Gate:
        return self.gate or default_gate()

    def _holds(self, caller: Principal, action: str, scope: Scope) -> bool:
        """Whether ``caller`` holds ``action`` at ``scope`` (the role table's rule, not a record's)."""
        try:
            self._gate().check(RpcSpec(action, action, scope), caller)
        except (Forbidden, Unauthorized):
            return False
        return True

    def _may(self, caller: Principal, action: str, job: Any) -> bool:
        return self._gate().allowed(caller, action, job.owner())

    def _options(self, options: dict[str, Any], where: str = "") -> dict[str, Any]:
        unknown = sorted(set(options) - ENQUEUE_OPTIONS)
        if unknown:  # enqueued_by above all: who a job runs as is the caller, never a field
            raise InvalidJob(f"unknown job option(s) {unknown}; allowed: {sorted(ENQUEUE_OPTIONS)}",
                             field=f"{where}{unknown[0]}")
        return options

    async def _writable(self, caller: Principal, ids: Any, action: str = "queue:job:write") -> list[int]:
        """The ids of ``ids`` the caller may change; others are treated as unknown ids (skipped)."""
        ids = _job_ids(ids)
        if self._holds(caller, action, "any"):
            return ids
        owners = await admin.enqueuers(self._db(), ids)
        gate = self._gate()
        return [i for i in ids if i in owners and gate.allowed(caller, action, owner_resource(owners[i]))]

    @rpc("queue:job:write", scope="own", features=("jobs", "priorities", "retries", "cross-service-jobs"))
    async def enqueue(self, caller: Principal, worker: str, args: dict[str, Any] | None = None,
                      **options: Any) -> dict[str, Any]:
        """Enqueue one job that runs as ``caller``, who must be allowed to enqueue ``worker``."""
        options = self._options(options)
        job = await producer.enqueue(self._db(), worker, args, enqueued_by=caller, gate=self._gate(),
                                     **options)
        if job.conflict and not self._may(caller, "queue:job:read", job):
            raise JobStateConflict(f"a job with the same unique key ({worker}) is queued by someone "
                                   "else; nothing was inserted", worker=job.worker)
        return job.to_dict()

    @rpc("queue:job:write", scope="own", features=("jobs", "priorities", "retries", "cross-service-jobs"))
    async def enqueue_many(self, caller: Principal, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Enqueue many jobs in one statement, all running as ``caller`` (checked before any insert)."""
        if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_BATCH or \
                not all(isinstance(j, dict) for j in jobs):
            raise InvalidJob(f"jobs must be a list of 1-{MAX_BATCH} job objects", field="jobs")
        for i, j in enumerate(jobs):
            self._options({k: v for k, v in j.items() if k not in ("worker", "args")}, f"jobs[{i}].")
        got = await producer.enqueue_many(self._db(), jobs, enqueued_by=caller, gate=self._gate())
        # A unique job someone else holds: the caller learns it exists, not what it holds.
        return [j.redacted() if j.conflict and not self._may(caller, "queue:job:read", j) else j.to_dict()
                for j in got]

    @rpc("queue:job:read", scope="own", feature="jobs")
    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]:
        """One job the caller may read (another's job is answered as not found)."""
        (job_id,) = _job_ids([job_id], "job_id")
        job = await admin.get_job(self._db(), job_id)
        if not self._may(caller, "queue:job:read", job):  # another's job: as if it did not exist
            raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
        return job.to_dict()

    @rpc("queue:job:list", scope="own", features=("jobs", "dead-letter"))
    async def list_jobs(self, caller: Principal, state: str | None = None, queue: str | None = None,
                        worker: str | None = None, after_id: int = 0,
                        limit: int = 100) -> list[dict[str, Any]]:
        """Jobs the caller may see, in id order: its own, its tenant's, or all (by its rights)."""
        action = "queue:job:list"
        if self._holds(caller, action, "any"):
            owner, in_tenant = None, False
        elif self._holds(caller, action, "tenant"):
            owner, in_tenant = None, True
        else:
            owner, in_tenant = caller.subject, True
        for name, value in (("queue", queue), ("worker", worker)):
            if value is not None and (not isinstance(value, str) or len(value) > 255 or "\x00" in value):
                raise InvalidJob(f"{name} must be a name of at most 255 characters", field=name)
        (after_id,) = _job_ids([after_id], "after_id", low=0)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidJob("limit must be an integer", field="limit")
        jobs = await admin.list_jobs(self._db(), state=state, queue=queue, worker=worker,
                                     after_id=after_id, limit=limit, owner=owner,
                                     tenant=caller.tenant, in_tenant=in_tenant)
        return [j.to_dict() for j in jobs]

    @rpc("queue:job:write", scope="own", features=("retries", "dead-letter"))
    async def retry(self, caller: Principal, ids: list[int]) -> list[int]:
        """Make the caller's jobs available now; returns the ids moved (others are skipped)."""
        return await admin.retry(self._db(), await self._writable(caller, ids))

    @rpc("queue:job:write", scope="own", feature="jobs")
    async def cancel(self, caller: Principal, ids: list[int]) -> dict[str, list[int]]:
        """Cancel the caller's jobs: waiting ones now, executing ones through their executor."""
        return await admin.cancel(self._db(), await self._writable(caller, ids))

    @rpc("queue:worker:list", features=("jobs", "cross-service-jobs"))
    async def workers(self, caller: Principal) -> list[str]:
        """Registered worker names (``service:<svc>.<method>`` jobs come on top)."""
        return default_registry.names()

    @rpc("queue:health:read", feature="queue-health")
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (database, queue depths, live executors), as a dict."""
        return (await self.health()).to_dict()

    # -- queues ------------------------------------------------------------------------------
    @rpc("queue:queue:list", scope="any", features=("job-metrics", "queue-scaling"))
    async def queues(self, caller: Principal) -> list[dict[str, Any]]:
        """Every queue: settings, job counts by state, oldest available age, live executors."""
        out = await admin.queues(self._db())
        live: dict[str, int] = {}
        for st in await self._executor_stats():
            for name in st["queues"]:
                live[name] = live.get(name, 0) + 1
        for q in out:
            q["executors"] = live.get(q["name"], 0)
        return out

    @rpc("queue:queue:pause", scope="any")
    async def pause(self, caller: Principal, queue: str) -> dict[str, Any]:
        """Stop fetching jobs of ``queue`` on every node (running jobs finish)."""
        return await admin.configure_queue(self._db(), queue, paused=True)

    @rpc("queue:queue:resume", scope="any")
    async def resume(self, caller: Principal, queue: str) -> dict[str, Any]:
        """Fetch jobs of ``queue`` again."""
        return await admin.configure_queue(self._db(), queue, paused=False)

    @rpc("queue:queue:scale", scope="any", feature="queue-scaling")
    async def scale(self, caller: Principal, queue: str, replicas: int | None = None,
                    concurrency: int | None = None) -> dict[str, Any]:
        """Set a queue's worker actors (``replicas``) and per-executor ``concurrency``."""
        for name, value, low, high in (("replicas", replicas, 0, 256), ("concurrency", concurrency, 1, 1000)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not low <= value <= high):
                raise InvalidJob(f"{name} must be an integer {low}-{high}", field=name, value=repr(value))
        row = await admin.configure_queue(self._db(), queue, concurrency=concurrency,
                                          replicas=replicas)
        if self._workers is not None and replicas is not None:
            row["executors"] = await self._workers.scale(queue, replicas, row["concurrency"])
        return row

    @rpc("queue:cron:read", scope="any", feature="cron")
    async def cron(self, caller: Principal) -> dict[str, Any]:
        """The crontab entries this service runs (``ARIA_QUEUE_CRON``) with their last and next slot
        (UTC), and whether this node leads (only the leader enqueues cron jobs)."""
        self._db()
        plugins = self._plugins
        now = datetime.now(UTC)
        entries = [{"name": e.key, "expression": e.expression, "worker": e.worker, "args": e.args,
                    "last_slot": e.last_slot(now).isoformat(), "next_slot": e.next_slot(now).isoformat()}
                   for e in (plugins.cron.entries if plugins is not None and plugins.cron else ())]
        return {"leader": bool(plugins and plugins.leader.is_leader), "entries": entries,
                "last_tick_inserted": plugins.last.get("cron") if plugins is not None else None}

    @rpc("queue:metrics:read", scope="any", feature="job-metrics")
    async def metrics(self, caller: Principal) -> str:
        """Prometheus text: ``aria_queue_jobs{queue,state}`` and latency histograms."""
        return await self.exposition()

    EXPOSITION_IO = True  # a database count and a call to each executor: pushes reuse it a while

    async def exposition(self) -> str:
        counts = await admin.job_counts(self._db())
        latency = Latency.merged(s["latency"] for s in await self._executor_stats())
        return exposition(counts, latency).decode()


def _job_ids(ids: Any, field: str = "ids", low: int = 1) -> list[int]:
    """``ids`` as job ids (bigint), or a 400 naming ``field``."""
    if not isinstance(ids, list | tuple) or len(ids) > MAX_BATCH or not all(
            isinstance(i, int) and not isinstance(i, bool) and low <= i <= MAX_ID for i in ids):
        raise InvalidJob(f"{field} must be job ids ({low}-{MAX_ID}), at most {MAX_BATCH}", field=field)
    return list(ids)
