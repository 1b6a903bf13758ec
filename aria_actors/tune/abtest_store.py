"""aria_tune's A/B tests in PostgreSQL (``aria_tune.ab_tests``, migrations 0006, 0007), through aria_data's
pool; :class:`MemoryABTests` keeps them in memory for unit tests.

Guarantees and caveats
----------------------
- A test is inserted whole and never edited except its end, claimed once (``UPDATE ... WHERE
  status = 'running'`` to ``ending``, with the decision) before the target is told, then finished:
  two callers deciding at once cannot both act; the loser gets None (409). A crash between claim
  and finish leaves ``ending`` with the decision recorded, which the next decide or stop finishes.
- One running test per target (a partial unique index): a second start is refused by the
  database, not by a read-then-write race.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.tune.rows import plain_row

q = queries("aria_actors.tune", "abtest")
FIELDS = ("name", "target", "control", "candidate", "share", "alpha", "min_samples", "max_samples", "direction",
          "study", "started_by", "method", "effect")


def _row(row: Any) -> dict[str, Any]:
    return plain_row(row, ("result",), ("created_at", "decided_at"))


class ABTests(Protocol):
    """What the A/B part needs of its records."""

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None: ...
    async def get(self, name: str) -> dict[str, Any] | None: ...
    async def running(self, target: str) -> dict[str, Any] | None: ...
    async def list(self, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def claim(self, name: str, ending: str, winner: str | None, result: dict[str, Any],
                    by: str) -> dict[str, Any] | None: ...
    async def release(self, name: str) -> dict[str, Any] | None: ...
    async def finish(self, name: str, result: dict[str, Any] | None = None) -> dict[str, Any] | None: ...


class ABTestStore:
    """The tests' queries over a :class:`Database` where aria_tune's migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("insert_test"), *(row[f] for f in FIELDS))
        return None if got is None else _row(got)

    async def get(self, name: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("get_test"), name)
        return None if got is None else _row(got)

    async def running(self, target: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("running_test"), target)
        return None if got is None else _row(got)

    async def list(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [_row(r) for r in await self.db.fetch(q("list_tests"), status, limit)]

    async def claim(self, name: str, ending: str, winner: str | None, result: dict[str, Any],
                    by: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("claim_test"), name, ending, winner, json.dumps(result), by)
        return None if got is None else _row(got)

    async def release(self, name: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("release_test"), name)
        return None if got is None else _row(got)

    async def finish(self, name: str, result: dict[str, Any] | None = None) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("finish_test"), name, None if result is None else json.dumps(result))
        return None if got is None else _row(got)


class MemoryABTests:
    """The same in memory (unit tests)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if row["name"] in self.rows or await self.running(row["target"]) is not None:
            return None
        made = {**{f: row[f] for f in FIELDS}, "id": len(self.rows) + 1, "status": "running", "ending": None,
                "winner": None, "result": None, "decided_by": None, "decided_at": None,
                "created_at": datetime.now(UTC).isoformat()}
        self.rows[row["name"]] = made
        return dict(made)

    async def get(self, name: str) -> dict[str, Any] | None:
        got = self.rows.get(name)
        return None if got is None else dict(got)

    async def running(self, target: str) -> dict[str, Any] | None:
        return next((dict(r) for r in self.rows.values()
                     if r["target"] == target and r["status"] in ("running", "ending")), None)

    async def list(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [r for r in sorted(self.rows.values(), key=lambda r: -r["id"])
                if status is None or r["status"] == status]
        return [dict(r) for r in rows[:limit]]

    async def claim(self, name: str, ending: str, winner: str | None, result: dict[str, Any],
                    by: str) -> dict[str, Any] | None:
        got = self.rows.get(name)
        if got is None or got["status"] != "running":
            return None
        got.update(status="ending", ending=ending, winner=winner, result=json.loads(json.dumps(result)), decided_by=by)
        return dict(got)

    async def release(self, name: str) -> dict[str, Any] | None:
        got = self.rows.get(name)
        if got is None or got["status"] != "ending":
            return None
        got.update(status="running", ending=None, winner=None, result=None, decided_by=None)
        return dict(got)

    async def finish(self, name: str, result: dict[str, Any] | None = None) -> dict[str, Any] | None:
        got = self.rows.get(name)
        if got is None or got["status"] != "ending":
            return None
        got.update(status=got["ending"], decided_at=datetime.now(UTC).isoformat())
        if result is not None:
            got["result"] = json.loads(json.dumps(result))
        return dict(got)
