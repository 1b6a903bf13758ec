"""aria_data's statement statistics and index checks on real servers: a PostgreSQL whose binaries
have pg_stat_statements (Debian's, /usr/lib/postgresql/<v>; skipped where none is installed)
preloads it and a repeated unindexed lookup is listed, planned, and checked on a copy of its table
(cheaper with the index, nothing left behind); the session's server (the pgserver wheel, no such
library) reports the statistics unavailable."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aria_actors.data import statements as st
from aria_actors.data.embedded import EmbeddedPostgres
from aria_actors.data.errors import StatementStatsUnavailable, UnknownStatement
from aria_actors.runtime.errors import BadRequest

LOOKUP = "SELECT id, v FROM s1.probe WHERE k = $1"


def _bin_dir_with_stat_statements() -> Path | None:
    for lib in sorted(Path("/usr/lib/postgresql").glob("*/lib/pg_stat_statements.so"), reverse=True):
        if (lib.parent.parent / "bin" / "pg_ctl").exists():
            return lib.parent.parent / "bin"
    return None


@pytest.fixture
def server_with_stats() -> Iterator[str]:
    bin_dir = _bin_dir_with_stat_statements()
    if bin_dir is None:
        pytest.skip("no PostgreSQL with pg_stat_statements installed under /usr/lib/postgresql")
    base = f"/tmp/aria-data-stats-{uuid.uuid4().hex[:8]}"  # directly under /tmp: traversable as root
    server = EmbeddedPostgres(base, start_timeout_s=60, fast_init=True, bin_dir=bin_dir)
    assert server.preload == ("pg_stat_statements",)
    try:
        yield server.start()
    finally:
        try:
            server.stop(mode="immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


def test_a_repeated_unindexed_lookup_is_listed_planned_and_checked_on_a_copy(server_with_stats: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server_with_stats)
        try:
            state = await st.prepare_stats(conn)
            assert state.available, state.reason
            await conn.execute("CREATE SCHEMA s1; CREATE TABLE s1.probe (id bigserial PRIMARY KEY, k int NOT NULL, "
                               "v text, w int GENERATED ALWAYS AS (k * 2) STORED)")
            await conn.execute("INSERT INTO s1.probe (k, v) SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
            for i in range(20):
                await conn.fetch(LOOKUP, i)
            listed = await st.statement_stats(conn, state, 50, 5)
            [stmt] = [s for s in listed if s["query"] == LOOKUP]
            assert stmt["calls"] == 20 and isinstance(stmt["queryid"], str)

            plan = await st.explain_statement(conn, state, stmt["queryid"], 30)
            assert plan["summary"]["scans"][0]["node"] == "Seq Scan"
            assert plan["columns"] == {"s1.probe": ["id", "k", "v", "w"]}

            got = await st.check_index(conn, state, stmt["queryid"], "s1.probe", ["k"], rows=5000, timeout_s=30)
            assert got["rows_sampled"] == 5000 and got["index_used"]
            assert got["cost_after"] < got["cost_before"] / 10, got
            assert got["plan_after"][0]["relation"] == "s1.probe"
            # the copy, its index and the prepared statements are gone; the real table has no new index
            assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'aria_scratch%'") == 0
            assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'aria_check%'") == 0
            assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE schemaname = 's1'") == 1

            for table, columns, field in [("s1.nope", ["k"], "table"), ("s1.probe", ["k", "zz"], "columns[1]"),
                                          ("pg_catalog.pg_class", ["relname"], "table")]:
                with pytest.raises(BadRequest) as bad:
                    await st.check_index(conn, state, stmt["queryid"], table, columns, rows=100, timeout_s=30)
                assert bad.value.fields["field"] == field
            other = [s for s in listed
                     if "probe" not in s["query"] and s["query"].lstrip().upper().startswith("SELECT")]
            if other:  # a statement that does not read the table: 400 naming the table
                with pytest.raises(BadRequest) as bad:
                    await st.check_index(conn, state, other[0]["queryid"], "s1.probe", ["k"], rows=100, timeout_s=30)
                assert bad.value.fields["field"] in ("table", "queryid")
            with pytest.raises(UnknownStatement):
                await st.check_index(conn, state, "12345", "s1.probe", ["k"], rows=100, timeout_s=30)
        finally:
            await conn.close()

    asyncio.run(run())


def test_without_the_library_statistics_are_unavailable(fresh_database: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(fresh_database)
        try:
            state = await st.prepare_stats(conn)
            if state.available:
                pytest.skip("the session's server loads pg_stat_statements")
            assert "shared_preload_libraries" in state.reason
            with pytest.raises(StatementStatsUnavailable):
                await st.statement_stats(conn, state, 10, 1)
        finally:
            await conn.close()

    asyncio.run(run())
