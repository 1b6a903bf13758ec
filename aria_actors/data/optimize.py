"""Query optimisation helpers: EXPLAIN plans and advice read from PostgreSQL's statistics.

``await advice(conn)`` lists what the statistics views say is worth a look:

- ``seq-scan``: a table of at least ``min_rows`` rows read mostly by sequential scans -> an index
  on the columns its queries filter on (check with :func:`explain`);
- ``unused-index``: a non-unique index never scanned since the statistics were reset -> drop it
  to speed up writes;
- ``unindexed-fk``: a foreign key whose columns lead no index -> index them;
- ``dead-tuples``: many dead rows -> autovacuum is behind; VACUUM (ANALYZE) the table.

Guarantees and caveats:
- Advice comes from cumulative statistics since their last reset: a freshly started server
  knows little, and "unused" means unused since then. It is a hint, never applied
  automatically.
- ``explain(..., analyze=True)`` runs the statement inside a transaction that is rolled back,
  so writes it makes are undone (side effects outside the database, e.g. sequences, are not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.data", "optimize")


@dataclass(frozen=True, slots=True)
class Advice:
    kind: str
    target: str
    message: str
    details: dict[str, Any]


class _Rollback(Exception):
    pass


async def explain(conn: asyncpg.Connection, sql: str, *args: Any, analyze: bool = False
                  ) -> dict[str, Any]:
    """The plan of ``sql`` as PostgreSQL's JSON (``[0]["Plan"]``), with timings if ``analyze``."""
    prefix = _SQL("explain_analyze" if analyze else "explain")
    plan: Any = None
    try:
        async with conn.transaction():
            plan = await conn.fetchval(f"{prefix} {sql}", *args)
            raise _Rollback
    except _Rollback:
        pass
    doc = json.loads(plan) if isinstance(plan, str) else plan
    return doc[0]


def plan_nodes(plan: dict[str, Any]) -> list[str]:
    """Node types of a plan, depth first (``["Seq Scan"]``, ``["Index Scan"]``...)."""
    out = [plan["Node Type"]]
    for child in plan.get("Plans", ()):
        out.extend(plan_nodes(child))
    return out


async def advice(conn: asyncpg.Connection, *, min_rows: int = 10_000) -> list[Advice]:
    out: list[Advice] = []
    for r in await conn.fetch(_SQL("seq_scans"), min_rows):
        out.append(Advice(
            "seq-scan", r["target"],
            f"{r['target']} ({r['rows']} rows) was read by {r['seq_scan']} sequential scans "
            f"({r['seq_tup_read']} rows read) and {r['idx_scan']} index scans: index the columns "
            "its queries filter on",
            dict(r),
        ))
    for r in await conn.fetch(_SQL("unused_indexes")):
        out.append(Advice(
            "unused-index", r["target"],
            f"index {r['target']} on {r['tbl']} ({r['bytes']} bytes) was never used since the "
            "statistics were reset: dropping it makes writes cheaper",
            dict(r),
        ))
    for r in await conn.fetch(_SQL("unindexed_foreign_keys")):
        cols = ", ".join(r["columns"])
        out.append(Advice(
            "unindexed-fk", f"{r['tbl']}.{r['target']}",
            f"foreign key {r['target']} of {r['tbl']} ({cols}) has no index: CREATE INDEX ON "
            f"{r['tbl']} ({cols})",
            {"table": r["tbl"], "columns": list(r["columns"])},
        ))
    for r in await conn.fetch(_SQL("dead_tuples")):
        out.append(Advice(
            "dead-tuples", r["target"],
            f"{r['target']} has {r['dead']} dead rows for {r['rows']} live ones: VACUUM (ANALYZE) it",
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(r).items()},
        ))
    return out
