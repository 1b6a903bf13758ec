"""aria_tune's query optimisation on a real PostgreSQL that loads pg_stat_statements (Debian's
binaries under /usr/lib/postgresql; skipped where none is installed): its migration and .sql
queries, the probe's unindexed lookup listed, analysed into an index on ``k`` found cheaper on a
copy by aria_data's statements.py, recorded once and listed. aria_data's RPCs are answered by its
statements module over the same server (the path through the gateway is
tests/e2e/test_features_tune_query.py)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aria_actors.data import statements as st
from aria_actors.data.embedded import EmbeddedPostgres
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue
from tests.fixtures.postgres import DataClientOverDsn

ADMIN = Principal("ada", roles=("admin",))
PROBE = "aria_tune.query_probe"
pytestmark = pytest.mark.asyncio(loop_scope="session")


class StatementsOverDsn:
    """aria_data's statement RPCs, answered by aria_data's statements.py on a real server."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            state = await st.prepare_stats(conn)
            return await fn(conn, state, *args, **kwargs)
        finally:
            await conn.close()

    async def statement_stats(self, caller: Principal, limit: int, min_calls: int) -> dict[str, Any]:
        rows = await self._run(st.statement_stats, limit, min_calls)
        return {"available": True, "reason": None, "statements": rows}

    async def explain_statement(self, caller: Principal, queryid: str) -> dict[str, Any]:
        return await self._run(st.explain_statement, queryid, 30.0)

    async def check_index(self, caller: Principal, queryid: str, table: str, columns: list[str]) -> dict[str, Any]:
        return await self._run(st.check_index, queryid, table, columns, rows=20_000, timeout_s=30.0)


@pytest.fixture
def stats_server() -> Iterator[str]:
    bins = [p.parent.parent / "bin" for p in Path("/usr/lib/postgresql").glob("*/lib/pg_stat_statements.so")]
    bins = sorted(b for b in bins if (b / "pg_ctl").exists())
    if not bins:
        pytest.skip("no PostgreSQL with pg_stat_statements under /usr/lib/postgresql")
    base = f"/tmp/aria-tune-stats-{uuid.uuid4().hex[:8]}"  # directly under /tmp: traversable as root
    server = EmbeddedPostgres(base, start_timeout_s=60, fast_init=True, bin_dir=bins[-1])
    try:
        yield server.start()
    finally:
        try:
            server.stop(mode="immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def service(tmp_path: Path, stats_server: str) -> AsyncIterator[TuneService]:
    svc = TuneService(AriaSettings(home=tmp_path), TuneSettings(sweep_interval_s=3600), queue=FakeQueue())
    svc._query_data = StatementsOverDsn(stats_server)
    await svc.start(Deps({"aria_data": DataClientOverDsn(stats_server, "aria_tune")}))
    yield svc
    await svc.stop()


async def test_the_probe_is_analysed_into_a_cheaper_index_and_recorded_once(service: TuneService) -> None:
    probe = await service.run_probe(ADMIN, rows=5000, runs=25)
    assert "query_probe WHERE k = $1" in probe["query"]
    listed = await service.list_statements(ADMIN, limit=100, min_calls=25)
    [stmt] = [s for s in listed["statements"] if PROBE in s["query"] and "k = $1" in s["query"]]
    got = await service.analyze_statements(ADMIN, stmt["queryid"])
    [sug] = got["suggestions"]
    assert (sug["relation"], sug["columns"], sug["verdict"]) == (PROBE, ["k"], "better")
    assert sug["cost_after"] < sug["cost_before"] and sug["rows_sampled"] == 5000 and sug["calls"] >= 25
    top = await service.analyze_statements(ADMIN, limit=20, min_calls=2)  # the slowest ones, probe among them
    assert any(s["id"] == sug["id"] for s in top["suggestions"]), top
    assert [s["id"] for s in await service.list_suggestions(ADMIN, verdict="better")] == [sug["id"]]
    again = await service.run_probe(ADMIN, rows=200, runs=1)  # refilled, not appended
    assert again["rows"] == 200
    choice = await service._suggestion_records().record_choice(
        {"domain": "d", "recommended": "dfs", "problems": ["p1"], "results": [{"strategy": "dfs"}],
         "reason": "r", "measured_by": "ada"})
    assert choice["problems"] == ["p1"] and choice["results"] == [{"strategy": "dfs"}]
    assert [c["domain"] for c in await service.strategy_choices(ADMIN)] == ["d"]
