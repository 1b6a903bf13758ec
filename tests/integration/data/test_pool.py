"""The pool: stats, statement timeout, slow queries, and one clear error for bad settings."""

from __future__ import annotations

import logging
import time

import asyncpg
import pytest

from aria_actors.data.config import DataConfig
from aria_actors.data.dsn import mask
from aria_actors.data.errors import DatabaseAuthFailed, DatabaseUnreachable, DatabaseUrlInvalid
from aria_actors.data.pool import Database
from tests.fixtures.data import free_port


async def test_stats_timeouts_and_slow_queries(fresh_database: str) -> None:
    cfg = DataConfig(pool_min_size=2, pool_max_size=3, statement_timeout_s=0.5, slow_query_ms=100)
    db = await Database.connect(fresh_database, cfg)
    try:
        assert await db.fetchval("SELECT 41 + 1") == 42
        st = db.stats()
        assert (st["size"], st["min_size"], st["max_size"]) == (2, 2, 3)
        assert st["in_use"] == 0 and st["queries"] >= 1
        assert await db.fetchval("SHOW statement_timeout") == "500ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await db.execute("SELECT pg_sleep(2)")
        await db.execute("SELECT pg_sleep(0.15)")
        st = db.stats()
        assert st["slow_queries"] == 2 and st["query_errors"] == 1
        assert db.recent_slow[-1]["query"] == "SELECT pg_sleep(0.15)"
        assert await db.ping() > 0
    finally:
        await db.close()
    await db.close()  # twice is fine


async def test_metrics_exported(fresh_database: str) -> None:
    from prometheus_client import REGISTRY, generate_latest

    db = await Database.connect(fresh_database, DataConfig(pool_min_size=1), name="metrics_test")
    try:
        await db.fetchval("SELECT 1")
        text = generate_latest(REGISTRY).decode()
        assert 'aria_db_pool_size{pool="metrics_test"} 1.0' in text
        assert 'aria_db_queries_total{pool="metrics_test"}' in text
    finally:
        await db.close()


@pytest.mark.parametrize("url", [
    "mysql://u:hunter2@localhost/db",
    "postgresql://u:hunter2@localhost:99999/db",
    "postgresql://u:hunter2@:5432/db",
    "not a url at all :hunter2@",
])
async def test_malformed_url(url: str) -> None:
    with pytest.raises(DatabaseUrlInvalid) as err:
        await Database.connect(url, DataConfig(connect_timeout_s=1))
    assert "ARIA_DATABASE_URL" in err.value.message
    assert "hunter2" not in err.value.message and "hunter2" not in str(err.value.problem())


async def test_unreachable_server_fails_within_connect_timeout() -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as err:
        await Database.connect(f"postgresql://aria:hunter2@127.0.0.1:{port}/aria",
                               DataConfig(connect_timeout_s=1), setting="ARIA_DATABASE_URL")
    assert time.monotonic() - t0 < 1 + 2  # the timeout, plus scheduling slack on a loaded box
    assert "ARIA_DATABASE_URL" in err.value.message and "hunter2" not in err.value.message
    # A host that never answers: the connect timeout is what ends it.
    t0 = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as err:
        await Database.connect("postgresql://aria:hunter2@10.255.255.1:5432/aria",
                               DataConfig(connect_timeout_s=0.5), setting="ARIA_DATABASE_URL")
    assert time.monotonic() - t0 < 0.5 + 2
    assert "hunter2" not in err.value.message


async def test_wrong_password_and_unknown_database(own_postgres, caplog: pytest.LogCaptureFixture
                                                   ) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await asyncpg.connect(own_postgres.dsn())
    try:
        await admin.execute("CREATE ROLE app LOGIN PASSWORD 'right-secret'")
        await admin.execute("CREATE DATABASE appdb OWNER app")
    finally:
        await admin.close()
    port = own_postgres.port
    good = f"postgresql://app:right-secret@127.0.0.1:{port}/appdb"
    db = await Database.connect(good, DataConfig(pool_min_size=1))
    assert await db.fetchval("SELECT current_user") == "app"
    assert "right-secret" not in repr(db) and "right-secret" not in str(db.stats())
    await db.close()
    with pytest.raises(DatabaseAuthFailed) as err:
        await Database.connect(f"postgresql://app:wrong-secret@127.0.0.1:{port}/appdb",
                               DataConfig(connect_timeout_s=2))
    assert "ARIA_DATABASE_URL" in err.value.message and "wrong-secret" not in err.value.message
    assert err.value.fields["url"] == f"postgresql://app:***@127.0.0.1:{port}/appdb"
    with pytest.raises(DatabaseUnreachable, match="does not exist"):
        await Database.connect(f"postgresql://app:right-secret@127.0.0.1:{port}/nope",
                               DataConfig(connect_timeout_s=2))
    assert "right-secret" not in caplog.text and "wrong-secret" not in caplog.text


def test_mask() -> None:
    assert mask("postgresql://u:p%40ss@h:5/d?sslmode=require") == \
        "postgresql://u:***@h:5/d?sslmode=require"
    assert mask("postgresql://u@h/d") == "postgresql://u@h/d"
    assert "zzz" not in mask("postgresql://u:zzz@h:notaport/d")


async def test_a_transactions_own_errors_are_not_the_databases(fresh_database: str) -> None:
    db = await Database.connect(fresh_database, DataConfig(pool_min_size=1, pool_max_size=2))

    async def refuses(conn: asyncpg.Connection) -> None:
        await conn.fetchval("SELECT 1")
        raise ValueError("refused by the body")

    async def calls_a_server_that_is_down(conn: asyncpg.Connection) -> None:
        raise ConnectionRefusedError(111, "another service does not answer")

    async def waits_too_long(conn: asyncpg.Connection) -> None:
        raise TimeoutError("another service took too long")

    try:
        # The body's own errors pass through as they are, uncounted: none is a lost connection.
        for body, error in ((refuses, ValueError), (calls_a_server_that_is_down, ConnectionRefusedError),
                            (waits_too_long, TimeoutError)):
            with pytest.raises(error) as err:
                await db.transaction(body)
            assert type(err.value) is error
        assert db.stats()["query_errors"] == 0

        async def divides_by_zero(conn: asyncpg.Connection) -> None:
            await conn.fetchval("SELECT 1 / 0")

        with pytest.raises(asyncpg.DivisionByZeroError):  # the database's: counted
            await db.transaction(divides_by_zero)
        assert db.stats()["query_errors"] == 1
        assert await db.transaction(lambda conn: conn.fetchval("SELECT 42")) == 42  # the pool is fine
    finally:
        await db.close()


async def test_a_connection_lost_inside_a_transaction_is_still_a_lost_connection(fresh_database: str) -> None:
    db = await Database.connect(fresh_database, DataConfig(pool_min_size=1, pool_max_size=2))

    async def cut(conn: asyncpg.Connection) -> None:
        conn.terminate()  # the socket goes, as when the server dies
        raise ConnectionResetError(104, "Connection reset by peer")

    async def server_ends_it(conn: asyncpg.Connection) -> None:
        await conn.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")

    try:
        with pytest.raises(DatabaseUnreachable, match="lost the database connection"):
            await db.transaction(cut)
        assert db.stats()["query_errors"] == 1
        with pytest.raises(DatabaseUnreachable, match="lost the database connection"):
            await db.transaction(server_ends_it)
        assert db.stats()["query_errors"] == 2
        assert await db.transaction(lambda conn: conn.fetchval("SELECT 42")) == 42  # a new connection
    finally:
        await db.close()
