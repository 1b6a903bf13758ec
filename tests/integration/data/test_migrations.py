"""Migrations against a real PostgreSQL: up, down, status, concurrent migrators, checksums."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from aria_actors.data.errors import (
    MigrationChecksumMismatch,
    MigrationFailed,
    MigrationIrreversible,
    MigrationMissing,
)
from aria_actors.data.migrations import migrate_down, migrate_up, migration_status

REPO = Path(__file__).resolve().parents[3]


def _write(root: Path, svc: str, files: dict[str, str]) -> None:
    folder = root / svc / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    # queue depends (through layers) on data; its migration uses data's table to prove the order.
    _write(tmp_path, "queue", {
        "0001_jobs.sql": "CREATE TABLE jobs (id bigserial PRIMARY KEY, tenant text);\n"
                         "INSERT INTO aria_data.log (what) VALUES ('queue 1');",
        "0001_jobs.down.sql": "DROP TABLE jobs;",
        "0002_prio.sql": "ALTER TABLE jobs ADD COLUMN priority int NOT NULL DEFAULT 0;",
        "0002_prio.down.sql": "ALTER TABLE jobs DROP COLUMN priority;",
    })
    _write(tmp_path, "data", {
        "0001_log.sql": "CREATE TABLE log (n serial PRIMARY KEY, what text NOT NULL);",
    })
    return tmp_path


async def test_up_status_down(fresh_database: str, tree: Path) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        before = await migration_status(conn, root=tree)
        assert {s.state for s in before} == {"pending"}
        applied = await migrate_up(conn, root=tree)
        assert [(a.service, a.version) for a in applied] == [
            ("aria_data", 1), ("aria_queue", 1), ("aria_queue", 2),
        ]
        assert await migrate_up(conn, root=tree) == []
        # Unqualified names landed in each service's own schema.
        assert await conn.fetchval("SELECT to_regclass('aria_queue.jobs') IS NOT NULL")
        assert await conn.fetchval("SELECT what FROM aria_data.log") == "queue 1"
        status = await migration_status(conn, root=tree)
        assert [(s.service, s.version, s.state) for s in status] == [
            ("aria_data", 1, "applied"), ("aria_queue", 1, "applied"), ("aria_queue", 2, "applied"),
        ]
        assert all(s.applied_at is not None for s in status)

        reverted = await migrate_down(conn, "queue", root=tree)
        assert [a.version for a in reverted] == [2]
        cols = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema='aria_queue' AND table_name='jobs'")
        assert {r["column_name"] for r in cols} == {"id", "tenant"}
        assert [s.state for s in await migration_status(conn, ["queue"], root=tree)] == [
            "applied", "pending"]
        # data 0001 has no down file: refused before anything runs.
        with pytest.raises(MigrationIrreversible):
            await migrate_down(conn, "data", root=tree)
        assert await migrate_down(conn, "queue", to_version=0, root=tree)
        assert not await conn.fetchval("SELECT to_regclass('aria_queue.jobs') IS NOT NULL")
        again = await migrate_up(conn, ["queue"], target=1, root=tree)
        assert [a.version for a in again] == [1]
    finally:
        await conn.close()


async def test_edited_applied_migration_is_refused(fresh_database: str, tree: Path) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate_up(conn, root=tree)
        path = tree / "queue" / "migrations" / "0001_jobs.sql"
        path.write_text(path.read_text() + "\n-- edited")
        _write(tree, "queue", {"0003_more.sql": "CREATE TABLE more (x int);"})
        with pytest.raises(MigrationChecksumMismatch) as err:
            await migrate_up(conn, root=tree)
        assert err.value.fields["version"] == 1 and err.value.type == "migration-checksum-mismatch"
        # Nothing ran: the new migration is still pending, and status shows the edit.
        assert not await conn.fetchval("SELECT to_regclass('aria_queue.more') IS NOT NULL")
        states = {(s.version, s.state) for s in await migration_status(conn, ["queue"], root=tree)}
        assert states == {(1, "changed"), (2, "applied"), (3, "pending")}
        (tree / "queue" / "migrations" / "0002_prio.sql").unlink()
        (tree / "queue" / "migrations" / "0002_prio.down.sql").unlink()
        path.write_text(path.read_text().removesuffix("\n-- edited"))
        with pytest.raises(MigrationMissing):
            await migrate_up(conn, root=tree)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_whole(fresh_database: str, tmp_path: Path) -> None:
    _write(tmp_path, "queue", {
        "0001_ok.sql": "CREATE TABLE a (x int);",
        "0002_bad.sql": "CREATE TABLE b (x int);\nSELECT no_such_function();",
    })
    conn = await asyncpg.connect(fresh_database)
    try:
        with pytest.raises(MigrationFailed) as err:
            await migrate_up(conn, root=tmp_path)
        assert "0002_bad.sql" in err.value.message
        assert await conn.fetchval("SELECT to_regclass('aria_queue.a') IS NOT NULL")
        assert not await conn.fetchval("SELECT to_regclass('aria_queue.b') IS NOT NULL")
        states = [s.state for s in await migration_status(conn, root=tmp_path)]
        assert states == ["applied", "pending"]
        # The lock was released: another session can take it at once.
        other = await asyncpg.connect(fresh_database)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock($1)", 0x61726961_6D696772)
        finally:
            await other.close()
    finally:
        await conn.close()


_MIGRATOR = """
import asyncio, json, sys
from pathlib import Path
import asyncpg
from aria_actors.data.migrations import migrate_up

async def main():
    conn = await asyncpg.connect(sys.argv[1])
    try:
        sys.stdin.readline()  # start together
        done = await migrate_up(conn, root=Path(sys.argv[2]))
        print(json.dumps([[a.service, a.version] for a in done]))
    finally:
        await conn.close()

asyncio.run(main())
"""


def test_four_concurrent_migrators_apply_each_once(fresh_database: str, tmp_path: Path) -> None:
    # Non-idempotent SQL: a second application would fail (duplicate table) or double-count.
    _write(tmp_path, "data", {
        "0001_counter.sql": "CREATE TABLE applied (what text);\nSELECT pg_sleep(0.3);\n"
                            "INSERT INTO applied VALUES ('data 1');",
    })
    _write(tmp_path, "queue", {
        f"{v:04d}_step{v}.sql": f"CREATE TABLE t{v} (x int);\n"
                                f"INSERT INTO aria_data.applied VALUES ('queue {v}');"
        for v in range(1, 6)
    })
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATOR, fresh_database, str(tmp_path)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = []
    for p in procs:  # release them all before reading any output
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    everything = sorted(tuple(x) for o in outs for x in o)
    assert everything == [("aria_data", 1)] + [("aria_queue", v) for v in range(1, 6)]

    import asyncio

    async def _check() -> list[str]:
        conn = await asyncpg.connect(fresh_database)
        try:
            rows = await conn.fetch("SELECT what FROM aria_data.applied ORDER BY what")
            return [r["what"] for r in rows]
        finally:
            await conn.close()

    assert asyncio.run(_check()) == ["data 1"] + [f"queue {v}" for v in range(1, 6)]


async def test_lock_timeout_is_typed(fresh_database: str, tree: Path) -> None:
    from aria_actors.data.errors import MigrationLockTimeout

    holder = await asyncpg.connect(fresh_database)
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", 0x61726961_6D696772)
        with pytest.raises(MigrationLockTimeout):
            await migrate_up(conn, root=tree, lock_timeout_s=0.2)
        # Nothing ran and the connection is usable; once the lock is free the run goes through.
        assert await conn.fetchval("SELECT to_regclass('aria_data.schema_migrations')") is None
        await holder.execute("SELECT pg_advisory_unlock($1)", 0x61726961_6D696772)
        assert len(await migrate_up(conn, root=tree, lock_timeout_s=5)) == 3
    finally:
        await holder.close()
        await conn.close()
