"""aria_debugger's collected log records in PostgreSQL (schema ``aria_debugger``), through aria_data's pool.

::

    logs          one row per record: time, level, service, logger, message, pid, node, trace and
                  span ids, exception type, the ring's (start_id, seq); ``tsv`` a generated
                  tsvector ('simple': words as written) with a GIN index, and btree indexes on
                  time, (service, time), (level, time) and trace id
    log_cursors   per service: the process (start_id) and seq up to which its ring was stored

Guarantees and caveats:
- A batch of records and its service's cursor are written in one transaction (COPY, then the
  cursor): after a crash either both are there or neither, so a record is stored once.
- Search binds the user's words as a parameter of ``websearch_to_tsquery`` (never spliced into SQL);
  every filter is a bound parameter too. The pool plans each search with its own values
  (``plan_cache_mode = force_custom_plan``): a generic plan of the optional filters would ignore
  the indexes.
- Pruning deletes in batches (by age, then past the row cap, oldest id first), so it never holds
  a long lock; rows inserted meanwhile are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries

q = queries("aria_actors.debugger", "logs")
SCHEMA, TABLE = "aria_debugger", "logs"
COLUMNS = ("at", "level", "level_name", "service", "logger", "message", "pid", "node", "trace_id", "span_id",
           "exc_type", "start_id", "seq")
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
PRUNE_BATCH = 20_000
UTC = dt.UTC


def row_of(record: dict[str, Any], start_id: str) -> tuple[Any, ...]:
    """A ring record (runtime/logring.py) as a row of ``logs``, in :data:`COLUMNS` order."""
    return (dt.datetime.fromtimestamp(float(record["at"]), UTC), int(record["levelno"]), str(record["level"]),
            str(record["service"]), str(record["logger"]), str(record["message"]), record.get("pid"),
            record.get("node"), record.get("trace_id"), record.get("span_id"), record.get("exc_type"),
            start_id, int(record["seq"]))


def answer_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["at"] = out["at"].timestamp()
    out["level"] = out.pop("level_name")
    return out


class LogStore:
    """The queries of the log store over a :class:`Database` where aria_debugger's migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def cursors(self) -> dict[str, dict[str, Any]]:
        return {r["service"]: dict(r) for r in await self.db.fetch(q("cursors"))}

    async def store(self, service: str, start_id: str, seq: int, dropped: int,
                    rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` and the service's new cursor, in one transaction."""
        async def fn(conn: asyncpg.Connection) -> None:
            if rows:
                await conn.copy_records_to_table(TABLE, schema_name=SCHEMA, columns=COLUMNS, records=rows)
            await conn.execute(q("save_cursor"), service, start_id, seq, dropped)

        await self.db.transaction(fn)

    async def search(self, text: str | None, service: str | None, level: int | None, trace_id: str | None,
                     since: dt.datetime | None, until: dt.datetime | None, limit: int,
                     timeout: float | None = None) -> list[dict[str, Any]]:
        rows = await self.db.fetch(q("search"), text, service, level, trace_id, since, until, limit, timeout=timeout)
        return [answer_row(r) for r in rows]

    async def prune(self, older_than: dt.datetime, max_rows: int) -> int:
        """Delete records older than ``older_than``, then all but the newest ``max_rows``."""
        deleted = 0
        while True:
            n = _count(await self.db.execute(q("prune_older"), older_than, PRUNE_BATCH))
            deleted += n
            if n < PRUNE_BATCH:
                break
        cut = await self.db.fetchval(q("nth_newest_id"), max_rows)
        while cut is not None:
            n = _count(await self.db.execute(q("prune_upto"), cut, PRUNE_BATCH))
            deleted += n
            if n < PRUNE_BATCH:
                break
        return deleted

    async def totals(self, timeout: float | None = None) -> dict[str, Any]:
        row = await self.db.fetchrow(q("totals"), timeout=timeout)
        newest = row["newest"]
        return {"rows_estimate": int(row["rows_estimate"]), "newest": newest.timestamp() if newest else None,
                "dropped": int(row["dropped"])}

    async def analyze(self) -> None:
        await self.db.execute(q("analyze"))


def _count(status: str) -> int:
    """The row count of a command's status (``DELETE 12``)."""
    try:
        return int(status.rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return 0
