"""The embedded server: start, adopt, crash recovery with nothing lost, long paths, clean stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_actors.data.embedded import EmbeddedPostgres

pytest.importorskip("pgserver")


async def _q(dsn: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
def base() -> Path:
    path = Path(f"/tmp/aria-data-emb-{uuid.uuid4().hex[:8]}")
    yield path
    server = EmbeddedPostgres(path / "postgres")
    server.stop(mode="immediate")
    shutil.rmtree(path, ignore_errors=True)


def test_start_crash_restart_stop(base: Path) -> None:
    server = EmbeddedPostgres(base / "postgres", fast_init=True)
    dsn = server.start()
    assert (base / "postgres" / "data" / "PG_VERSION").exists()
    assert str(server.socket_dir).startswith(str(base))
    asyncio.run(_q(dsn, "CREATE TABLE t (x int)"))
    asyncio.run(_q(dsn, "INSERT INTO t SELECT generate_series(1, 1000)"))

    # A second manager (another Aria process) adopts the running server instead of starting one.
    pid = server.pid()
    assert EmbeddedPostgres(base / "postgres").start() == dsn and server.pid() == pid

    os.kill(pid, signal.SIGKILL)
    dsn2 = server.start()
    assert server.pid() != pid
    assert asyncio.run(_q(dsn2, "SELECT count(*) FROM t")) == 1000
    assert "automatic recovery" in server.log_tail(20_000)

    server.stop()
    assert not server.is_running()
    assert not (base / "postgres" / "data" / "postmaster.pid").exists()
    server.stop()  # stopping twice is fine
    assert server.start() and asyncio.run(_q(server.dsn(), "SELECT count(*) FROM t")) == 1000
    server.stop()


def test_long_path_moves_the_socket(base: Path) -> None:
    deep = base / ("d" * 60) / ("e" * 60) / "postgres"
    deep.parent.mkdir(parents=True)
    server = EmbeddedPostgres(deep, fast_init=True)
    dsn = server.start()
    try:
        assert str(server.socket_dir).startswith("/tmp/aria-pg-")
        assert asyncio.run(_q(dsn, "SELECT 1")) == 1
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as its own user only when Aria runs as root")
def test_home_under_a_private_root_owned_directory(base: Path) -> None:
    # Like ~/.aria under /root (drwx------ root:root): the server's user must pass through on o+x,
    # which only works if it does not keep root's group.
    private = base / "home"
    private.mkdir(parents=True)
    private.chmod(0o700)
    server = EmbeddedPostgres(private / ".aria" / "postgres", fast_init=True)
    dsn = server.start()
    try:
        assert asyncio.run(_q(dsn, "SELECT 1")) == 1
    finally:
        server.stop()
