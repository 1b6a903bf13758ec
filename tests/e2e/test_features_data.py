"""aria_data's built features through the gateway of a running `aria up` (the shared one):
migrations and the schema they make, query advice, partition maintenance and backups. The
checks read the database aria_data reports (its DSN is in the health an operator reads)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from aria_actors.data.archival import register
from aria_actors.data.embedded import find_bin_dir
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def dsn(aria: AriaClient) -> str:
    return aria.data.health()["details"]["dsn"]


def _sql(dsn: str, script: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(script)
        finally:
            await conn.close()

    asyncio.run(run())


def test_every_service_schema_is_migrated_and_there(aria: AriaClient) -> None:
    status = aria.data.migrate_status()
    by_service: dict[str, list[int]] = {}
    for row in status:
        assert row["state"] == "applied" and row["applied_at"], row
        by_service.setdefault(row["service"], []).append(row["version"])
    assert {"aria_data", "aria_auth", "aria_queue", "aria_storage", "aria_shape"} <= set(by_service)
    for service, versions in by_service.items():  # each applied in order, none skipped
        assert sorted(versions) == list(range(1, len(versions) + 1)), service
    assert aria.data.migrate("aria_queue") == {"service": "aria_queue", "applied": []}  # nothing pending
    assert aria.data.migrate_status(service="aria_queue") == [r for r in status if r["service"] == "aria_queue"]
    tables = {t["name"] for t in aria.data.health()["details"]["table_sizes"]}
    assert {"aria_queue.jobs", "aria_auth.users", "aria_storage.versions", "aria_data.schema_migrations"} <= tables


def test_query_advice_names_an_index_nothing_uses(aria: AriaClient, dsn: str) -> None:
    schema = f"aria_e2e_{uuid.uuid4().hex[:8]}"
    _sql(dsn, f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.notes (id bigint PRIMARY KEY, body text);
        INSERT INTO {schema}.notes SELECT g, 'note ' || g FROM generate_series(1, 2000) g;
        CREATE INDEX notes_body_idx ON {schema}.notes (body);
        ANALYZE {schema}.notes;
    """)
    advice = aria.data.query_advice(min_rows=1)
    assert {"kind": "unused-index", "target": f"{schema}.notes_body_idx"} in [
        {"kind": a["kind"], "target": a["target"]} for a in advice], advice
    assert not any(a["target"] == f"{schema}.notes_pkey" for a in advice)  # unique: enforces a key


def test_partition_maintenance_makes_the_partitions_ahead(aria: AriaClient, dsn: str) -> None:
    schema = f"aria_e2e_{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.events "
                               "(id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at)")
            await register(conn, f"{schema}.events", period="month", premake=2, retention_days=60)
        finally:
            await conn.close()

    asyncio.run(make())
    report = aria.data.maintain_partitions()
    made = sorted(p for p in report["created"] if p.startswith(f"{schema}."))
    now = datetime.now(UTC)
    this_month = f"{schema}.events_p{now:%Y%m}"
    assert this_month in made and len(made) >= 3, report  # this month, two ahead, back to retention
    assert aria.data.maintain_partitions()["created"] == []  # made once
    _sql(dsn, f"INSERT INTO {schema}.events VALUES (1, now())")  # a row has a partition to go to


def test_a_backup_is_a_dump_of_every_service_listed_newest_first(aria: AriaClient) -> None:
    made = aria.data.backup()
    path = Path(made["path"])
    assert path.is_file() and path.stat().st_size == made["size_bytes"] > 0
    assert aria.data.backups()[0]["name"] == made["name"]
    toc = subprocess.run([str(find_bin_dir() / "pg_restore"), "--list", str(path)],
                         capture_output=True, text=True, check=True).stdout
    for table in ("aria_queue jobs", "aria_auth users", "aria_storage versions"):
        assert f"TABLE DATA {table}" in toc, table
