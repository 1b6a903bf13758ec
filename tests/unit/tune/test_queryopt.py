"""aria_tune's query optimisation: index candidates read from plans (filtered sequential scans,
sorts; equality columns first), and the RPCs over a fake aria_data and in-memory suggestions
(statements passed through, candidates checked and recorded with a verdict, unknown statements and
bad input refused with the field, non-administrators refused)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.data.errors import UnknownStatement
from aria_actors.runtime.errors import BadRequest, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import invoke
from aria_actors.runtime.service import Deps
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.queryopt import candidates, filter_columns, verdict
from aria_actors.tune.queryopt_store import MemorySuggestions
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

ADMIN = Principal("ada", roles=("admin",))
OPERATOR = Principal("otto", roles=("operator",))
EDITOR = Principal("eve", roles=("editor",), tenant="acme")
PROBE = "aria_tune.query_probe"
COLUMNS = {PROBE: ["id", "k", "v"], "aria_tune.trials": ["study_id", "number", "state", "value"]}


def _scan(rel: str, node: str = "Seq Scan", **extra: Any) -> dict[str, Any]:
    schema, name = rel.split(".")
    return {"Node Type": node, "Schema": schema, "Relation Name": name, "Alias": name, "Total Cost": 10.0} | extra


# -- candidates from plans ---------------------------------------------------------------------------
def test_filter_columns_puts_equalities_first_and_ignores_what_is_not_a_column() -> None:
    assert filter_columns("((query_probe.v ~~ $2) AND (query_probe.k = $1))", COLUMNS[PROBE]) == ["k", "v"]
    assert filter_columns("(query_probe.k >= $1)", COLUMNS[PROBE]) == ["k"]
    assert filter_columns('("query_probe"."k" = $1)', COLUMNS[PROBE]) == ["k"]
    assert filter_columns("(other.x = $1)", COLUMNS[PROBE]) == []
    assert filter_columns("((p.k = $1) AND (p.k <> $2) AND (p.id = $3) AND (p.v = $4))", COLUMNS[PROBE]) == \
        ["k", "id", "v"]


def test_a_filtered_sequential_scan_and_a_sort_give_candidates_an_index_scan_none() -> None:
    plan = {"Node Type": "Sort", "Sort Key": ["query_probe.v DESC"], "Total Cost": 20.0,
            "Plans": [_scan(PROBE, Filter="(query_probe.k = $1)")]}
    got = candidates(plan, COLUMNS)
    assert [(c["table"], c["columns"]) for c in got] == [(PROBE, ["v"]), (PROBE, ["k"])]  # depth first
    assert "sort" in got[0]["reason"] and "sequential scan" in got[1]["reason"]
    assert candidates(_scan(PROBE, node="Index Scan", **{"Index Name": "x"}), COLUMNS) == []
    assert candidates(_scan(PROBE), COLUMNS) == []  # no filter: nothing to index
    assert candidates(_scan("pg_catalog.pg_class", Filter="(relname = $1)"), COLUMNS) == []  # columns unknown
    join = {"Node Type": "Sort", "Sort Key": ["query_probe.v"], "Plans": [
        {"Node Type": "Hash Join", "Plans": [_scan(PROBE), _scan("aria_tune.trials")]}]}
    assert candidates(join, COLUMNS) == []  # a sort over two tables: no single index serves it


def test_verdict_needs_the_index_used_and_a_clear_gain() -> None:
    assert verdict({"index_used": True, "cost_before": 400.0, "cost_after": 8.0}) == "better"
    assert verdict({"index_used": True, "cost_before": 400.0, "cost_after": 390.0}) == "no-gain"
    assert verdict({"index_used": False, "cost_before": 400.0, "cost_after": 8.0}) == "no-gain"


# -- the RPCs ------------------------------------------------------------------------------------
class FakeData:
    """aria_data's statement RPCs over one known statement (queryid 42) on the probe table."""

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.statement = {"queryid": "42", "query": f"SELECT id, v FROM {PROBE} WHERE k = $1", "calls": 50,
                          "total_ms": 120.0, "mean_ms": 2.4, "rows": 50}

    async def statement_stats(self, caller: Principal, limit: int, min_calls: int) -> dict[str, Any]:
        self.calls.append(("statement_stats", caller.subject, (limit, min_calls)))
        if not self.available:
            return {"available": False, "reason": "not preloaded", "statements": []}
        return {"available": True, "reason": None, "statements": [self.statement]}

    async def explain_statement(self, caller: Principal, queryid: str) -> dict[str, Any]:
        self.calls.append(("explain_statement", caller.subject, (queryid,)))
        if queryid != "42":
            raise UnknownStatement(f"no statement {queryid}", queryid=queryid)
        plan = _scan(PROBE, Filter="(query_probe.k = $1)")
        return self.statement | {"plan": plan, "columns": {PROBE: COLUMNS[PROBE]}}

    async def check_index(self, caller: Principal, queryid: str, table: str, columns: list[str]) -> dict[str, Any]:
        self.calls.append(("check_index", caller.subject, (queryid, table, tuple(columns))))
        if table != PROBE:
            raise BadRequest(f"no table {table}", field="table")
        if "zz" in columns:
            raise BadRequest("no column zz", field=f"columns[{columns.index('zz')}]")
        used = columns[0] == "k"
        return {"queryid": queryid, "query": self.statement["query"], "table": table, "columns": columns,
                "cost_before": 437.0, "cost_after": 8.3 if used else 437.0, "index_used": used,
                "rows_sampled": 20000, "estimated_rows": 20000,
                "plan_before": [{"node": "Seq Scan", "relation": table, "index": None}],
                "plan_after": [{"node": "Index Scan" if used else "Seq Scan", "relation": table,
                                "index": "aria_candidate" if used else None}]}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    settings = SimpleNamespace(health_timeout_s=5.0)
    service = TuneService(settings, TuneSettings(sweep_interval_s=3600), store=MemoryStore(), queue=FakeQueue())
    service._query_data = FakeData()
    service._query_suggestions = MemorySuggestions()
    await service.start(Deps())
    yield service
    await service.stop()


async def test_statements_pass_through_as_the_caller(tune: TuneService) -> None:
    got = await invoke(tune, "list_statements", (OPERATOR,), {"limit": 5})
    assert got["available"] and got["statements"][0]["queryid"] == "42"
    assert tune._query_data.calls == [("statement_stats", "otto", (5, 1))]
    tune._query_data.available = False
    got = await invoke(tune, "list_statements", (ADMIN,), {})
    assert got == {"available": False, "reason": "not preloaded", "statements": []}


async def test_analyze_checks_each_candidate_on_a_copy_and_records_it(tune: TuneService) -> None:
    got = await invoke(tune, "analyze_statements", (ADMIN,), {})
    assert got["analyzed"] == 1 and got["skipped"] == []
    [s] = got["suggestions"]
    assert (s["queryid"], s["relation"], s["columns"], s["verdict"]) == ("42", PROBE, ["k"], "better")
    assert s["cost_after"] < s["cost_before"] and s["calls"] == 50 and s["checked_by"] == "ada"
    assert ("check_index", "ada", ("42", PROBE, ("k",))) in tune._query_data.calls
    listed = await invoke(tune, "list_suggestions", (OPERATOR,), {"verdict": "better"})
    assert [r["id"] for r in listed] == [s["id"]]
    again = await invoke(tune, "analyze_statements", (ADMIN,), {"queryid": "42"})
    assert again["suggestions"][0]["id"] == s["id"]  # the same suggestion, checked again
    worse = await invoke(tune, "check_index", (ADMIN,), {"queryid": 42, "table": PROBE, "columns": ["v"]})
    assert worse["verdict"] == "no-gain"
    assert len(await invoke(tune, "list_suggestions", (ADMIN,), {"queryid": "42"})) == 2


async def test_unknown_statements_and_bad_input_name_the_field(tune: TuneService) -> None:
    with pytest.raises(UnknownStatement) as unknown:
        await invoke(tune, "check_index", (ADMIN,), {"queryid": "7", "table": PROBE, "columns": ["k"]})
    assert unknown.value.status == 404
    with pytest.raises(UnknownStatement):
        await invoke(tune, "analyze_statements", (ADMIN,), {"queryid": "7"})
    cases = [({"queryid": "42", "table": "aria_tune.nope", "columns": ["k"]}, "table"),
             ({"queryid": "42", "table": PROBE, "columns": ["k", "zz"]}, "columns[1]"),
             ({"queryid": "42", "table": PROBE, "columns": []}, "columns"),
             ({"queryid": "4x2", "table": PROBE, "columns": ["k"]}, "queryid"),
             ({"queryid": str(2**63), "table": PROBE, "columns": ["k"]}, "queryid"),
             ({"queryid": "42", "table": "", "columns": ["k"]}, "table")]
    for args, field in cases:
        with pytest.raises(BadRequest) as bad:
            await invoke(tune, "check_index", (ADMIN,), args)
        assert bad.value.status == 400 and bad.value.fields["field"] == field, args
    for method, args, field in [("analyze_statements", {"limit": 0}, "limit"),
                                ("list_statements", {"min_calls": 0}, "min_calls"),
                                ("list_suggestions", {"verdict": "maybe"}, "verdict"),
                                ("run_probe", {"rows": 5}, "rows"), ("run_probe", {"runs": True}, "runs")]:
        with pytest.raises(BadRequest) as bad:
            await invoke(tune, method, (ADMIN,), args)
        assert bad.value.fields["field"] == field


async def test_analyze_without_statistics_is_unavailable_and_editors_are_refused(tune: TuneService) -> None:
    tune._query_data.available = False
    with pytest.raises(Exception) as exc:
        await invoke(tune, "analyze_statements", (ADMIN,), {})
    assert getattr(exc.value, "status", None) == 503 and "not preloaded" in str(exc.value)
    for method in ("list_statements", "analyze_statements", "list_suggestions", "run_probe"):
        with pytest.raises(Forbidden):
            await invoke(tune, method, (EDITOR,), {})
    with pytest.raises(Forbidden):  # operators read, only administrators run checks
        await invoke(tune, "run_probe", (OPERATOR,), {})


async def test_probe_fills_and_runs_through_the_store(tune: TuneService) -> None:
    got = await invoke(tune, "run_probe", (ADMIN,), {"rows": 1000, "runs": 5})
    assert got["rows"] == 1000 and got["runs"] == 5 and "query_probe WHERE k = $1" in got["query"]
    assert tune._query_suggestions.probes == [(1000, 5)]


# -- planner strategy choice per domain -------------------------------------------------------------
class FakeEngine:
    """aria_engine over one domain of three problems: greedy is faster but fails ``p3``."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []

    async def describe_domain(self, caller: Principal, name: str) -> dict[str, Any]:
        if name != "blocks":
            from aria_actors.engine.errors import UnknownDomainError  # only this test raises it

            raise UnknownDomainError(f"no domain {name!r}", domain=name)
        return {"name": name, "problems": ["p3", "p1", "p2"]}

    async def plan(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        self.plans.append(body | {"who": caller.subject})
        if body["strategy"] == "greedy" and body["problem"] == "p3":
            return {"status": "no_plan", "plan": None, "elapsed_s": 0.001, "nodes": 4}
        took = {"dfs": 0.02, "greedy": 0.005}[body["strategy"]]
        return {"status": "found", "plan": [["move", "a"]], "elapsed_s": took, "nodes": 9}


async def test_the_fastest_strategy_that_solves_every_problem_is_recorded(tune: TuneService) -> None:
    tune._query_engine = FakeEngine()
    got = await invoke(tune, "choose_strategy", (ADMIN,), {"domain": "blocks", "repeats": 2})
    assert got["recommended"] == "dfs" and got["problems"] == ["p1", "p2", "p3"]
    by = {r["strategy"]: r for r in got["results"]}
    assert by["dfs"]["solved"] == 3 and by["greedy"]["solved"] == 2
    assert by["dfs"]["planner_s"] == pytest.approx(0.06) and "greedy solved 2/3" not in got["reason"]
    assert len(tune._query_engine.plans) == 2 * 3 * 2 and {p["who"] for p in tune._query_engine.plans} == {"ada"}
    only = await invoke(tune, "choose_strategy", (ADMIN,), {"domain": "blocks", "strategies": ["greedy"],
                                                             "problems": 2})
    assert only["recommended"] == "greedy" and only["problems"] == ["p1", "p2"]
    [kept] = await invoke(tune, "strategy_choices", (OPERATOR,), {})
    assert kept["domain"] == "blocks" and kept["recommended"] == "greedy"  # the latest measurement
    none = await invoke(tune, "choose_strategy", (ADMIN,), {"domain": "blocks", "strategies": ["greedy"]})
    assert none["recommended"] is None and "greedy solved 2/3" in none["reason"]


async def test_strategy_choice_refuses_bad_input_and_unknown_domains(tune: TuneService) -> None:
    tune._query_engine = FakeEngine()
    with pytest.raises(Exception) as unknown:
        await invoke(tune, "choose_strategy", (ADMIN,), {"domain": "nope"})
    assert getattr(unknown.value, "status", None) == 404
    for args, field in [({"domain": "../x"}, "domain"), ({"domain": "blocks", "strategies": []}, "strategies"),
                        ({"domain": "blocks", "strategies": ["astar"]}, "strategies[0]"),
                        ({"domain": "blocks", "strategies": ["dfs", "dfs"]}, "strategies"),
                        ({"domain": "blocks", "problems": 0}, "problems"),
                        ({"domain": "blocks", "repeats": 11}, "repeats"),
                        ({"domain": "blocks", "max_seconds": float("nan")}, "max_seconds")]:
        with pytest.raises(BadRequest) as bad:
            await invoke(tune, "choose_strategy", (ADMIN,), args)
        assert bad.value.fields["field"] == field, args
    with pytest.raises(Forbidden):
        await invoke(tune, "choose_strategy", (OPERATOR,), {"domain": "blocks"})
