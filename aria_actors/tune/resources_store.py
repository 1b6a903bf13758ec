"""aria_tune's resource proposals in PostgreSQL (``aria_tune.resource_proposals``, migration 0002),
through aria_data's pool; :class:`MemoryProposals` keeps them in memory for unit tests.

Guarantees and caveats
----------------------
- A proposal is written whole (its evidence and changes as JSON) and never edited, except its
  decision, which is taken once: ``UPDATE ... WHERE status = 'proposed'``, so two administrators
  deciding at once cannot both win; the loser gets None (the service answers 409).
- System-wide rows, not a tenant's: no row-level security here; the RPCs need ``@any`` grants.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.tune.rows import plain_row

q = queries("aria_actors.tune", "resources")


def _row(row: Any) -> dict[str, Any]:
    return plain_row(row, ("evidence", "changes"), ("created_at", "decided_at"))


class Proposals(Protocol):
    """What the resources part needs of its records."""

    async def add(self, row: dict[str, Any]) -> dict[str, Any]: ...
    async def get(self, proposal_id: int) -> dict[str, Any] | None: ...
    async def list(self, service: str | None, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def decide(self, proposal_id: int, status: str, by: str, note: str | None) -> dict[str, Any] | None: ...


class ProposalStore:
    """The proposals' queries over a :class:`Database` where aria_tune's migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        got = await self.db.fetchrow(q("insert_proposal"), row["service"], row["verdict"], row["reserved_cpus"],
                                     row["proposed_cpus"], row["proposed_memory_bytes"],
                                     json.dumps(row["evidence"]), json.dumps(row["changes"]), row["proposed_by"])
        return _row(got)

    async def get(self, proposal_id: int) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("get_proposal"), proposal_id)
        return None if got is None else _row(got)

    async def list(self, service: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [_row(r) for r in await self.db.fetch(q("list_proposals"), service, status, limit)]

    async def decide(self, proposal_id: int, status: str, by: str, note: str | None) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("decide_proposal"), proposal_id, status, by, note)
        return None if got is None else _row(got)


class MemoryProposals:
    """The same in memory (unit tests)."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        made = {**json.loads(json.dumps(row)), "id": len(self.rows) + 1, "status": "proposed", "decided_by": None,
                "decision_note": None, "decided_at": None, "created_at": datetime.now(UTC).isoformat()}
        self.rows[made["id"]] = made
        return dict(made)

    async def get(self, proposal_id: int) -> dict[str, Any] | None:
        got = self.rows.get(proposal_id)
        return None if got is None else dict(got)

    async def list(self, service: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [r for r in sorted(self.rows.values(), key=lambda r: -r["id"])
                if (service is None or r["service"] == service) and (status is None or r["status"] == status)]
        return [dict(r) for r in rows[:limit]]

    async def decide(self, proposal_id: int, status: str, by: str, note: str | None) -> dict[str, Any] | None:
        got = self.rows.get(proposal_id)
        if got is None or got["status"] != "proposed":
            return None
        got.update(status=status, decided_by=by, decision_note=note, decided_at=datetime.now(UTC).isoformat())
        return dict(got)
