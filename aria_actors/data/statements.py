"""Statement statistics (pg_stat_statements) and index suggestions checked on a copy of a table.

::

    start:   shared_preload_libraries has pg_stat_statements (embedded.py loads it when installed)
             -> CREATE EXTENSION IF NOT EXISTS -> StatsState(available, reason, view)
    statement_stats(limit, min_calls) -> this database's statements, most total time first:
             queryid, normalized text (PostgreSQL put $n for every literal), calls, times, rows
    explain_statement(queryid) -> the statement's generic plan on the real tables (nothing runs)
    check_index(queryid, table, columns), in one transaction that is rolled back:
             scratch schema aria_scratch_<random> -> CREATE TABLE copy (LIKE table INCLUDING ALL)
             -> the first ``rows`` rows of the table -> ANALYZE -> plan of the statement on the copy
             -> CREATE INDEX ON copy (columns) -> plan again -> ROLLBACK (the copy is gone)

Guarantees and caveats
----------------------
- No SQL, schema or identifier comes from a request as text to run: the statement is the one
  pg_stat_statements holds under the queryid; the table and columns are checked against the
  catalog (a user table, existing columns) and quoted with :func:`sql_files.ident`.
- Plans are generic (``plan_cache_mode = force_generic_plan`` over ``PREPARE``, executed with
  NULL parameters under ``EXPLAIN`` without ``ANALYZE``: nothing is executed). They are what
  PostgreSQL picks for any parameter values, so costs compare the same plan shape before and
  after the index; PostgreSQL 15 has no ``EXPLAIN (GENERIC_PLAN)``, and this works on 15 and 16.
- The statement is made to read the copy by naming the copy where the text names the table
  (``schema.table``, quoted or not) and by putting the scratch schema first in ``search_path``
  (unqualified names); a statement whose plan then reads no copy does not read the table (400).
  A statement text with ``;`` (a second statement) is refused.
- Costs are the planner's estimates over the sample (``index_check_rows`` rows), not timings:
  an index that lowers the estimate on the sample is a candidate, not a proof.
- The work holds ACCESS SHARE on the real table while the sample is read (no writer waits) and
  runs under ``index_check_timeout_s``; the real table and its indexes are never changed.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aria_actors.data.errors import StatementStatsUnavailable, UnknownStatement
from aria_actors.data.sql_files import ident, queries
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable

_SQL = queries("aria_actors.data", "statements")
MAX_COLUMNS = 8           # an index suggestion's columns
MAX_NAME = 63             # PostgreSQL's identifier length
INT64 = 2**63
_PLANNABLE = re.compile(r"^\s*(select|with|update|delete|insert|values)\b", re.IGNORECASE)
_NAME = re.compile(r"^[^\x00]{1,63}$")
# a statement timeout or lock timeout: the server is busy, not the input wrong
_BUSY = (asyncpg.QueryCanceledError, asyncpg.LockNotAvailableError)


class _Rollback(Exception):
    pass


@dataclass(frozen=True, slots=True)
class StatsState:
    """Whether pg_stat_statements can be read here; ``view`` is its quoted name when it can."""

    available: bool
    reason: str = ""
    view: str = ""


async def prepare_stats(conn: asyncpg.Connection) -> StatsState:
    """Create the extension where the server preloads its library (at aria_data's start)."""
    if not await conn.fetchval(_SQL("preloaded")):
        return StatsState(False, "pg_stat_statements is not in shared_preload_libraries (the server's binaries "
                                 "have no pg_stat_statements library, or an external server does not load it)")
    schema = await conn.fetchval(_SQL("extension_schema"))
    if schema is None:
        if not await conn.fetchval(_SQL("installable")):
            return StatsState(False, "pg_stat_statements is preloaded but its extension files are not installed")
        try:
            await conn.execute(_SQL("create_extension"))
        except asyncpg.PostgresError as exc:
            return StatsState(False, f"creating the extension pg_stat_statements failed: {exc}")
        schema = await conn.fetchval(_SQL("extension_schema"))
    return StatsState(True, "", ident(schema, "pg_stat_statements"))


def _view(state: StatsState) -> str:
    if not state.available:
        raise StatementStatsUnavailable(f"statement statistics are unavailable: {state.reason}")
    return state.view


def queryid_of(value: Any) -> int:
    """A queryid: a 64-bit integer, or its decimal text (JSON clients lose precision past 2**53)."""
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not -INT64 <= value < INT64:
        raise BadRequest("queryid must be a 64-bit integer (as pg_stat_statements shows it)", field="queryid")
    return value


def table_of(value: Any) -> tuple[str, str]:
    """``schema.table`` as written in the catalog (no quoting)."""
    if not isinstance(value, str) or value.count(".") != 1:
        raise BadRequest("table must be 'schema.table' as the catalog names it", field="table")
    schema, name = value.split(".")
    if not _NAME.fullmatch(schema) or not _NAME.fullmatch(name):
        raise BadRequest("table must be 'schema.table', each part 1-63 characters", field="table")
    return schema, name


def columns_of(value: Any) -> list[str]:
    if (not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_COLUMNS
            or not all(isinstance(c, str) and _NAME.fullmatch(c) for c in value)):
        raise BadRequest(f"columns must be 1 to {MAX_COLUMNS} column names", field="columns")
    if len(set(value)) != len(value):
        raise BadRequest("columns must not repeat a column", field="columns")
    return list(value)


def _row(r: Any) -> dict[str, Any]:
    return {"queryid": str(r["queryid"]), "query": r["query"], "calls": r["calls"],
            "total_ms": round(float(r["total_ms"]), 3), "mean_ms": round(float(r["mean_ms"]), 3),
            "rows": r["rows"]}


async def statement_stats(conn: asyncpg.Connection, state: StatsState, limit: int, min_calls: int
                          ) -> list[dict[str, Any]]:
    rows = await conn.fetch(_SQL("statements").format(view=_view(state)), limit, min_calls)
    return [_row(r) | {"blocks": r["blocks"]} for r in rows]


async def _statement(conn: asyncpg.Connection, state: StatsState, queryid: int) -> dict[str, Any]:
    got = await conn.fetchrow(_SQL("statement").format(view=_view(state)), queryid)
    if got is None:
        raise UnknownStatement(f"no statement {queryid} in pg_stat_statements", queryid=str(queryid))
    return _row(got)


def plannable(text: str) -> str:
    """The statement text to PREPARE: one SELECT/WITH/INSERT/UPDATE/DELETE/VALUES, no ``;``."""
    body = text.strip().rstrip(";").rstrip()
    if ";" in body:
        raise BadRequest("the statement holds more than one statement; it is not checked", field="queryid")
    if not _PLANNABLE.match(body):
        raise BadRequest("only SELECT, WITH, INSERT, UPDATE, DELETE and VALUES statements are planned",
                         field="queryid")
    return body


def _ident_pattern(name: str) -> str:
    """A regex for identifier ``name`` as SQL may write it: quoted exactly, or unquoted (folded
    to lower case) when it is a plain lower-case name."""
    quoted = '"' + re.escape(name.replace('"', '""')) + '"'
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return rf"(?:{quoted}|(?i:{re.escape(name)}))"
    return quoted


def point_at_copy(text: str, schema: str, name: str, scratch: str) -> str:
    """``text`` with every ``schema.name`` (quoted or not) naming ``scratch.name`` instead."""
    pattern = re.compile(rf'(?<![\w$".]){_ident_pattern(schema)}\s*\.\s*{_ident_pattern(name)}(?![\w$"])')
    return pattern.sub(lambda _m: ident(scratch, name), text)


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """Total cost, estimated rows and the scans of a plan (``plan`` is EXPLAIN JSON's ``Plan``)."""
    scans: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            scans.append({"node": node["Node Type"], "relation": f"{node.get('Schema', '')}.{node['Relation Name']}",
                          "index": node.get("Index Name"), "filter": node.get("Filter"),
                          "cost": node.get("Total Cost")})
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    return {"cost": plan["Total Cost"], "rows": plan.get("Plan Rows"), "scans": scans}


async def _plan(conn: asyncpg.Connection, text: str, names: list[str]) -> dict[str, Any]:
    """The generic plan of ``text`` (PREPARE, then EXPLAIN EXECUTE with NULL parameters)."""
    name = f"aria_check_{uuid.uuid4().hex[:12]}"
    names.append(name)
    # Simple protocol, one statement: plannable() refused any ';'.
    await conn.execute(_SQL("prepare").format(name=ident(name), statement=text))
    count = await conn.fetchval(_SQL("param_count"), name) or 0
    args = f"({', '.join(['NULL'] * count)})" if count else ""
    doc = await conn.fetchval(_SQL("explain_execute").format(name=ident(name), args=args))
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return doc[0]["Plan"]


async def _deallocate(conn: asyncpg.Connection, names: list[str]) -> None:
    """Prepared statements outlive a rolled-back transaction: drop them from the session."""
    for name in names:
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute(_SQL("deallocate").format(name=ident(name)))


async def _generic(conn: asyncpg.Connection, timeout_s: float) -> None:
    await conn.fetchval(_SQL("local_setting"), "statement_timeout", f"{int(timeout_s * 1000)}ms")
    await conn.fetchval(_SQL("local_setting"), "lock_timeout", f"{int(min(timeout_s, 5.0) * 1000)}ms")
    await conn.fetchval(_SQL("local_setting"), "plan_cache_mode", "force_generic_plan")


def _unplannable(exc: Exception) -> BadRequest:
    return BadRequest(f"the statement cannot be planned here: {str(exc)[:300]}", field="queryid")


async def explain_statement(conn: asyncpg.Connection, state: StatsState, queryid: Any, timeout_s: float
                            ) -> dict[str, Any]:
    """The statement's generic plan on the real tables, with the columns of each table it reads."""
    stmt = await _statement(conn, state, queryid_of(queryid))
    text = plannable(stmt["query"])
    names: list[str] = []
    plan: dict[str, Any] = {}
    try:
        async with conn.transaction():
            await _generic(conn, timeout_s)
            try:
                plan = await _plan(conn, text, names)
            except _BUSY:
                raise
            except asyncpg.PostgresError as exc:
                raise _unplannable(exc) from None
            raise _Rollback
    except _Rollback:
        pass
    except _BUSY:
        raise ServiceUnavailable(f"planning took longer than {timeout_s:g} s (or waited for a lock)",
                                 service="aria_data") from None
    finally:
        await _deallocate(conn, names)
    summary = plan_summary(plan)
    relations = sorted({s["relation"] for s in summary["scans"]})
    columns = {r["relation"]: list(r["columns"]) for r in await conn.fetch(_SQL("tables_of_statement_nodes"),
                                                                            relations)}
    return stmt | {"plan": plan, "summary": summary, "columns": columns}


async def check_index(conn: asyncpg.Connection, state: StatsState, queryid: Any, table: Any, columns: Any, *,
                      rows: int, timeout_s: float) -> dict[str, Any]:
    """Plan the statement on a sampled copy of ``table`` before and after an index on
    ``columns``; nothing outlives the call (see the module docstring)."""
    qid = queryid_of(queryid)
    schema, name = table_of(table)
    wanted = columns_of(columns)
    stmt = await _statement(conn, state, qid)
    text = plannable(stmt["query"])
    found = await conn.fetchrow(_SQL("table"), schema, name)
    if found is None:
        raise BadRequest(f"no table {schema}.{name} (a user table, named as the catalog has it)", field="table")
    cols = {r["name"]: r["generated"] for r in await conn.fetch(_SQL("columns"), found["oid"])}
    for i, col in enumerate(wanted):
        if col not in cols:
            raise BadRequest(f"{schema}.{name} has no column {col!r}", field=f"columns[{i}]")
    scratch = f"aria_scratch_{uuid.uuid4().hex[:12]}"
    copy, source = ident(scratch, name), ident(schema, name)
    copied = ", ".join(ident(c) for c, generated in cols.items() if not generated)
    on_copy = point_at_copy(text, schema, name, scratch)
    names: list[str] = []
    out: dict[str, Any] = {}
    try:
        async with conn.transaction():
            await _generic(conn, timeout_s)
            await conn.execute(_SQL("create_schema").format(schema=ident(scratch)))
            await conn.execute(_SQL("copy_table").format(copy=copy, table=source))
            status = await conn.execute(_SQL("fill_copy").format(copy=copy, table=source, columns=copied), rows)
            await conn.execute(_SQL("analyze_copy").format(copy=copy))
            path = await conn.fetchval(_SQL("current_search_path"))
            await conn.fetchval(_SQL("local_setting"), "search_path", f"{ident(scratch)}, {path}")
            try:
                before = await _plan(conn, on_copy, names)
            except _BUSY:
                raise
            except asyncpg.PostgresError as exc:
                raise _unplannable(exc) from None
            summary_before = plan_summary(before)
            if not any(s["relation"] == f"{scratch}.{name}" for s in summary_before["scans"]):
                raise BadRequest(f"statement {qid} does not read {schema}.{name}", field="table")
            index = "aria_candidate"
            await conn.execute(_SQL("create_index").format(index=ident(index), copy=copy,
                                                           columns=", ".join(ident(c) for c in wanted)))
            summary_after = plan_summary(await _plan(conn, on_copy, names))
            out = {"queryid": str(qid), "query": stmt["query"], "table": f"{schema}.{name}", "columns": wanted,
                   "rows_sampled": int(status.split()[-1]), "estimated_rows": max(int(found["estimated_rows"]), 0),
                   "cost_before": summary_before["cost"], "cost_after": summary_after["cost"],
                   "index_used": any(s["index"] == index for s in summary_after["scans"]),
                   "plan_before": _unscratched(summary_before["scans"], scratch, schema),
                   "plan_after": _unscratched(summary_after["scans"], scratch, schema)}
            raise _Rollback
    except _Rollback:
        pass
    except _BUSY:
        raise ServiceUnavailable(f"the index check took longer than {timeout_s:g} s (or waited for a lock on "
                                 f"{schema}.{name})", service="aria_data") from None
    except asyncpg.PostgresError as exc:  # the copy or its index failed: a property of the table named
        raise BadRequest(f"{schema}.{name} cannot be copied and indexed here: {str(exc)[:300]}",
                         field="table") from None
    finally:
        await _deallocate(conn, names)
    return out


def _unscratched(scans: list[dict[str, Any]], scratch: str, schema: str) -> list[dict[str, Any]]:
    """Scans naming the real table, not the copy that is gone."""
    return [s | {"relation": s["relation"].replace(f"{scratch}.", f"{schema}.", 1)} for s in scans]
