"""aria_tune's index suggestions, its probe table and the planning strategy chosen per aria_engine
domain in PostgreSQL (``aria_tune.query_suggestions``, ``query_probe``, ``strategy_choices``,
migration 0004), through aria_data's pool; :class:`MemorySuggestions` keeps them in memory for
unit tests.

Guarantees and caveats
----------------------
- One suggestion per (statement, table, columns), one strategy choice per domain: checking or
  measuring again replaces the result (an upsert), so the lists show the latest.
- System-wide rows, not a tenant's: no row-level security; the RPCs need ``@any`` grants.
- The probe table is truncated and refilled whole by each probe run (its only writer).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.tune.rows import plain_row

q = queries("aria_actors.tune", "queryopt")
PROBE_QUERY = "probe_lookup"


def _row(row: Any) -> dict[str, Any]:
    out = plain_row(row, ("plan_before", "plan_after"), ("checked_at",))
    out["columns"] = list(out["columns"])
    return out


class Suggestions(Protocol):
    """What the query optimisation part needs of its records."""

    async def record(self, row: dict[str, Any]) -> dict[str, Any]: ...
    async def list(self, queryid: str | None, verdict: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def probe(self, rows: int, runs: int) -> str: ...
    async def record_choice(self, row: dict[str, Any]) -> dict[str, Any]: ...
    async def choices(self, domain: str | None, limit: int) -> list[dict[str, Any]]: ...


class SuggestionStore:
    """The suggestions' queries over a :class:`Database` where aria_tune's migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, row: dict[str, Any]) -> dict[str, Any]:
        got = await self.db.fetchrow(
            q("upsert_suggestion"), row["queryid"], row["query"], row["table"], row["columns"], row["reason"],
            row["cost_before"], row["cost_after"], row["index_used"], row["verdict"], row["rows_sampled"],
            row["estimated_rows"], row.get("calls"), row.get("mean_ms"), json.dumps(row["plan_before"]),
            json.dumps(row["plan_after"]), row["checked_by"])
        return _row(got)

    async def list(self, queryid: str | None, verdict: str | None, limit: int) -> list[dict[str, Any]]:
        return [_row(r) for r in await self.db.fetch(q("list_suggestions"), queryid, verdict, limit)]

    async def probe(self, rows: int, runs: int) -> str:
        """Refill the probe table with ``rows`` rows and run its unindexed lookup ``runs`` times;
        returns the lookup's text (what pg_stat_statements shows)."""
        async def fill(conn: asyncpg.Connection) -> None:
            await conn.execute(q("probe_clear"))
            await conn.execute(q("probe_fill"), rows)
            await conn.execute(q("probe_analyze"))

        await self.db.transaction(fill)
        for i in range(runs):
            await self.db.fetch(q(PROBE_QUERY), 1 + (i * 7919) % rows)
        return q(PROBE_QUERY)

    async def record_choice(self, row: dict[str, Any]) -> dict[str, Any]:
        got = await self.db.fetchrow(q("upsert_choice"), row["domain"], row["recommended"], row["problems"],
                                     json.dumps(row["results"]), row["reason"], row["measured_by"])
        return _choice(got)

    async def choices(self, domain: str | None, limit: int) -> list[dict[str, Any]]:
        return [_choice(r) for r in await self.db.fetch(q("list_choices"), domain, limit)]


def _choice(row: Any) -> dict[str, Any]:
    out = plain_row(row, ("results",), ("measured_at",))
    out["problems"] = list(out["problems"])
    return out


class MemorySuggestions:
    """Suggestions in memory (unit tests); the probe only counts its runs."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = {}
        self.probes: list[tuple[int, int]] = []
        self.strategy_choices: dict[str, dict[str, Any]] = {}

    async def record(self, row: dict[str, Any]) -> dict[str, Any]:
        key = (row["queryid"], row["table"], tuple(row["columns"]))
        old = self.rows.get(key)
        kept = {k: v for k, v in row.items() if k != "table"} | {
            "relation": row["table"], "id": old["id"] if old else len(self.rows) + 1, "checked_at": None}
        self.rows[key] = kept
        return dict(kept)

    async def list(self, queryid: str | None, verdict: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [r for r in self.rows.values() if (queryid is None or r["queryid"] == queryid)
                and (verdict is None or r["verdict"] == verdict)]
        return [dict(r) for r in sorted(rows, key=lambda r: -r["id"])][:limit]

    async def probe(self, rows: int, runs: int) -> str:
        self.probes.append((rows, runs))
        return q(PROBE_QUERY)

    async def record_choice(self, row: dict[str, Any]) -> dict[str, Any]:
        self.strategy_choices[row["domain"]] = dict(row) | {"measured_at": None}
        return dict(self.strategy_choices[row["domain"]])

    async def choices(self, domain: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [r for d, r in sorted(self.strategy_choices.items()) if domain is None or d == domain]
        return [dict(r) for r in rows[:limit]]
