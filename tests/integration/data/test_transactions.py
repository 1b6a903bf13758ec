"""transaction(): retry on serialization failures and deadlocks, savepoints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from aria_actors.data.config import DataConfig
from aria_actors.data.errors import TransactionRetriesExhausted
from aria_actors.data.pool import Database
from aria_actors.data.transactions import RetryPolicy, run_transaction

FAIL_SERIALIZATION = "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$"


@contextlib.asynccontextmanager
async def _open(dsn: str, **cfg: object) -> AsyncIterator[Database]:
    db = await Database.connect(dsn, DataConfig(retry_base_delay_s=0.001, **cfg))
    try:
        await db.execute("CREATE TABLE IF NOT EXISTS acct (id int PRIMARY KEY, n int NOT NULL)")
        yield db
    finally:
        await db.close()


async def test_survives_injected_serialization_failures(data_database: str) -> None:
    async with _open(data_database) as db:
        calls = 0

        async def body(conn: asyncpg.Connection) -> int:
            nonlocal calls
            calls += 1
            await conn.execute("INSERT INTO acct VALUES ($1, 0)", calls)
            if calls <= 3:
                await conn.execute(FAIL_SERIALIZATION)
            return calls

        assert await db.transaction(body, isolation="serializable") == 4
        # The failed attempts were rolled back: only the fourth insert is there.
        assert [r["id"] for r in await db.fetch("SELECT id FROM acct")] == [4]
        assert db.stats()["retries"] == 3


async def test_gives_up_after_bounded_attempts(data_database: str) -> None:
    async with _open(data_database, retry_attempts=3) as db:
        calls = 0

        async def body(conn: asyncpg.Connection) -> None:
            nonlocal calls
            calls += 1
            await conn.execute(FAIL_SERIALIZATION)

        with pytest.raises(TransactionRetriesExhausted) as err:
            await db.transaction(body)
        assert calls == 3 and err.value.fields == {"attempts": 3, "sqlstate": "40001"}

        async def not_retryable(conn: asyncpg.Connection) -> None:
            nonlocal calls
            calls += 1
            await conn.execute("SELECT 1/0")

        calls = 0
        with pytest.raises(asyncpg.DivisionByZeroError):
            await db.transaction(not_retryable)
        assert calls == 1


async def test_real_deadlock_and_write_skew_are_retried(data_database: str) -> None:
    async with _open(data_database, pool_max_size=4) as db:
        await db.execute("INSERT INTO acct VALUES (1, 0), (2, 0)")
        both_locked = asyncio.Barrier(2)

        async def transfer(first: int, second: int) -> None:
            attempts = 0

            async def body(conn: asyncpg.Connection) -> None:
                nonlocal attempts
                attempts += 1
                await conn.execute("UPDATE acct SET n = n + 1 WHERE id = $1", first)
                if attempts == 1:
                    await both_locked.wait()  # each holds one row: a guaranteed deadlock
                await conn.execute("UPDATE acct SET n = n + 1 WHERE id = $1", second)

            await db.transaction(body)

        await asyncio.gather(transfer(1, 2), transfer(2, 1))
        assert [r["n"] for r in await db.fetch("SELECT n FROM acct ORDER BY id")] == [2, 2]
        assert db.stats()["retries"] >= 1

        # Serializable write skew: two increments of one counter; one is retried, none lost.
        await db.execute("CREATE TABLE counter (v int)")
        await db.execute("INSERT INTO counter VALUES (0)")
        both_read = asyncio.Barrier(2)

        async def bump() -> None:
            first = True

            async def body(conn: asyncpg.Connection) -> None:
                nonlocal first
                v = await conn.fetchval("SELECT v FROM counter")
                if first:
                    first = False
                    await both_read.wait()
                await conn.execute("UPDATE counter SET v = $1", v + 1)

            await db.transaction(body, isolation="serializable")

        await asyncio.gather(bump(), bump())
        assert await db.fetchval("SELECT v FROM counter") == 2


async def test_nested_calls_use_savepoints(data_database: str) -> None:
    async with _open(data_database) as db, db.acquire() as conn:
        async def outer(c: asyncpg.Connection) -> None:
            await c.execute("INSERT INTO acct VALUES (10, 0)")

            async def inner(c2: asyncpg.Connection) -> None:
                await c2.execute("INSERT INTO acct VALUES (11, 0)")
                raise ValueError("inner fails")

            with pytest.raises(ValueError):
                await run_transaction(c, inner)
            await run_transaction(c, lambda c3: c3.execute("INSERT INTO acct VALUES (12, 0)"))

        await run_transaction(conn, outer, policy=RetryPolicy(attempts=2))
        rows = await conn.fetch("SELECT id FROM acct ORDER BY id")
        assert [r["id"] for r in rows] == [10, 12]

