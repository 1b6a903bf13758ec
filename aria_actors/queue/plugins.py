"""Plugins: stager, pruner, lifeline and cron, each one function or small class that a test can
trigger directly, plus the leader election and the loop that runs them.

Guarantees and caveats:
- Stager: any number of nodes may stage at once (rows are claimed with SKIP LOCKED). A scheduled
  job never runs before its ``scheduled_at``: only the stager makes it available, and only when
  due by the database clock. It runs up to one stager interval late.
- Pruner: deletes ``completed``/``discarded``/``cancelled`` jobs finished more than ``retention``
  seconds ago, ``limit`` rows per call (call again while it returns ``limit``).
- Lifeline: a job ``executing`` under a producer whose heartbeat is older than ``after`` seconds
  (or whose producer row is gone) is rescued: back to ``available`` with the lost attempt kept in
  ``errors`` (kind ``orphaned``), or ``discarded`` when that was its last attempt. A node that was
  only slow, not dead, may therefore run the job twice (as with Oban's lifeline): keep ``after``
  well above the heartbeat interval and handlers idempotent.
- Cron: one insert per slot across all nodes: only the leader (advisory lock) inserts, and the
  slot's unique key (``cron:<name>:<slot>``, held in every state) makes a second insert of the same
  slot a no-op even if two nodes both think they lead. Slots missed for longer than ``catch_up``
  seconds (all nodes down) are skipped, not replayed. Times are UTC. Cron jobs are enqueued
  by, and run as, the local operator (admin) by default: the operator wrote the entries
  (``ARIA_QUEUE_CRON``), so they do what the operator may.
- Leader: a session advisory lock on a dedicated connection; it is released when that connection
  ends, so a dead leader is replaced at the next tick of another node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from aria_actors.data.pool import connect_one
from aria_actors.queue.errors import InvalidCron
from aria_actors.queue.jobs import JobState
from aria_actors.queue.producer import NewJob, build, insert
from aria_actors.queue.registry import Registry
from aria_actors.queue.sql import q
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal

log = logging.getLogger("aria.queue.plugins")
LEADER_LOCK = 0x61726961_71756575  # 'aria' 'queu'


async def stage(pool: Any, limit: int = 5000) -> dict[str, int]:
    """Make due scheduled/retryable jobs available; returns jobs staged per queue."""
    rows = await pool.fetch(q("stage_jobs"), limit)
    return {r["queue"]: r["n"] for r in rows}


async def prune(pool: Any, retention: float, limit: int = 10_000) -> int:
    """Delete finished jobs older than ``retention`` seconds; returns how many."""
    return len(await pool.fetch(q("prune_jobs"), float(retention), limit))


async def rescue(pool: Any, after: float, limit: int = 5000) -> dict[str, int]:
    """Rescue jobs orphaned by producers silent for ``after`` seconds; returns counts by new state."""
    rows = await pool.fetch(q("rescue_orphans"), float(after), limit)
    await pool.execute(q("delete_dead_producers"), float(after) * 10)
    out: dict[str, int] = {}
    for r in rows:
        out[r["state"]] = out.get(r["state"], 0) + 1
    return out


@dataclass(frozen=True, slots=True)
class CronEntry:
    """``expression`` (crontab syntax or a nickname such as ``@hourly``) -> enqueue ``worker``."""

    expression: str
    worker: str
    args: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or not croniter.is_valid(self.expression):
            raise InvalidCron(f"invalid crontab expression {self.expression!r}",
                              expression=self.expression)

    @property
    def key(self) -> str:
        return self.name or f"{self.worker}@{self.expression}"

    def last_slot(self, now: datetime) -> datetime:
        """The latest slot at or before ``now`` (UTC)."""
        it = croniter(self.expression, now)
        if croniter.match(self.expression, now.replace(second=0, microsecond=0)):
            return now.replace(second=0, microsecond=0)
        return it.get_prev(datetime)

    def next_slot(self, now: datetime) -> datetime:
        """The first slot after ``now`` (UTC)."""
        return croniter(self.expression, now).get_next(datetime)


class Cron:
    """Inserts one job per due slot of each entry; call :meth:`tick` from the leader."""

    def __init__(self, entries: Sequence[CronEntry], *, registry: Registry | None = None,
                 catch_up: float = 60.0, enqueued_by: Principal | None = None) -> None:
        self.entries = list(entries)
        self.registry = registry
        self.catch_up = catch_up
        self.enqueued_by = enqueued_by or Principal.operator()

    def check(self) -> None:
        """Refuse, at start, an entry whose job could never be built (an unknown worker, a service
        method that is not a job): found in the first tick, it would fail every later one."""
        for e in self.entries:
            try:
                build(e.worker, e.args, registry=self.registry, enqueued_by=self.enqueued_by,
                      **e.options)
            except AriaError as exc:
                raise InvalidCron(f"cron entry {e.key!r} (ARIA_QUEUE_CRON): {exc.message}",
                                  entry=e.key) from None

    def due(self, now: datetime) -> list[NewJob]:
        jobs = []
        for e in self.entries:
            slot = e.last_slot(now)
            if (now - slot).total_seconds() > self.catch_up:
                continue
            try:
                new = build(e.worker, e.args, registry=self.registry, enqueued_by=self.enqueued_by,
                            **e.options)
            except Exception as exc:  # one entry gone bad (a worker module unloaded) spares the rest
                log.error("cron entry %s skipped: %s", e.key, getattr(exc, "message", exc))
                continue
            meta = {**json.loads(new.meta_json), "cron": e.key, "cron_slot": slot.isoformat()}
            jobs.append(NewJob(
                worker=new.worker, args_json=new.args_json, queue=new.queue, priority=new.priority,
                max_attempts=new.max_attempts, scheduled_at=new.scheduled_at, state=new.state,
                meta_json=json.dumps(meta), tags=(*new.tags, "cron"),
                unique_key=f"cron:{e.key}:{slot.isoformat()}", unique_states=tuple(JobState),
                enqueued_by_json=new.enqueued_by_json))
        return jobs

    async def tick(self, pool: Any, now: datetime | None = None) -> int:
        """Insert the jobs of slots due at ``now``; returns how many were new."""
        jobs = self.due(now or datetime.now(UTC))
        got = await insert(pool, jobs)
        return sum(1 for j in got if not j.conflict)


class Leader:
    """Leadership among nodes sharing a database: whoever holds the advisory lock."""

    def __init__(self, dsn: str, key: int = LEADER_LOCK) -> None:
        self.dsn = dsn
        self.key = key
        self._conn: Any = None
        self.is_leader = False

    async def try_lead(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            self.is_leader = False
            # Its own connection: the lock lives as long as the session, not a pooled checkout.
            self._conn = await connect_one(self.dsn, name="aria_queue.leader")
        if not self.is_leader:
            self.is_leader = bool(await self._conn.fetchval(q("try_lead"), self.key))
        else:  # still alive? a dead connection means the lock is gone
            await self._conn.fetchval(q("ping"))
        return self.is_leader

    async def resign(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                if self.is_leader:
                    await self._conn.fetchval(q("resign_lead"), self.key)
            await self._conn.close()
        self._conn, self.is_leader = None, False


@dataclass(slots=True)
class PluginConfig:
    prune_retention: float = 7 * 86400.0
    prune_interval: float = 30.0
    rescue_after: float = 60.0
    rescue_interval: float = 5.0
    cron_interval: float = 1.0


class PluginRunner:
    """Runs pruner, lifeline and cron on the leader node at their intervals."""

    def __init__(self, dsn: str, pool: Any, config: PluginConfig, cron: Cron | None = None) -> None:
        self.pool = pool
        self.config = config
        self.cron = cron
        self.leader = Leader(dsn)
        self._task: asyncio.Task[None] | None = None
        self.last: dict[str, Any] = {}

    async def run_once(self, now_s: float) -> None:
        """One pass: become (or stay) leader, then run each plugin that is due."""
        if not await self.leader.try_lead():
            return
        c = self.config
        due = lambda name, every: now_s - self.last.get(f"{name}_at", 0.0) >= every  # noqa: E731
        if due("rescue", c.rescue_interval):
            self.last["rescue"] = await rescue(self.pool, c.rescue_after)
            self.last["rescue_at"] = now_s
        if due("prune", c.prune_interval):
            self.last["prune"] = await prune(self.pool, c.prune_retention)
            self.last["prune_at"] = now_s
        if self.cron is not None and due("cron", c.cron_interval):
            self.last["cron"] = await self.cron.tick(self.pool)
            self.last["cron_at"] = now_s

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("plugin pass failed")
                await self.leader.resign()
            await asyncio.sleep(min(self.config.cron_interval, self.config.rescue_interval))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="aria-queue-plugins")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.leader.resign()
