"""The auto-tuner's records in PostgreSQL (``aria_tune.autotune_changes``, migration 0003), on the
pool aria_tune opens through aria_data; and the same in memory for unit tests.

Guarantees and caveats
----------------------
- At most one change of a (knob, target) is open (``proposed`` or ``measuring``): a partial unique
  index, so two proposals or two applies racing each other cannot both pass; the loser gets None.
- Each transition happens once (``UPDATE ... WHERE status = <the one before>``): a change that is
  decided is never decided again, and a second apply of the same change finds it ``measuring``.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any, Protocol

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.tune.autotune_core import FINAL, MEASURING, PROPOSED, REJECTED
from aria_actors.tune.rows import plain_row

q = queries("aria_actors.tune", "autotune")


def change_row(row: Any) -> dict[str, Any]:
    return plain_row(row, ("before", "after"), ("created_at", "applied_at", "decided_at"))


class ChangeStore(Protocol):
    async def create(self, row: dict[str, Any]) -> dict[str, Any] | None: ...
    async def get(self, change_id: int) -> dict[str, Any] | None: ...
    async def open_change(self, knob: str, target: str) -> dict[str, Any] | None: ...
    async def changes(self, knob: str | None, target: str | None, status: str | None,
                      limit: int) -> list[dict[str, Any]]: ...
    async def start(self, change_id: int, approved_by: str) -> dict[str, Any] | None: ...
    async def measured_before(self, change_id: int, before: dict[str, Any]) -> None: ...
    async def finish(self, change_id: int, status: str, before: dict[str, Any] | None,
                     after: dict[str, Any] | None, reason: str) -> dict[str, Any] | None: ...
    async def reject(self, change_id: int, by: str, reason: str | None) -> dict[str, Any] | None: ...
    async def measuring(self) -> list[dict[str, Any]]: ...
    async def since_decided(self, knob: str, target: str) -> float | None: ...


def _js(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


class AutotuneStore:
    """:class:`ChangeStore` over aria_tune's pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, row: dict[str, Any]) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("insert_change"), row["knob"], row["target"], row["old_value"],
                                     row["new_value"], row["source"], row.get("reason"), row["proposed_by"])
        return None if got is None else change_row(got)

    async def get(self, change_id: int) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("get_change"), change_id)
        return None if got is None else change_row(got)

    async def open_change(self, knob: str, target: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("open_change"), knob, target)
        return None if got is None else change_row(got)

    async def changes(self, knob: str | None, target: str | None, status: str | None,
                      limit: int) -> list[dict[str, Any]]:
        return [change_row(r) for r in await self.db.fetch(q("list_changes"), knob, target, status, limit)]

    async def start(self, change_id: int, approved_by: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("start_change"), change_id, approved_by)
        return None if got is None else change_row(got)

    async def measured_before(self, change_id: int, before: dict[str, Any]) -> None:
        await self.db.execute(q("measured_before"), change_id, json.dumps(before))

    async def finish(self, change_id: int, status: str, before: dict[str, Any] | None,
                     after: dict[str, Any] | None, reason: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("finish_change"), change_id, status, _js(before), _js(after), reason[:2000])
        return None if got is None else change_row(got)

    async def reject(self, change_id: int, by: str, reason: str | None) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("reject_change"), change_id, by, reason)
        return None if got is None else change_row(got)

    async def measuring(self) -> list[dict[str, Any]]:
        return [change_row(r) for r in await self.db.fetch(q("measuring_changes"))]

    async def since_decided(self, knob: str, target: str) -> float | None:
        got = await self.db.fetchval(q("since_decided"), knob, target)
        return None if got is None else float(got)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class MemoryChanges:
    """:class:`ChangeStore` in memory, with the same once-only transitions (unit tests)."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._decided: dict[tuple[str, str], float] = {}

    async def create(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if await self.open_change(row["knob"], row["target"]) is not None:
            return None
        new = {"id": next(self._ids), "status": PROPOSED, "reason": None, "approved_by": None, "decided_by": None,
               "before": None, "after": None, "decision_reason": None, "created_at": _now(), "applied_at": None,
               "decided_at": None, **row}
        self.rows[new["id"]] = new
        return dict(new)

    async def get(self, change_id: int) -> dict[str, Any] | None:
        row = self.rows.get(change_id)
        return None if row is None else dict(row)

    async def open_change(self, knob: str, target: str) -> dict[str, Any] | None:
        return next((dict(r) for r in self.rows.values() if r["knob"] == knob and r["target"] == target
                     and r["status"] in (PROPOSED, MEASURING)), None)

    async def changes(self, knob: str | None, target: str | None, status: str | None,
                      limit: int) -> list[dict[str, Any]]:
        rows = [dict(r) for r in sorted(self.rows.values(), key=lambda r: -r["id"])
                if (knob is None or r["knob"] == knob) and (target is None or r["target"] == target)
                and (status is None or r["status"] == status)]
        return rows[:limit]

    async def start(self, change_id: int, approved_by: str) -> dict[str, Any] | None:
        row = self.rows.get(change_id)
        if row is None or row["status"] != PROPOSED:
            return None
        row.update(status=MEASURING, approved_by=approved_by, applied_at=_now())
        return dict(row)

    async def measured_before(self, change_id: int, before: dict[str, Any]) -> None:
        row = self.rows.get(change_id)
        if row is not None and row["status"] == MEASURING:
            row["before"] = before

    async def finish(self, change_id: int, status: str, before: dict[str, Any] | None,
                     after: dict[str, Any] | None, reason: str) -> dict[str, Any] | None:
        row = self.rows.get(change_id)
        if row is None or row["status"] != MEASURING or status not in FINAL:
            return None
        row.update(status=status, before=before if before is not None else row["before"],
                   after=after if after is not None else row["after"], decision_reason=reason, decided_at=_now())
        self._decided[(row["knob"], row["target"])] = 0.0
        return dict(row)

    async def reject(self, change_id: int, by: str, reason: str | None) -> dict[str, Any] | None:
        row = self.rows.get(change_id)
        if row is None or row["status"] != PROPOSED:
            return None
        row.update(status=REJECTED, decided_by=by, decision_reason=reason, decided_at=_now())
        self._decided[(row["knob"], row["target"])] = 0.0
        return dict(row)

    async def measuring(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows.values() if r["status"] == MEASURING]

    async def since_decided(self, knob: str, target: str) -> float | None:
        return self._decided.get((knob, target))
