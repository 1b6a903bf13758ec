"""The executor: claims jobs from Postgres and runs them, one per process (a Ray worker actor or
a test). Ray-free.

Per queue it keeps at most ``concurrency`` jobs running. It fetches with one ``UPDATE ... FROM
(SELECT ... FOR UPDATE SKIP LOCKED LIMIT free)`` when woken by ``NOTIFY aria_queue_jobs`` (sent
on insert, staging, retry and rescue), when a slot frees, or every ``poll_interval`` seconds
(the fallback if a notification is lost). Outcomes are written back in batches (one UPDATE per
kind per flush; a flush starts as soon as the previous one ends). A heartbeat row in
``aria_queue.producers`` says the executor is alive; the lifeline plugin rescues the jobs of one
that stopped heartbeating. It also runs the stager, which any number of nodes may run at once.

Guarantees and caveats:
- A job's outcome is durable once its batch is flushed; if the process dies before that the job
  stays ``executing`` until the lifeline rescues it, and runs again (at-least-once).
- Pausing a queue stops fetching; running jobs finish. Concurrency changes apply at the next fetch.
- Cancelling an executing job cancels its asyncio task (a thread running a plain function cannot
  be stopped: the attempt ends ``cancelled`` but the thread runs on).
- A job's outcome is durable (``synchronous_commit=on``) before the flush returns. Claims,
  heartbeats and staging, which acknowledge nothing, commit without waiting for the WAL flush: a
  database crash may forget their last few hundred milliseconds (a forgotten claim leaves the job
  available; WAL is flushed in order, so a durable outcome also makes its claim durable).
  ``async_commit=True`` (setting ``[queue] async_commit``) is the faster mode: outcomes too skip
  the flush, and a crash may forget a reported completion, so the job runs again after the
  lifeline rescues it. Inserts by producers are never affected.
- ``stop()`` stops fetching, waits up to ``grace`` seconds for running jobs, then cancels the rest
  and records them as failed attempts (retryable) so nothing waits for the lifeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aria_actors.data.pool import Database, connect_one
from aria_actors.queue.jobs import Cancel, Discard, Job, Snooze, default_backoff
from aria_actors.queue.metrics import Latency
from aria_actors.queue.plugins import stage
from aria_actors.queue.registry import Registry, default_registry
from aria_actors.queue.sql import q
from aria_actors.runtime import tracing

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("aria.queue.executor")
JOBS_CHANNEL = "aria_queue_jobs"
SIGNAL_CHANNEL = "aria_queue_signal"


@dataclass(slots=True)
class _QueueState:
    name: str
    concurrency: int
    paused: bool = False
    running: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.Task[None] | None = None


def error_entry(job: Job, exc: BaseException | None, message: str, kind: str = "error") -> str:
    tb = "".join(traceback.format_exception(exc)) if exc is not None else None
    return json.dumps([{"attempt": job.attempt, "at": datetime.now(UTC).isoformat(), "kind": kind,
                        "error": message, "traceback": tb}])


class Executor:
    """Runs the jobs of ``queues`` (name -> concurrency) from the database at ``dsn``."""

    def __init__(self, dsn: str, queues: dict[str, int], *, registry: Registry | None = None,
                 node: str | None = None, poll_interval: float = 1.0,
                 heartbeat_interval: float = 1.0, stage_interval: float | None = 1.0,
                 pool_size: int = 4, async_commit: bool = False) -> None:
        self.dsn = dsn
        self.registry = registry or default_registry
        self.node = node or f"{socket.gethostname()}:{os.getpid()}"
        self.uuid = str(uuid.uuid4())
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stage_interval = stage_interval
        self.pool_size = pool_size
        self.async_commit = async_commit
        self.queues = {name: _QueueState(name, int(limit)) for name, limit in queues.items()}
        self.latency = Latency()
        self.executed = 0
        self._db: Database | None = None
        self._pool: Any = None
        self._listener: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._acks: dict[str, list[tuple[Any, ...]]] = {k: [] for k in
                                                         ("completed", "failed", "snoozed",
                                                          "cancelled", "discarded")}
        self._ack_event = asyncio.Event()
        self._ack_idle = asyncio.Event()
        self._ack_idle.set()
        self._cancel_requested: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        # Claims, heartbeats and staging commit without waiting for the WAL flush: none of them is
        # an acknowledgement, and losing one to a database crash is safe (a lost claim leaves the
        # job available, a lost heartbeat is renewed within a second, lost staging is redone).
        # Outcomes wait for it (durable_commit) unless async_commit; WAL is flushed in order, so
        # a durable outcome also makes its job's earlier claim durable.
        self._db = await Database.connect(
            self.dsn, name="aria_queue.executor", min_size=2, max_size=self.pool_size,
            server_settings={"synchronous_commit": "off"})
        self._pool = self._db.pool
        async with self._pool.acquire() as conn:
            for st in self.queues.values():
                await conn.execute(q("ensure_queue"), st.name, st.concurrency)
        await self.reload_queues()
        await self._pool.execute(q("heartbeat"), uuid.UUID(self.uuid), self.node, list(self.queues))
        await self._listen()
        self._tasks = [asyncio.create_task(self._flush_loop(), name="aria-queue-acks"),
                       asyncio.create_task(self._heartbeat_loop(), name="aria-queue-heartbeat")]
        if self.stage_interval:
            self._tasks.append(asyncio.create_task(self._stage_loop(), name="aria-queue-stager"))
        for st in self.queues.values():
            st.loop = asyncio.create_task(self._queue_loop(st), name=f"aria-queue-{st.name}")
            st.wake.set()

    async def stop(self, grace: float = 5.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        for st in self.queues.values():
            if st.loop:
                st.loop.cancel()
        running = [t for st in self.queues.values() for t in st.running.values()]
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace)
        # Stop the background loops first (a flush they were doing puts its rows back), then
        # write every outcome left in one last flush.
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self._flush()
        except Exception:
            log.exception("final flush failed; the lifeline will return these jobs")
        with contextlib.suppress(Exception):
            await self._pool.execute(q("delete_producer"), uuid.UUID(self.uuid))
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        if self._db is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._db.close(), 5)

    @property
    def pool(self) -> Any:
        """The executor's asyncpg pool (open between start and stop)."""
        return self._pool

    # -- signals -----------------------------------------------------------------------------
    async def _listen(self) -> None:
        self._listener = await connect_one(self.dsn, name="aria_queue.listener")
        await self._listener.add_listener(JOBS_CHANNEL, self._on_jobs)
        await self._listener.add_listener(SIGNAL_CHANNEL, self._on_signal)

    def _on_jobs(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        st = self.queues.get(payload)
        if st is not None:
            st.wake.set()

    def _on_signal(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if msg.get("action") == "cancel":
            self.cancel_running([int(i) for i in msg.get("ids", [])])
        elif msg.get("queue") in self.queues or msg.get("queue") == "*":
            task = asyncio.get_running_loop().create_task(self._reload_logged())
            self._background.add(task)  # keep a reference until it is done
            task.add_done_callback(self._background.discard)

    async def _reload_logged(self) -> None:
        try:
            await self.reload_queues()
        except Exception:
            log.exception("reloading queue settings failed; the next signal or restart retries")

    async def reload_queues(self) -> None:
        """Apply pause/resume/concurrency from ``aria_queue.queues``."""
        for row in await self._pool.fetch(q("get_queues"), list(self.queues)):
            st = self.queues[row["name"]]
            st.paused, st.concurrency = row["paused"], row["concurrency"]
            st.wake.set()

    def cancel_running(self, ids: list[int]) -> int:
        n = 0
        for st in self.queues.values():
            for i in ids:
                task = st.running.get(i)
                if task is not None:
                    self._cancel_requested.add(i)
                    task.cancel()
                    n += 1
        return n

    # -- fetching ----------------------------------------------------------------------------
    async def _queue_loop(self, st: _QueueState) -> None:
        attempted_by = [self.node, self.uuid]
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(st.wake.wait(), self.poll_interval)
            st.wake.clear()
            free = st.concurrency - len(st.running)
            if st.paused or free <= 0:
                continue
            try:
                rows = await self._pool.fetch(q("fetch_jobs"), st.name, free, attempted_by)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fetch from queue %s failed; retrying at the next poll", st.name)
                continue
            for row in rows:
                job = Job.from_record(row)
                if row["attempted_at"] is not None and row["scheduled_at"] is not None:
                    self.latency.observe(
                        st.name, wait=(row["attempted_at"] - row["scheduled_at"]).total_seconds())
                st.running[job.id] = asyncio.create_task(self._run(st, job))
            if len(rows) == free:
                st.wake.set()  # the queue may hold more

    # -- running -----------------------------------------------------------------------------
    async def _run(self, st: _QueueState, job: Job) -> None:
        t0 = time.perf_counter()
        try:
            with tracing.job(st.name, job.worker, job.attempt):  # a trace's root: its calls are its children
                await self._perform(job)
        finally:
            self.executed += 1
            self.latency.observe(st.name, execution=time.perf_counter() - t0)
            st.running.pop(job.id, None)
            self._cancel_requested.discard(job.id)
            st.wake.set()
            self._ack_event.set()

    async def _perform(self, job: Job) -> None:
        backoff, timeout = None, None
        try:
            spec = self.registry.get(job.worker)
            backoff, timeout = spec.backoff, spec.timeout
            call = spec.fn(job) if spec.is_async else asyncio.to_thread(spec.fn, job)
            result = await (asyncio.wait_for(call, spec.timeout) if spec.timeout else call)
            try:
                result_json = json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"worker returned a value JSON cannot encode: {exc}") from None
            self._acks["completed"].append((job.id, result_json, job.attempt))
        except Snooze as s:
            self._acks["snoozed"].append((job.id, s.seconds, job.attempt))
        except Cancel as c:
            self._acks["cancelled"].append((job.id, error_entry(job, None, c.reason, "cancel"), job.attempt))
        except Discard as d:
            self._acks["discarded"].append((job.id, error_entry(job, None, d.reason, "discard"), job.attempt))
        except asyncio.CancelledError:
            if job.id in self._cancel_requested:
                self._acks["cancelled"].append(
                    (job.id, error_entry(job, None, "cancelled by an operator", "cancel"), job.attempt))
            else:  # executor shutting down: a failed attempt, retried after the backoff
                self._fail(job, None, "executor stopped during the attempt", "shutdown", backoff)
            raise
        except TimeoutError as exc:
            if timeout is not None:
                self._fail(job, exc, f"timed out after {timeout}s", "timeout", backoff)
            else:  # raised by the job itself, not by our deadline
                self._fail(job, exc, f"{type(exc).__name__}: {exc}", "error", backoff)
        except Exception as exc:
            self._fail(job, exc, f"{type(exc).__name__}: {exc}", "error", backoff)

    def _fail(self, job: Job, exc: BaseException | None, message: str, kind: str,
              backoff: Any) -> None:
        try:
            delay = float((backoff or default_backoff)(job.attempt))
        except Exception:
            log.exception("backoff of %s raised; using the default", job.worker)
            delay = default_backoff(job.attempt)
        self._acks["failed"].append((job.id, error_entry(job, exc, message, kind), delay, job.attempt))

    # -- acknowledging -----------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await self._ack_event.wait()
            self._ack_event.clear()
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing job outcomes failed; retrying")
                await asyncio.sleep(0.5)
                self._ack_event.set()

    async def _flush(self) -> None:
        batches = {k: v for k, v in self._acks.items() if v}
        if not batches:
            return
        self._ack_idle.clear()
        for k in batches:
            self._acks[k] = []

        async def write(conn: asyncpg.Connection) -> None:
            if not self.async_commit:
                await conn.execute(q("durable_commit"))
            for kind, rows in batches.items():
                cols = [list(c) for c in zip(*rows, strict=True)]
                await conn.execute(q(f"ack_{kind}"), *cols, self.uuid)

        try:
            # One transaction for every kind of outcome, retried (bounded) on a deadlock: the acks
            # and a rescue or cancel running at the same moment may lock the same job rows in
            # another order. Only database writes, so re-running them is safe.
            await self._db.transaction(write)  # type: ignore[union-attr]  # open between start and stop
        except BaseException:
            for k, rows in batches.items():  # keep them for the next flush
                self._acks[k][:0] = rows
            raise
        finally:
            self._ack_idle.set()

    async def drain(self) -> None:
        """Wait until every outcome recorded so far is written (tests, shutdown)."""
        while any(self._acks.values()) or not self._ack_idle.is_set():
            self._ack_event.set()
            await asyncio.sleep(0.005)

    # -- housekeeping ------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self._pool.execute(q("heartbeat"), uuid.UUID(self.uuid), self.node,
                                         list(self.queues))
                if self._listener is None or self._listener.is_closed():
                    await self._listen()
                    for st in self.queues.values():
                        st.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat failed")

    async def _stage_loop(self) -> None:
        while True:
            await asyncio.sleep(self.stage_interval or 1.0)
            try:
                await stage(self._pool)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("staging failed")

    def stats(self) -> dict[str, Any]:
        return {
            "node": self.node, "uuid": self.uuid, "executed": self.executed,
            "queues": {n: {"running": len(s.running), "concurrency": s.concurrency,
                           "paused": s.paused} for n, s in self.queues.items()},
            "latency": self.latency.snapshot(),
        }
