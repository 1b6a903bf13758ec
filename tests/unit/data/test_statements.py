"""aria_data's statement checks, the parts without a server: what a request may name (a queryid,
``schema.table``, columns), which statement texts are planned, how a statement is pointed at the
copy of its table, and when the embedded server preloads pg_stat_statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from aria_actors.data.embedded import EmbeddedPostgres
from aria_actors.data.errors import StatementStatsUnavailable
from aria_actors.data.statements import (
    StatsState,
    _view,
    columns_of,
    plan_summary,
    plannable,
    point_at_copy,
    queryid_of,
    table_of,
)
from aria_actors.runtime.errors import BadRequest


def _field(fn, value) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest) as bad:
        fn(value)
    return bad.value.fields["field"]


def test_queryids_tables_and_columns_are_checked_before_any_query() -> None:
    assert queryid_of(-8347446170315484967) == -8347446170315484967
    assert queryid_of("8347446170315484967") == 8347446170315484967
    for bad in (2**63, "12a", True, 1.5, None, "1" * 21):
        assert _field(queryid_of, bad) == "queryid"
    assert table_of("aria_tune.query_probe") == ("aria_tune", "query_probe")
    for bad in ("query_probe", "a.b.c", ".x", "x.", 7, "a." + "x" * 64):
        assert _field(table_of, bad) == "table"
    assert columns_of(["k", "v"]) == ["k", "v"]
    for bad in ([], ["k", "k"], "k", [1], ["x"] * 9, [""]):
        assert _field(columns_of, bad) == "columns"


def test_only_single_plannable_statements_are_prepared() -> None:
    assert plannable("SELECT id FROM t WHERE k = $1;  ") == "SELECT id FROM t WHERE k = $1"
    assert plannable("  with x as (select 1) select * from x").startswith("with")
    assert _field(plannable, "SELECT 1; DROP TABLE t") == "queryid"
    assert _field(plannable, "VACUUM t") == "queryid"
    assert _field(plannable, "CREATE TABLE x (a int)") == "queryid"


def test_the_statement_is_pointed_at_the_copy_wherever_it_names_the_table() -> None:
    text = 'SELECT p.id FROM aria_tune.query_probe p JOIN "aria_tune"."query_probe" q ON true ' \
           "WHERE p.k = $1 AND x.aria_tune.query_probe_old IS NULL AND ARIA_TUNE.Query_Probe.k = 1"
    got = point_at_copy(text, "aria_tune", "query_probe", "aria_scratch_1")
    assert got.count('"aria_scratch_1"."query_probe"') == 3  # unquoted names fold to lower case
    assert "query_probe_old" in got and "x.aria_tune.query_probe_old" in got
    mixed = point_at_copy('SELECT * FROM "Odd"."T" , odd.t', "Odd", "T", "s")
    assert mixed == 'SELECT * FROM "s"."T" , odd.t'  # a quoted name matches only as quoted


def test_plan_summary_lists_the_scans() -> None:
    plan = {"Node Type": "Limit", "Total Cost": 9.5, "Plan Rows": 1, "Plans": [
        {"Node Type": "Index Scan", "Schema": "s", "Relation Name": "t", "Index Name": "i", "Total Cost": 9.0}]}
    got = plan_summary(plan)
    assert got["cost"] == 9.5 and got["scans"] == [
        {"node": "Index Scan", "relation": "s.t", "index": "i", "filter": None, "cost": 9.0}]


def test_statistics_unavailable_is_a_503_with_the_reason() -> None:
    with pytest.raises(StatementStatsUnavailable) as exc:
        _view(StatsState(False, "not preloaded"))
    assert exc.value.status == 503 and "not preloaded" in exc.value.message


@pytest.mark.parametrize("layout", ["lib/postgresql", "lib", None])
def test_pg_stat_statements_is_preloaded_only_when_installed_with_the_binaries(tmp_path: Path,
                                                                               layout: str | None) -> None:
    (tmp_path / "bin").mkdir()
    if layout:
        (tmp_path / layout).mkdir(parents=True)
        (tmp_path / layout / "pg_stat_statements.so").write_bytes(b"")
    server = EmbeddedPostgres(tmp_path / "home", bin_dir=tmp_path / "bin")
    assert server.preload == (("pg_stat_statements",) if layout else ())
