"""Backup then restore into a fresh database: identical row counts and checksums."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_actors.data.backup import backup, fingerprint, restore
from aria_actors.data.errors import BackupError
from aria_actors.data.migrations import migration_status
from aria_actors.data.pool import Database


async def test_backup_restore_roundtrip(data_database: str, postgres_dsn: str, tmp_path: Path) -> None:
    src = await asyncpg.connect(data_database)
    target_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{target_name}"')
    base, _, q = data_database.partition("?")
    target_dsn = base.rsplit("/", 1)[0] + f"/{target_name}" + (f"?{q}" if q else "")
    try:
        await src.execute("""
            CREATE SCHEMA aria_notes;
            CREATE TABLE aria_notes.notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL,
                                           body text, meta jsonb, at timestamptz DEFAULT now());
            SELECT aria_data.enable_tenant_isolation('aria_notes.notes');
            INSERT INTO aria_notes.notes (tenant_id, body, meta)
              SELECT CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END, repeat('x', i % 50),
                     jsonb_build_object('i', i) FROM generate_series(1, 2000) i;
        """)
        before = await fingerprint(src)
        assert before["aria_notes.notes"][0] == 2000
        info = await backup(src, data_database, tmp_path / "db.dump")
        # a dump holds password hashes and MFA secrets: its owner's alone
        assert (Path(info.path).stat().st_mode & 0o777) == 0o600
        assert info.size_bytes > 0 and info.tables == len(before)
        assert not (tmp_path / "db.dump.partial").exists()

        dst = await asyncpg.connect(target_dsn)
        try:
            assert await restore(dst, target_dsn, tmp_path / "db.dump") == len(before)
            assert await fingerprint(dst) == before
            states = [(s.service, s.version, s.state) for s in await migration_status(dst, ["data"])]
            assert states == [("aria_data", 1, "applied"), ("aria_data", 2, "applied"),
                              ("aria_data", 3, "applied"), ("aria_data", 4, "applied")]
            with pytest.raises(BackupError, match="empty database"):
                await restore(dst, target_dsn, tmp_path / "db.dump")
        finally:
            await dst.close()

        # Row-level security came back with the data.
        db = await Database.connect(target_dsn)
        try:
            async def count(conn: asyncpg.Connection) -> int:
                return await conn.fetchval("SELECT count(*) FROM aria_notes.notes")

            assert await db.transaction(count, tenant="A") == 1000
        finally:
            await db.close()
    finally:
        await src.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
        await admin.close()


async def test_backup_errors_are_typed(data_database: str, tmp_path: Path) -> None:
    conn = await asyncpg.connect(data_database)
    try:
        with pytest.raises(BackupError, match="no backup file"):
            await restore(conn, data_database, tmp_path / "missing.dump")
        bad = data_database.replace("/t_", "/nonexistent_t_")
        with pytest.raises(BackupError, match="pg_dump failed"):
            await backup(conn, bad, tmp_path / "x.dump")
        assert not (tmp_path / "x.dump").exists()
    finally:
        await conn.close()
