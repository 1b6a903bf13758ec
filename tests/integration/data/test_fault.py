"""Fault: kill -9 the PostgreSQL server during a stream of committed inserts, then restart it."""

from __future__ import annotations

import asyncio
import os
import signal

from aria_actors.data.config import DataConfig
from aria_actors.data.errors import DatabaseUnreachable
from aria_actors.data.pool import Database


async def test_kill_9_loses_no_acknowledged_insert(own_postgres) -> None:
    server = own_postgres
    db = await Database.connect(server.dsn(), DataConfig(pool_min_size=2, pool_max_size=4,
                                                         connect_timeout_s=2))
    await db.execute("CREATE TABLE events (id int PRIMARY KEY, body text NOT NULL)")
    acked: list[int] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def writer(lane: int) -> None:
        n = 0
        while not stop.is_set():
            key = lane * 1_000_000 + n
            try:
                # Idempotent: a retry of an insert whose commit outcome was unknown is harmless.
                await db.execute("INSERT INTO events VALUES ($1, 'x') ON CONFLICT DO NOTHING", key)
            except DatabaseUnreachable as exc:
                failures.append(str(exc))
                await asyncio.sleep(0.01)
                continue
            acked.append(key)
            n += 1

    async def wait_for_acks(count: int) -> None:
        target = len(acked) + count
        while len(acked) < target:
            await asyncio.sleep(0.005)

    writers = [asyncio.create_task(writer(lane)) for lane in range(3)]
    await wait_for_acks(200)
    pid = server.pid()
    os.kill(pid, signal.SIGKILL)
    at_kill = len(acked)
    await asyncio.to_thread(server.start)  # crash recovery, same data directory
    assert server.pid() != pid
    await wait_for_acks(200)  # the same pool serves again: no restart of Aria
    stop.set()
    await asyncio.gather(*writers)

    assert failures, "the kill should have interrupted some inserts"
    present = {r["id"] for r in await db.fetch("SELECT id FROM events")}
    missing = sorted(set(acked) - present)
    assert not missing, f"{len(missing)} acknowledged inserts lost: {missing[:10]}"
    assert len(acked) >= at_kill + 200
    await db.close()
