"""aria_tune's query optimisation: slow PostgreSQL statements and index suggestions checked on a
copy of the table (seed feature ``query-optimization``, part (a)).

::

    list_statements(limit, min_calls)  aria_data.statement_stats: pg_stat_statements, most total time
                                       first (queryid, normalized text, calls, total/mean ms, rows)
    analyze(queryid? | top limit)      for each statement: aria_data.explain_statement (its generic
        plan on the real tables) -> candidates(): a sequential scan with a filter -> an index on the
        filtered columns (equality first); a sort over one table's scan -> an index on the sort keys
        -> aria_data.check_index on a sampled copy: planner cost before and after
        -> recorded (aria_tune.query_suggestions): verdict ``better`` when the copy's plan uses the
        index and costs less, else ``no-gain``
    check(queryid, table, columns)     one candidate an operator names, checked and recorded the same way
    probe(rows, runs)                  the self-check: fill aria_tune.query_probe and run its lookup
                                       on the unindexed ``k``, so analyze has a statement to improve

Guarantees and caveats
----------------------
- aria_data is the database boundary: statements, plans and checks are its RPCs, called as the
  caller (``data:query:read@any``, ``data:query:explain@any``): an operator without them gets
  aria_data's 403. Nothing here sends SQL: a statement is its queryid, a table and columns are
  names aria_data checks against the catalog (400 naming ``table`` or ``columns[i]``); an
  unknown queryid is aria_data's 404.
- Suggestions are never applied: no index is created on a real table. Costs are the planner's
  estimates on the copy's sample (``index_check_rows`` rows of the table), not timings.
- Where PostgreSQL does not load pg_stat_statements, ``list_statements`` says so (``available``
  false, with the reason: the pgserver wheel has no such library; ``ARIA_DATA_PG_BIN_DIR`` picks
  binaries that have it) and analyze, check and probe's follow-up find no statement.
- Planner strategy choice per aria_engine domain (part (b) of the feature) is not built here.
"""

from __future__ import annotations

import re
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.runtime.errors import AriaError, BadRequest, ServiceUnavailable, brief
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.tune.queryopt_store import Suggestions, SuggestionStore

MAX_CANDIDATE_COLUMNS = 3
MAX_ANALYZED = 50
MAX_LIST = 1000
MAX_PROBE_ROWS = 1_000_000
MAX_PROBE_RUNS = 10_000
BETTER = 0.9  # the index's plan must cost under 90 % of the plan without it
VERDICTS = ("better", "no-gain")
_IDENT = r'(?:[A-Za-z_][\w$]*|"(?:[^"]|"")+")'
# a column reference in EXPLAIN VERBOSE's expressions: alias.column (or column), then what follows
_REF = re.compile(rf"(?:{_IDENT}\.)?(?P<col>{_IDENT})(?P<after>\s*(?:=(?!=)|<>|!=|<=|>=|<|>|~~|\bIS\b|\bIN\b)?)")


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def filter_columns(expression: str, columns: list[str]) -> list[str]:
    """The table's columns ``expression`` refers to: those compared with ``=`` first (an index's
    leading columns), then the others, each once, in order of appearance."""
    known = set(columns)
    equal: list[str] = []
    other: list[str] = []
    for m in _REF.finditer(expression):
        col = _unquote(m.group("col"))
        if col not in known or col in equal or col in other:
            continue
        (equal if m.group("after").strip() == "=" else other).append(col)
    return (equal + other)[:MAX_CANDIDATE_COLUMNS]


def _relation(node: dict[str, Any]) -> str | None:
    if "Relation Name" not in node:
        return None
    return f"{node.get('Schema', 'public')}.{node['Relation Name']}"


def _scanned(node: dict[str, Any]) -> set[str]:
    out = {r} if (r := _relation(node)) else set()
    for child in node.get("Plans", ()):
        out |= _scanned(child)
    return out


def candidates(plan: dict[str, Any], columns: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Index candidates read from a plan (EXPLAIN VERBOSE JSON's ``Plan``): a sequential scan with
    a filter, a sort over a single table's scan. ``columns``: each scanned table's columns."""
    out: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def add(table: str, cols: list[str], reason: str) -> None:
        if cols and (table, tuple(cols)) not in out:
            out[(table, tuple(cols))] = {"table": table, "columns": cols, "reason": reason}

    def walk(node: dict[str, Any]) -> None:
        rel = _relation(node)
        if rel in columns and node["Node Type"] == "Seq Scan" and node.get("Filter"):
            add(rel, filter_columns(node["Filter"], columns[rel]),  # type: ignore[index]
                f"sequential scan of {rel} with filter {node['Filter']}")
        if node["Node Type"] in ("Sort", "Incremental Sort") and node.get("Sort Key"):
            below = _scanned(node)
            if len(below) == 1 and (table := next(iter(below))) in columns:
                keys = [filter_columns(k.split(" ")[0], columns[table]) for k in node["Sort Key"]]
                if all(len(k) == 1 for k in keys):
                    add(table, [k[0] for k in keys][:MAX_CANDIDATE_COLUMNS],
                        f"sort of {table} on {', '.join(node['Sort Key'])}")
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    return list(out.values())


def verdict(result: dict[str, Any]) -> str:
    better = result["index_used"] and result["cost_after"] < BETTER * result["cost_before"]
    return "better" if better else "no-gain"


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def _queryid(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,20}", value):
        raise BadRequest("queryid must be a 64-bit integer (as `aria tune queries ls` shows it)", field="queryid")
    if not -(2**63) <= int(value) < 2**63:
        raise BadRequest("queryid must be a 64-bit integer", field="queryid")
    return value


class QueryOptimization:
    """Mixed into :class:`~aria_actors.tune.service.TuneService`; tests set the two seams below."""

    deps: Any
    _db: Database | None
    _query_data: Any = None  # a DataClient-like object (tests); else the dependency's client
    _query_suggestions: Suggestions | None = None  # MemorySuggestions (tests); else PostgreSQL over _db

    def _data(self) -> Any:
        if self._query_data is not None:
            return self._query_data
        if self.deps.get("aria_data") is None:
            raise ServiceUnavailable("query optimisation reads aria_data, which is not a dependency here",
                                     service="aria_data")
        return self.deps.of(DataClient)

    def _suggestion_records(self) -> Suggestions:
        if self._query_suggestions is not None:
            return self._query_suggestions
        if self._db is not None:
            return SuggestionStore(self._db)
        raise ServiceUnavailable("aria_tune has no database here (aria_data is not a dependency)", service="aria_data")

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def list_statements(self, caller: Principal, limit: int = 50, min_calls: int = 1) -> dict[str, Any]:
        """The database's statements from pg_stat_statements, most total time first (``available``
        false, with the reason, where the server does not load it)."""
        limit = _int(limit, "limit", 1, MAX_LIST)
        min_calls = _int(min_calls, "min_calls", 1, 10**12)
        return await self._data().statement_stats(caller, limit, min_calls)

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def analyze_statements(self, caller: Principal, queryid: str | int | None = None, limit: int = 10,
                                 min_calls: int = 2) -> dict[str, Any]:
        """Index suggestions for statement ``queryid``, or for the ``limit`` statements of most total
        time called at least ``min_calls`` times: candidates from each one's plan, each checked on a
        copy of its table and recorded."""
        limit = _int(limit, "limit", 1, MAX_ANALYZED)
        min_calls = _int(min_calls, "min_calls", 1, 10**12)
        data = self._data()
        if queryid is not None:
            ids = [_queryid(queryid)]
        else:
            got = await data.statement_stats(caller, limit, min_calls)
            if not got["available"]:
                raise ServiceUnavailable(f"no statement statistics: {got['reason']}", service="aria_data")
            ids = [s["queryid"] for s in got["statements"]]
        suggestions: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for qid in ids:
            try:
                plan = await data.explain_statement(caller, qid)
            except AriaError as exc:  # not plannable (400), or evicted from the statistics since listed (404)
                if queryid is not None or exc.status not in (400, 404):
                    raise
                skipped.append({"queryid": qid, "reason": exc.message})
                continue
            found = candidates(plan["plan"], plan["columns"])
            if not found:
                skipped.append({"queryid": qid, "reason": "its plan has no filtered sequential scan or sort to index"})
            for cand in found:
                try:
                    suggestions.append(await self._check(caller, plan, cand["table"], cand["columns"],
                                                         cand["reason"]))
                except (BadRequest, ServiceUnavailable) as exc:
                    skipped.append({"queryid": qid, "table": cand["table"], "columns": cand["columns"],
                                    "reason": brief(exc)})
        return {"analyzed": len(ids), "suggestions": suggestions, "skipped": skipped}

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def check_index(self, caller: Principal, queryid: str | int, table: str, columns: list[str]
                          ) -> dict[str, Any]:
        """Check one index (``table`` as ``schema.table``, ``columns``) for statement ``queryid`` on a
        copy of the table and record the result."""
        qid = _queryid(queryid)
        if not isinstance(table, str) or not table:
            raise BadRequest("table must be 'schema.table'", field="table")
        if not isinstance(columns, list) or not columns:
            raise BadRequest("columns must name at least one column", field="columns")
        stats = await self._statement(caller, qid)
        return await self._check(caller, stats, table, columns, "named by an operator")

    async def _statement(self, caller: Principal, qid: str) -> dict[str, Any]:
        """The statement's calls and mean time (for the record), or aria_data's 404."""
        plan = await self._data().explain_statement(caller, qid)
        return {k: plan.get(k) for k in ("queryid", "query", "calls", "mean_ms")}

    async def _check(self, caller: Principal, stmt: dict[str, Any], table: str, columns: list[str],
                     reason: str) -> dict[str, Any]:
        result = await self._data().check_index(caller, stmt["queryid"], table, columns)
        row = {k: result[k] for k in ("queryid", "query", "table", "columns", "cost_before", "cost_after",
                                      "index_used", "rows_sampled", "estimated_rows", "plan_before", "plan_after")}
        row |= {"reason": reason, "verdict": verdict(result), "calls": stmt.get("calls"),
                "mean_ms": stmt.get("mean_ms"), "checked_by": caller.subject}
        return await self._suggestion_records().record(row)

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def list_suggestions(self, caller: Principal, queryid: str | int | None = None,
                               verdict: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded index suggestions, latest check first."""
        limit = _int(limit, "limit", 1, MAX_LIST)
        if verdict is not None and verdict not in VERDICTS:
            raise BadRequest(f"verdict must be one of {', '.join(VERDICTS)}", field="verdict")
        qid = None if queryid is None else _queryid(queryid)
        return await self._suggestion_records().list(qid, verdict, limit)

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def run_probe(self, caller: Principal, rows: int = 20_000, runs: int = 50) -> dict[str, Any]:
        """Refill aria_tune's probe table with ``rows`` rows and run its lookup on the unindexed
        column ``k`` ``runs`` times: a statement analyze should find an index for."""
        rows = _int(rows, "rows", 100, MAX_PROBE_ROWS)
        runs = _int(runs, "runs", 1, MAX_PROBE_RUNS)
        text = await self._suggestion_records().probe(rows, runs)
        return {"rows": rows, "runs": runs, "query": text}
