"""Archival of old rows through time-partitioned tables, with a retention setting.

A service creates a table ``PARTITION BY RANGE (<timestamptz column>)`` in its migration and
registers it once::

    await register(conn, "aria_queue.events", period="month", hot_days=30, retention_days=365)

``maintain(conn)`` (DataService runs it at start and every ``ARIA_DATA_ARCHIVE_INTERVAL_S``)
then, for every registered table:

    upcoming partitions (now .. now + premake periods) and those back to the retention limit
        -> created                          <table>_pYYYYMM (month) / <table>_pYYYYMMDD (day)
    attached partition ending before now - hot_days
        -> DETACHed into schema aria_archive (rows leave the live table, stay queryable there)
    any partition (live or archived) ending before now - retention_days
        -> DROPped

Guarantees and caveats:
- Partitions are recognised by their name: partitions named otherwise are never touched.
- A row whose time has no partition fails to insert (no default partition: a default one would
  block creating the partitions that overlap its rows). Premake keeps the future covered as
  long as maintenance runs at least once per ``premake`` periods.
- Retention is ``retention_days`` of the table, else ``ARIA_DATA_ARCHIVE_RETENTION_DAYS``.
- Each table is maintained in one transaction; DETACH and DROP take an ACCESS EXCLUSIVE lock
  on the parent for a moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aria_actors.data.errors import DataError
from aria_actors.data.sql_files import ident, literal, queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.data", "archival")

ARCHIVE_SCHEMA = "aria_archive"
_QUALIFIED = re.compile(r"^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$")


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _split(table: str) -> tuple[str, str]:
    m = _QUALIFIED.match(table)
    if m is None:
        raise DataError(f"partitioned table must be named schema.table in lowercase, got {table!r}",
                        table=table)
    return m.group(1), m.group(2)


def _start_of(t: datetime, period: str) -> datetime:
    t = t.astimezone(UTC)
    if period == "day":
        return datetime(t.year, t.month, t.day, tzinfo=UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def _next(t: datetime, period: str) -> datetime:
    if period == "day":
        return t + timedelta(days=1)
    return datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)


def _suffix(t: datetime, period: str) -> str:
    return t.strftime("%Y%m%d" if period == "day" else "%Y%m")


def _parse(name: str, base: str, period: str) -> datetime | None:
    m = re.fullmatch(re.escape(base) + r"_p(\d{8}|\d{6})", name)
    if m is None or len(m.group(1)) != (8 if period == "day" else 6):
        return None
    fmt = "%Y%m%d" if period == "day" else "%Y%m"
    return datetime.strptime(m.group(1), fmt).replace(tzinfo=UTC)


async def register(conn: asyncpg.Connection, table: str, *, period: str = "month",
                   premake: int = 2, hot_days: int | None = None,
                   retention_days: int | None = None) -> None:
    """Put ``table`` (``schema.table``, partitioned by range of time) under maintenance."""
    _split(table)
    if period not in ("day", "month"):
        raise DataError(f"period must be 'day' or 'month', got {period!r}", period=period)
    kind = await conn.fetchval(_SQL("relkind"), table)
    if kind != "p":
        raise DataError(f"{table} is not a partitioned table (PARTITION BY RANGE (time))",
                        table=table)
    await conn.execute(_SQL("register"), table, period, premake, hot_days,
                       retention_days)


async def maintain(conn: asyncpg.Connection, *, default_retention_days: int,
                   now: datetime | None = None) -> Maintenance:
    """Create, archive and drop partitions of every registered table (see module docstring)."""
    now = now or datetime.now(UTC)
    report = Maintenance()
    if not await conn.fetchval(_SQL("registry_exists")):
        return report
    for row in await conn.fetch(_SQL("registered")):
        async with conn.transaction():
            await _maintain_table(conn, row, default_retention_days, now, report)
    return report


async def _maintain_table(conn: asyncpg.Connection, row: asyncpg.Record, default_retention: int,
                          now: datetime, report: Maintenance) -> None:
    schema, base = _split(row["table_name"])
    period = row["period"]
    parent = ident(schema, base)
    retention = timedelta(days=row["retention_days"] or default_retention)
    drop_before = now - retention
    archive_before = now - timedelta(days=row["hot_days"]) if row["hot_days"] else None

    live = {r["name"] for r in await conn.fetch(_SQL("attached"), parent)}
    archived = {r["name"] for r in await conn.fetch(_SQL("archived"), f"{base}\\_p%")}

    for name in sorted(live | archived):
        start = _parse(name, base, period)
        if start is None:
            continue
        end = _next(start, period)
        where = ARCHIVE_SCHEMA if name in archived else schema
        if end <= drop_before:
            await conn.execute(_SQL("drop_table").format(table=ident(where, name)))
            report.dropped.append(f"{where}.{name}")
        elif archive_before is not None and name in live and end <= archive_before:
            await conn.execute(_SQL("detach_partition").format(parent=parent,
                                                                partition=ident(schema, name)))
            await conn.execute(_SQL("set_schema").format(table=ident(schema, name),
                                                          schema=ident(ARCHIVE_SCHEMA)))
            report.archived.append(f"{ARCHIVE_SCHEMA}.{name}")

    # From the retention limit on, so back-dated rows have a home; a partition made inside the
    # archive window is archived by the next run.
    start = _start_of(drop_before, period)
    last = _start_of(now, period)
    for _ in range(row["premake"]):
        last = _next(last, period)
    while start <= last:
        name = f"{base}_p{_suffix(start, period)}"
        end = _next(start, period)
        if name not in live and name not in archived and end > drop_before:
            await conn.execute(_SQL("create_partition").format(
                partition=ident(schema, name), parent=parent,
                start=literal(start.isoformat()), end=literal(end.isoformat())))
            report.created.append(f"{schema}.{name}")
        start = end
