"""Time-partitioned archival: partitions made ahead, old ones detached to aria_archive, then dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from aria_actors.data.archival import maintain, register
from aria_actors.data.errors import DataError


async def _names(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname LIKE 'events\\_p%' ORDER BY 1", schema)
    return [r[0] for r in rows]


async def test_partitions_created_archived_dropped(data_database: str) -> None:
    conn = await asyncpg.connect(data_database)
    try:
        await conn.execute("""
            CREATE SCHEMA aria_notes;
            CREATE TABLE aria_notes.events (id bigint, at timestamptz NOT NULL, body text)
                PARTITION BY RANGE (at);
            CREATE TABLE aria_notes.plain (x int);
        """)
        with pytest.raises(DataError, match="not a partitioned table"):
            await register(conn, "aria_notes.plain")
        await register(conn, "aria_notes.events", period="month", premake=2, hot_days=30,
                       retention_days=60)
        t0 = datetime(2026, 11, 25, tzinfo=UTC)
        first = await maintain(conn, default_retention_days=90, now=t0)
        # 2026-09-26 is the retention limit: September on, plus two months ahead.
        assert await _names(conn, "aria_notes") == [
            "events_p202609", "events_p202610", "events_p202611", "events_p202612", "events_p202701"]
        assert first.created == [f"aria_notes.{n}" for n in await _names(conn, "aria_notes")]
        await conn.execute("""
            INSERT INTO aria_notes.events VALUES
              (1, '2026-09-28', 'sep'), (2, '2026-10-15', 'oct'), (3, '2026-11-20', 'nov'),
              (4, '2027-01-31 23:00+00', 'jan');
        """)
        again = await maintain(conn, default_retention_days=90, now=t0)
        # Nothing new to create; September ended before the hot limit (2026-10-26): archived.
        assert again.created == [] and again.archived == ["aria_archive.events_p202609"]
        assert await conn.fetchval("SELECT count(*) FROM aria_notes.events") == 3

        later = datetime(2027, 1, 15, tzinfo=UTC)
        report = await maintain(conn, default_retention_days=90, now=later)
        # Drop limit 2026-11-16: Sep and Oct end before it. Archive limit 2026-12-16: Nov goes.
        assert report.dropped == ["aria_archive.events_p202609", "aria_notes.events_p202610"]
        assert report.archived == ["aria_archive.events_p202611"]
        assert report.created == ["aria_notes.events_p202702", "aria_notes.events_p202703"]
        bodies = await conn.fetch("SELECT body FROM aria_notes.events ORDER BY id")
        assert [r[0] for r in bodies] == ["jan"]
        assert await conn.fetchval("SELECT body FROM aria_archive.events_p202611") == "nov"

        final = await maintain(conn, default_retention_days=90, now=datetime(2027, 2, 5, tzinfo=UTC))
        # Drop limit 2026-12-07 takes November; hot limit 2027-01-06 moves December out.
        assert final.dropped == ["aria_archive.events_p202611"]
        assert final.archived == ["aria_archive.events_p202612"]
        assert await _names(conn, "aria_archive") == ["events_p202612"]
        with pytest.raises(asyncpg.CheckViolationError):  # "no partition of relation found"
            await conn.execute("INSERT INTO aria_notes.events VALUES (9, '2020-01-01', 'old')")
    finally:
        await conn.close()
