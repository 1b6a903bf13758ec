"""A 1,000-step workflow survives kill -9 of its engine at step 500, then of the aria_queue
executor running one of its jobs, then of PostgreSQL: it completes, each step's result is
recorded once, and the idempotent side effect happened exactly once per step. Prints the time
each resume took (kill -> the next step recorded)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_actors.data.migrations import migrate_up
from aria_actors.runtime.principal import Principal
from aria_actors.workflow.store import WorkflowStore
from tests.integration.workflow import crash_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")
STEPS = 1000
OWNER = "aria_workflow@crash-test"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own (it gets killed): (server, dsn, pgdata)."""
    pgserver = pytest.importorskip("pgserver")
    pgdata = Path(f"/tmp/aria-crash-pg-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        yield server, server.get_uri(), pgdata
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def _spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.workflow.crash_worker", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip().endswith("up"), "worker process did not start"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _kill_postgres(pgdata: Path) -> None:
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)


def _restart_postgres(server, pgdata: Path) -> None:
    # The killed postmaster lingers as a zombie where nothing reaps it (a container's PID 1), and
    # its pid and socket lock files name it as alive: remove them; the server recovers on start.
    for name in ("postmaster.pid", ".s.PGSQL.5432.lock"):
        (pgdata / name).unlink(missing_ok=True)
    server.ensure_postgres_running()


async def _recorded(conn: asyncpg.Connection, run_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM aria_workflow.steps WHERE run_id = $1 AND kind <> 'job-ticket'",
                               uuid.UUID(run_id))


async def _wait_steps(dsn: str, run_id: str, at_least: int, timeout: float = 300) -> float:
    """Seconds until ``at_least`` steps are recorded (the database may be restarting)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            conn = await asyncpg.connect(dsn, timeout=2)
            try:
                if await _recorded(conn, run_id) >= at_least:
                    return time.monotonic() - t0
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} steps recorded after {timeout} s")


async def _executing_job(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM aria_queue.jobs WHERE state = 'executing'") > 0
    finally:
        await conn.close()


async def test_a_thousand_steps_survive_kill_9_of_engine_queue_and_postgres(own_postgres):
    server, dsn, pgdata = own_postgres
    conn = await asyncpg.connect(dsn)
    try:
        for service in ("aria_data", "aria_queue", "aria_workflow"):
            await migrate_up(conn, [service])
        await conn.execute(crash_worker.SETUP)
    finally:
        await conn.close()
    from aria_actors.data.pool import Database

    db = await Database.connect(dsn, name="crash-test", min_size=1, max_size=2)
    store = WorkflowStore(db)
    run_id, _ = await store.insert_run(str(uuid.uuid4()), "", "crash-thousand", 1, "", {"steps": STEPS},
                                       Principal(subject="crash", roles=("admin",)).to_dict(), "crash", None,
                                       OWNER, 5.0)
    await db.close()

    queue = _spawn("queue", dsn)
    engine = _spawn("engine", dsn, OWNER)
    resumes: dict[str, float] = {}
    try:
        # 1. the engine dies at step 500; a new engine process (the actor restarted) resumes it
        await _wait_steps(dsn, run_id, 500)
        _kill(engine)
        t0 = time.monotonic()
        engine = _spawn("engine", dsn, OWNER)
        await _wait_steps(dsn, run_id, 502)
        resumes["engine"] = time.monotonic() - t0

        # 2. the queue's executor dies while it runs one of the run's jobs
        await _wait_steps(dsn, run_id, 600)
        for _ in range(2000):
            if await _executing_job(dsn):
                break
            await asyncio.sleep(0.005)
        conn = await asyncpg.connect(dsn)
        before = await _recorded(conn, run_id)
        await conn.close()
        _kill(queue)
        t0 = time.monotonic()
        queue = _spawn("queue", dsn)
        await _wait_steps(dsn, run_id, before + 2)
        resumes["queue"] = time.monotonic() - t0

        # 3. PostgreSQL dies (kill -9) and comes back with crash recovery
        await _wait_steps(dsn, run_id, 800)
        _kill_postgres(pgdata)
        await asyncio.sleep(1.0)
        t0 = time.monotonic()
        _restart_postgres(server, pgdata)
        await _wait_steps(dsn, run_id, 805)
        resumes["postgres"] = time.monotonic() - t0

        await _wait_steps(dsn, run_id, STEPS)
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(500):
                state = await conn.fetchval("SELECT state FROM aria_workflow.runs WHERE id = $1", uuid.UUID(run_id))
                if state == "completed":
                    break
                await asyncio.sleep(0.05)
            assert state == "completed"
            output = await conn.fetchval("SELECT output FROM aria_workflow.runs WHERE id = $1", uuid.UUID(run_id))
            assert int(output) == sum(range(STEPS))
            rows = await conn.fetch("SELECT key FROM aria_workflow.steps WHERE run_id = $1 AND kind <> 'job-ticket'",
                                    uuid.UUID(run_id))
            assert sorted(int(r["key"]) for r in rows) == list(range(1, STEPS + 1))  # each step recorded once
            jobs = STEPS // crash_worker.JOB_EVERY
            effects = await conn.fetchval("SELECT count(*) FROM crash.effects")
            executions = await conn.fetchval("SELECT executions FROM crash.counter")
            assert effects == STEPS - jobs  # the idempotent side effect: once per step
            assert executions >= effects
            done_jobs = await conn.fetchval("SELECT count(*) FROM aria_queue.jobs WHERE state = 'completed'")
            assert done_jobs >= jobs
        finally:
            await conn.close()
        print(f"\ncrash test: resumed after kill -9 of the engine in {resumes['engine']:.2f} s, of the queue "
              f"executor in {resumes['queue']:.2f} s, of PostgreSQL in {resumes['postgres']:.2f} s "
              f"(restart included); side effect executions {executions} for {effects} steps")
    finally:
        for proc in (engine, queue):
            if proc.poll() is None:
                _kill(proc)
