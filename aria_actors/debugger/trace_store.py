"""aria_debugger's collected spans in PostgreSQL (schema ``aria_debugger``, table ``spans``).

A span record (runtime/tracing.py ``record_of``) is one row, keyed by (trace id, span id):
storing the same span twice is a no-op, so a collection round that is retried stores nothing
twice. Reads return the same records the in-memory ring holds, so both answer alike.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries

MAX_SPANS_PER_TRACE = 2000  # a long job's trace keeps its first spans (in memory and when read back)
q = queries("aria_actors.debugger", "traces")


def row_of(span: dict[str, Any]) -> tuple[Any, ...]:
    return (span["trace_id"], span["span_id"], span.get("parent_id"), str(span["name"])[:200],
            str(span["service"])[:60], str(span["kind"])[:20], dt.datetime.fromtimestamp(float(span["start"]), dt.UTC),
            float(span["duration_ms"]), "error" if span.get("status") == "error" else "ok",
            json.dumps(span.get("attributes") or {}))


def span_of(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["attributes"] = json.loads(out["attributes"] or "{}")
    return out


class TraceStore:
    """The queries of the trace store over a :class:`Database` where aria_debugger's migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, spans: Sequence[dict[str, Any]]) -> None:
        if not spans:
            return
        rows = [row_of(s) for s in spans]

        async def write(conn: Any) -> None:
            await conn.executemany(q("insert_span"), rows)

        await self.db.transaction(write)

    async def recent_trace_ids(self, scan: int) -> list[str]:
        return [r["trace_id"] for r in await self.db.fetch(q("recent_roots"), scan)]

    async def spans_of(self, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(trace_ids)
        return [span_of(r) for r in await self.db.fetch(q("spans_of"), ids, MAX_SPANS_PER_TRACE * max(1, len(ids)))]

    async def prune(self, keep_s: float) -> None:
        await self.db.execute(q("prune"), keep_s)

    async def close(self) -> None:
        await self.db.close()
