"""aria_monitor's rows in PostgreSQL (schema ``aria_monitor``), through aria_data's pool.

::

    rollups         (resolution, panel, labels, bucket) -> min, max, sum, count, last, last_at
    usage_daily     (day, tenant, service, method) -> calls, errors, ok
    usage_subjects  (day, tenant, subject digest)

Lifecycle::

    start ─► HistoryLink.connect() in the background: DSN from aria_data, migrate, open a pool;
             retried every ``RETRY_S`` until it works ─► ``store`` set
    a write or read that fails ─► ``error`` set (health says it); the pool recovers by itself
    stop ─► pool closed

Guarantees and caveats:
- Writes are batches, one statement each (``unnest`` arrays), and merges (upserts), so a batch
  retried after a failure whose effect is unknown may count twice: usage rows are approximate in
  that one case (a connection lost mid-commit), never lost.
- Nothing here decides who may read what: the service narrows reads to a tenant before calling.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.monitor.rollup import Agg, Key
from aria_actors.runtime.errors import brief

log = logging.getLogger("aria.monitor")
q = queries("aria_actors.monitor", "history")
RETRY_S = 10.0
UsageRow = tuple[str, str, str, str, int, int, int]  # day, tenant, service, method, calls, errors, ok
SubjectRow = tuple[str, str, str]  # day, tenant, subject digest


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _ts(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


class HistoryStore:
    """The queries of aria_monitor over a :class:`Database` where its migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def merge_rollups(self, rows: Sequence[tuple[Key, Agg]]) -> None:
        if not rows:
            return
        cols: list[list[Any]] = [[] for _ in range(10)]
        for (res, panel, labels, bucket), a in rows:
            for i, v in enumerate((res, panel, labels, _ts(bucket), a.lo, a.hi, a.total, a.count, a.last,
                                   _ts(a.last_at))):
                cols[i].append(v)
        await self.db.execute(q("merge_rollups"), *cols)

    async def rollup_range(self, resolution: int, panel: str, start: float, end: float) -> list[Any]:
        return await self.db.fetch(q("rollup_range"), resolution, panel, start, end)

    async def merge_usage(self, rows: Sequence[UsageRow], subjects: Sequence[SubjectRow]) -> None:
        """Add the counts and the subjects in one transaction: the counts add up, so a batch whose
        subjects failed after its counts committed would be counted again when it is put back."""
        cols: list[list[Any]] = [[] for _ in range(7)]
        for r in rows:
            for i, v in enumerate((_day(r[0]), *r[1:])):
                cols[i].append(v)

        async def both(conn: Any) -> None:
            if rows:
                await conn.execute(q("merge_usage"), *cols)
            if subjects:
                await conn.execute(q("add_subjects"), [_day(s[0]) for s in subjects], [s[1] for s in subjects],
                                   [s[2] for s in subjects])

        await self.db.transaction(both)

    async def usage_rows(self, since: str, tenant: str | None, service: str | None, limit: int) -> list[Any]:
        return await self.db.fetch(q("usage_rows"), _day(since), tenant, service, limit)

    async def active_subjects(self, since: str, tenant: str | None) -> list[Any]:
        return await self.db.fetch(q("active_subjects"), _day(since), tenant)

    async def expire(self, minute_days: int, hour_days: int, usage_days: int) -> None:
        await self.db.execute(q("expire_rollups"), 60, minute_days)
        await self.db.execute(q("expire_rollups"), 3600, hour_days)
        await self.db.fetchval(q("expire_usage"), usage_days)

    async def stats(self) -> dict[str, Any]:
        rows = await self.db.fetch(q("rollup_stats"))
        return {f"rollups_{r['resolution']}s": {"rows": r["rows"], "oldest": r["oldest"]} for r in rows}


class HistoryLink:
    """The connection to PostgreSQL, made in the background and retried: the monitor runs from memory
    meanwhile (and whenever a write fails), and says so (:meth:`status`)."""

    def __init__(self, connect: Any | None) -> None:
        self._connect = connect  # async () -> Database; None: no aria_data here
        self.store: HistoryStore | None = None
        self.error: str | None = None if connect is not None else "aria_data is not a dependency here"
        self.written = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._connect is not None and self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while self.store is None:
            try:
                self.store = HistoryStore(await self._connect())
                self.error = None
                log.info("history in PostgreSQL")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # aria_data down or migrating: memory only until it answers
                self.failed(exc)
                self.error = f"connecting: {self.error}"
                log.warning("history store unavailable, retrying in %.0fs: %s", RETRY_S, self.error)
                await asyncio.sleep(RETRY_S)

    def failed(self, exc: BaseException) -> None:
        self.error = brief(getattr(exc, "message", None) or str(exc) or type(exc).__name__, 200)

    def ok(self, rows: int = 0) -> None:
        self.error = None
        self.written += rows

    @property
    def up(self) -> bool:
        return self.store is not None and self.error is None

    def status(self) -> dict[str, Any]:
        return {"store": "postgres" if self.up else "memory", "error": self.error, "rows_written": self.written}

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.store is not None:
            await self.store.db.close()
            self.store = None


def batched(rows: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
