"""aria_interpret's tables in PostgreSQL (schema ``aria_interpret``), through aria_data's pool.

::

    events        what characters and players did (actions, interactions, states, picks,
                  feedback), per tenant, append-only: the input of every model here
    characters    a character's description, traits and sentence embedding, per tenant
    model_versions / serving / promotions / ab_metrics / training_runs
                  recommender versions (artifacts in aria_storage), what is served, the A/B
                  split and its counters, and the training jobs this service enqueued

Guarantees and caveats
----------------------
- Tenant-scoped tables are read and written in tenant transactions (row-level security, see
  :mod:`aria_actors.data.tenancy`): a tenant never sees another's events or characters, whatever
  the query. Tenant ``''`` is "no tenant" and runs without one.
- A batch of events is one statement: all of it is stored or none.
- Promotion writes the served version, clears the split and appends the promotion row in one
  transaction: a crash leaves the old state or the new one.
- Reads of events are bounded (the newest ``limit`` rows, returned oldest first).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.interpret.errors import UnknownModelVersion

q = queries("aria_actors.interpret", "store")
T = TypeVar("T")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _version(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["metrics"] = _json(out["metrics"])
    out["config"] = _json(out["config"])
    out["created_at"] = out["created_at"].isoformat()
    return out


class InterpretStore:
    """The queries of aria_interpret over a :class:`Database` where its migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _tx(self, tenant: str, fn: Callable[[asyncpg.Connection], Awaitable[T]], *,
                  readonly: bool = False) -> T:
        return await self.db.transaction(fn, tenant=tenant or None, readonly=readonly)

    # -- events -------------------------------------------------------------------------------
    async def add_events(self, tenant: str, events: Sequence[dict[str, Any]]) -> int:
        """Store validated events (dicts of kind, subject, object, category, value, attrs, ts)."""
        cols: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        for e in events:
            for col, value in zip(cols, (e["kind"], e["subject"], e["object"], e["category"], e["value"],
                                         json.dumps(e["attrs"]), e["ts"]), strict=True):
                col.append(value)

        async def fn(conn: asyncpg.Connection) -> int:
            await conn.execute(q("insert_events"), tenant, *cols)
            return len(events)

        return await self._tx(tenant, fn)

    async def events(self, tenant: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` events of ``kind``, oldest first."""
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            rows = await conn.fetch(q("events_of_kind"), tenant, kind, limit)
            return [{**dict(r), "attrs": _json(r["attrs"])} for r in rows]

        return await self._tx(tenant, fn, readonly=True)

    async def history(self, tenant: str, kind: str, subject: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` events of one subject, oldest first."""
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in await conn.fetch(q("subject_history"), tenant, kind, subject, limit)]

        return await self._tx(tenant, fn, readonly=True)

    async def counts(self, tenant: str) -> dict[str, int]:
        async def fn(conn: asyncpg.Connection) -> dict[str, int]:
            return {r["kind"]: int(r["n"]) for r in await conn.fetch(q("count_events"), tenant)}

        return await self._tx(tenant, fn, readonly=True)

    # -- characters ---------------------------------------------------------------------------
    async def put_character(self, tenant: str, character_id: str, description: str, traits: list[str],
                            embedding: Sequence[float]) -> dict[str, Any]:
        async def fn(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await conn.fetchrow(q("put_character"), tenant, character_id, description,
                                      json.dumps(traits), list(embedding))
            return {**dict(row), "traits": _json(row["traits"]), "updated_at": row["updated_at"].isoformat()}

        return await self._tx(tenant, fn)

    async def character(self, tenant: str, character_id: str) -> dict[str, Any] | None:
        async def fn(conn: asyncpg.Connection) -> dict[str, Any] | None:
            row = await conn.fetchrow(q("get_character"), tenant, character_id)
            if row is None:
                return None
            return {**dict(row), "traits": _json(row["traits"]), "embedding": list(row["embedding"]),
                    "updated_at": row["updated_at"].isoformat()}

        return await self._tx(tenant, fn, readonly=True)

    async def characters(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            rows = await conn.fetch(q("all_characters"), tenant, limit)
            return [{"character_id": r["character_id"], "traits": _json(r["traits"]),
                     "embedding": r["embedding"]} for r in rows]

        return await self._tx(tenant, fn, readonly=True)

    async def characters_key(self, tenant: str) -> tuple[int, str]:
        """What changes whenever the tenant's characters do (count, newest update): a cache key."""
        async def fn(conn: asyncpg.Connection) -> tuple[int, str]:
            row = await conn.fetchrow(q("characters_key"), tenant)
            return int(row["n"]), str(row["newest"])

        return await self._tx(tenant, fn, readonly=True)

    async def delete_character(self, tenant: str, character_id: str) -> bool:
        async def fn(conn: asyncpg.Connection) -> bool:
            return await conn.fetchval(q("delete_character"), tenant, character_id) is not None

        return await self._tx(tenant, fn)

    # -- model versions and serving -------------------------------------------------------------
    async def add_version(self, version: str, asset: str, asset_version: int, sha256: str, dataset: str,
                          parent: str | None, metrics: dict[str, Any], config: dict[str, Any],
                          job_id: int | None) -> bool:
        """Record a version; False when it was recorded already (idempotent)."""
        got = await self.db.fetchval(q("insert_version"), version, asset, asset_version, sha256, dataset, parent,
                                     json.dumps(metrics), json.dumps(config), job_id)
        return got is not None

    async def version(self, version: str) -> dict[str, Any]:
        row = await self.db.fetchrow(q("get_version"), version)
        if row is None:
            raise UnknownModelVersion(f"no model version {version!r}", version=version)
        return _version(row)

    async def versions(self) -> list[dict[str, Any]]:
        return [_version(r) for r in await self.db.fetch(q("list_versions"))]

    async def serving(self) -> dict[str, Any]:
        row = await self.db.fetchrow(q("get_serving"))
        return {"served": row["served"], "traffic": _json(row["traffic"]),
                "updated_at": row["updated_at"].isoformat()}

    async def promote(self, version: str, reason: str, by: str) -> None:
        """Serve ``version``, end any A/B split, reset its counters and record the promotion: one
        transaction."""
        async def fn(conn: asyncpg.Connection) -> None:
            await conn.fetchrow(q("lock_serving"))
            await conn.execute(q("set_served"), version)
            await conn.execute(q("reset_ab_metrics"))
            await conn.execute(q("insert_promotion"), version, reason, by)

        await self.db.transaction(fn)

    async def rollback_target(self) -> tuple[int, str] | None:
        """The live promotion before the current one: ``(current promotion id, version)``."""
        rows = await self.db.fetch(q("live_promotions"))
        return (int(rows[0]["id"]), rows[1]["version"]) if len(rows) == 2 else None

    async def rollback(self, current_id: int, version: str) -> bool:
        """Undo promotion ``current_id`` (serve ``version``, the one before it): one transaction;
        False when another promotion or rollback came first."""
        async def fn(conn: asyncpg.Connection) -> bool:
            await conn.fetchrow(q("lock_serving"))
            rows = await conn.fetch(q("live_promotions"))
            if len(rows) < 2 or int(rows[0]["id"]) != current_id or rows[1]["version"] != version:
                return False
            await conn.execute(q("mark_rolled_back"), current_id)
            await conn.execute(q("set_served"), version)
            await conn.execute(q("reset_ab_metrics"))
            return True

        return await self.db.transaction(fn)

    async def promotions(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.db.fetch(q("promotions"), limit)
        return [{**dict(r), "at": r["at"].isoformat()} for r in rows]

    async def set_traffic(self, weights: dict[str, float] | None) -> None:
        """Start (reset counters) or end an A/B split: one transaction."""
        async def fn(conn: asyncpg.Connection) -> None:
            await conn.fetchrow(q("lock_serving"))
            if weights is not None:
                await conn.execute(q("reset_ab_metrics"))
            await conn.execute(q("set_traffic"), None if weights is None else json.dumps(weights))

        await self.db.transaction(fn)

    async def add_ab_metrics(self, deltas: dict[str, tuple[int, int, float, float]]) -> None:
        """Per version: requests, feedback count, sum and sum of squares to add."""
        if not deltas:
            return
        names = sorted(deltas)
        await self.db.execute(q("add_ab_metrics"), names, [deltas[n][0] for n in names],
                              [deltas[n][1] for n in names], [deltas[n][2] for n in names],
                              [deltas[n][3] for n in names])

    async def ab_metrics(self) -> dict[str, dict[str, Any]]:
        return {r["version"]: {"requests": int(r["requests"]), "feedback_count": int(r["feedback_count"]),
                               "feedback_sum": float(r["feedback_sum"]),
                               "feedback_sumsq": None if r["feedback_sumsq"] is None else float(r["feedback_sumsq"])}
                for r in await self.db.fetch(q("ab_metrics"))}

    async def reset_ab_metrics(self) -> None:
        await self.db.execute(q("reset_ab_metrics"))

    # -- training runs --------------------------------------------------------------------------
    async def add_run(self, job_id: int, version: str, dataset: str, enqueuer: str, promote: str) -> None:
        await self.db.execute(q("insert_run"), job_id, version, dataset, enqueuer, promote)

    async def run(self, job_id: int) -> dict[str, Any] | None:
        row = await self.db.fetchrow(q("get_run"), job_id)
        return None if row is None else {**dict(row), "created_at": row["created_at"].isoformat()}

    async def run_of_version(self, version: str) -> dict[str, Any] | None:
        row = await self.db.fetchrow(q("run_of_version"), version)
        return None if row is None else {**dict(row), "created_at": row["created_at"].isoformat()}

    async def pending_runs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.db.fetch(q("pending_runs"))]

    async def fail_run(self, job_id: int, error: str) -> None:
        await self.db.execute(q("set_run_error"), job_id, error[:2000])

