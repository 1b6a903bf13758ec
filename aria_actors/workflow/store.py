"""aria_workflow's tables in PostgreSQL (schema ``aria_workflow``), through aria_data's pool.

::

    definitions / releases   every version of every workflow (documents per tenant, Python
                             workflows under tenant ''), and which version new runs start with
    runs                     one row per run: state, input/output/error, the starter, its lease
    steps                    a run's recorded steps, written once (primary key run_id, key)
    history / signals        control events and failed attempts; signals waiting to be consumed

Guarantees and caveats
----------------------
- A step's row is inserted once (``ON CONFLICT DO NOTHING``): when two executors race on a run,
  the first result recorded is the result, and :meth:`record_step` returns it to the loser.
- A signal is consumed in the same transaction that records the step waiting for it: it is taken
  exactly once, by exactly one wait.
- The engine's queries (by run id) run without a tenant; the ones answering a caller take the
  caller's tenant and run in its tenant transaction (row-level security).
- Writes the engine must not lose (a step, a run's end) are retried by the engine while the
  database is away; nothing here retries.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries

q = queries("aria_actors.workflow", "store")
T = TypeVar("T")
ENGINE_STATES = ("pending", "running", "waiting")
FINAL_STATES = ("completed", "failed", "cancelled")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def dumps(value: Any) -> str:
    """JSON text of ``value`` (TypeError for what JSON cannot hold); NaN and infinities refused."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _row(row: Any, *json_cols: str) -> dict[str, Any]:
    out = dict(row)
    for col in json_cols:
        if col in out:
            out[col] = _json(out[col])
    for col, value in out.items():
        if isinstance(value, datetime):
            out[col] = value.isoformat()
        elif isinstance(value, uuid.UUID):
            out[col] = str(value)
    return out


class _AlreadyRecorded(Exception):
    """Rolls back a signal's consumption when its wait was recorded by someone else."""


class WorkflowStore:
    """The queries of aria_workflow over a :class:`Database` where its migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _tx(self, tenant: str | None, fn: Callable[[asyncpg.Connection], Awaitable[T]], *,
                  readonly: bool = False) -> T:
        return await self.db.transaction(fn, tenant=tenant or None, readonly=readonly)

    # -- definitions ------------------------------------------------------------------------------
    async def add_document(self, tenant: str, name: str, document: dict[str, Any], description: str,
                           by: str) -> dict[str, Any]:
        """Store ``document`` as the next version of ``name`` and release it, in one transaction."""
        async def fn(conn: asyncpg.Connection) -> dict[str, Any]:
            # Versions are numbered per name: serialise concurrent publishers of the same name.
            await conn.execute(q("lock_name"), f"aria_workflow:{tenant}:{name}")
            row = await conn.fetchrow(q("insert_definition"), tenant, name, "document", dumps(document), None, "",
                                      description, by)
            await conn.execute(q("insert_release"), tenant, name, row["version"], "publish", by)
            return _row(row)

        return await self._tx(tenant, fn)

    async def register_code(self, name: str, version: int, code_ref: str, code_hash: str,
                            description: str) -> str | None:
        """Record a Python workflow (tenant ''); the hash stored before when the version existed
        with other code (the caller reports it), else None. A new highest version is released."""
        async def fn(conn: asyncpg.Connection) -> str | None:
            row = await conn.fetchrow(q("register_code"), name, version, code_ref, code_hash, description)
            if row["inserted"]:
                current = await conn.fetchval(q("current_version"), "", name)
                if current is None or current < version:
                    await conn.execute(q("insert_release"), "", name, version, "register", "aria_workflow")
                return None
            return row["code_hash"] if row["code_hash"] != code_hash else None

        return await self._tx(None, fn)

    async def definition(self, tenant: str, name: str, version: int) -> dict[str, Any] | None:
        row = await self._tx(tenant, lambda c: c.fetchrow(q("definition"), tenant, name, version), readonly=True)
        return None if row is None else _row(row, "document")

    async def current_version(self, tenant: str, name: str) -> int | None:
        return await self._tx(tenant, lambda c: c.fetchval(q("current_version"), tenant, name), readonly=True)

    async def versions(self, tenant: str, name: str) -> list[dict[str, Any]]:
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [_row(r) for r in await conn.fetch(q("versions"), tenant, name)]

        return await self._tx(tenant, fn, readonly=True)

    async def definitions(self, tenant: str) -> list[dict[str, Any]]:
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [_row(r) for r in await conn.fetch(q("definitions"), tenant)]

        return await self._tx(tenant, fn, readonly=True)

    async def releases(self, tenant: str, name: str, limit: int = 50) -> list[dict[str, Any]]:
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [_row(r) for r in await conn.fetch(q("releases"), tenant, name, limit)]

        return await self._tx(tenant, fn, readonly=True)

    async def release(self, tenant: str, name: str, version: int, action: str, by: str) -> None:
        await self._tx(tenant, lambda c: c.execute(q("insert_release"), tenant, name, version, action, by))

    # -- runs ------------------------------------------------------------------------------------
    async def insert_run(self, run_id: str, tenant: str, name: str, version: int, def_tenant: str, input_: Any,
                         starter: dict[str, Any], started_by: str, idempotency_key: str | None, owner: str,
                         lease_s: float) -> tuple[str, bool]:
        """(run id, created): with an idempotency key already used, the earlier run's id."""
        async def fn(conn: asyncpg.Connection) -> tuple[str, bool]:
            got = await conn.fetchval(q("insert_run"), uuid.UUID(run_id), tenant, name, version, def_tenant,
                                      dumps(input_), dumps(starter), started_by, idempotency_key, owner, lease_s)
            if got is not None:
                return str(got), True
            earlier = await conn.fetchval(q("run_by_key"), tenant, name, idempotency_key)
            return str(earlier), False

        return await self._tx(None, fn)

    async def run(self, run_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        """The run ``run_id``; with ``tenant``, only when that tenant may see it (RLS)."""
        try:
            key = uuid.UUID(run_id)
        except (ValueError, TypeError, AttributeError):
            return None
        row = await self._tx(tenant, lambda c: c.fetchrow(q("run"), key), readonly=True)
        return None if row is None else _row(row, "input", "output", "error", "starter", "document")

    async def runs(self, tenant: str | None, name: str | None, state: str | None, started_by: str | None,
                   limit: int) -> list[dict[str, Any]]:
        """Runs newest first: of ``tenant`` ('' = the tenant-less ones; None = every tenant)."""
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [_row(r, "error") for r in await conn.fetch(q("runs"), name, state, started_by, limit, tenant)]

        return await self._tx(tenant, fn, readonly=True)

    async def claim(self, owner: str, lease_s: float, running: list[str], limit: int) -> list[str]:
        rows = await self.db.fetch(q("claim_runs"), owner, lease_s, [uuid.UUID(r) for r in running], limit)
        return [str(r["id"]) for r in rows]

    async def heartbeat(self, owner: str, lease_s: float, ids: list[str]) -> tuple[set[str], list[tuple[str, str]]]:
        """Renew the leases of ``ids``; (the ids still held by ``owner``, the controls operators set
        on them meanwhile)."""
        rows = await self.db.fetch(q("heartbeat"), owner, lease_s, [uuid.UUID(r) for r in ids])
        return {str(r["id"]) for r in rows}, [(str(r["id"]), r["control"]) for r in rows if r["control"]]

    async def set_state(self, run_id: str, state: str, owner: str) -> None:
        await self.db.execute(q("set_state"), uuid.UUID(run_id), state, owner)

    async def finish(self, run_id: str, state: str, output: Any, error: Any, owner: str) -> bool:
        got = await self.db.fetchval(q("finish_run"), uuid.UUID(run_id), state, dumps(output),
                                     None if error is None else dumps(error), owner)
        return got is not None

    async def release_run(self, run_id: str, owner: str) -> None:
        await self.db.execute(q("release_run"), uuid.UUID(run_id), owner)

    async def control(self, run_id: str, control: str) -> bool:
        return await self.db.fetchval(q("control_run"), uuid.UUID(run_id), control) is not None

    async def pause_idle(self, run_id: str, owner: str | None) -> bool:
        """Pause a live run held by ``owner`` (None: held by no engine)."""
        return await self.db.fetchval(q("pause_idle"), uuid.UUID(run_id), owner) is not None

    async def resume(self, run_id: str, from_states: list[str]) -> bool:
        return await self.db.fetchval(q("resume_run"), uuid.UUID(run_id), from_states) is not None

    async def cancel_idle(self, run_id: str, error: dict[str, Any]) -> bool:
        return await self.db.fetchval(q("cancel_idle"), uuid.UUID(run_id), dumps(error)) is not None

    async def set_version(self, run_id: str, version: int, from_states: list[str]) -> bool:
        return await self.db.fetchval(q("set_version"), uuid.UUID(run_id), version, from_states) is not None

    async def set_document(self, run_id: str, document: dict[str, Any]) -> bool:
        return await self.db.fetchval(q("set_document"), uuid.UUID(run_id), dumps(document)) is not None

    # -- steps -----------------------------------------------------------------------------------
    async def record_step(self, run_id: uuid.UUID, key: str, name: str, kind: str, state: str, input_json: str | None,
                          output_json: str | None, error_json: str | None, attempts: int,
                          started_at: datetime) -> dict[str, Any] | None:
        """Insert a step's row; None when inserted, else the row recorded first (written once)."""
        async with self.db.acquire() as conn:
            seq = await conn.fetchval(q("record_step"), run_id, key, name, kind, state, input_json, output_json,
                                      error_json, attempts, started_at)
            if seq is not None:
                return None
            row = await conn.fetchrow(q("step"), run_id, key)
        return _row(row, "input", "output", "error")

    async def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(q("steps"), uuid.UUID(run_id))
        return [_row(r, "input", "output", "error") for r in rows]

    async def delete_failed_steps(self, run_id: str, keys: list[str]) -> list[str]:
        """Forget the failed records ``keys`` (with their job tickets and signal deadlines), so those
        steps run again; the keys deleted."""
        return [r["key"] for r in await self.db.fetch(q("delete_failed_steps"), uuid.UUID(run_id), keys)]

    async def delete_companions(self, run_id: str, keys: list[str]) -> None:
        """Forget the job tickets and signal deadlines of steps ``keys`` (replaced by an edit)."""
        await self.db.execute(q("delete_companions"), uuid.UUID(run_id), keys)

    async def skip_failed_step(self, run_id: str, key: str, output: Any) -> bool:
        return await self.db.fetchval(q("skip_failed_step"), uuid.UUID(run_id), key, dumps(output)) is not None

    async def failed_steps(self, run_id: str) -> list[str]:
        return [r["key"] for r in await self.db.fetch(q("failed_steps"), uuid.UUID(run_id))]

    # -- history and signals ---------------------------------------------------------------------
    async def add_history(self, run_id: str, kind: str, key: str | None = None,
                          detail: dict[str, Any] | None = None) -> None:
        await self.db.execute(q("add_history"), uuid.UUID(run_id), kind, key, dumps(detail or {}))

    async def history(self, run_id: str, limit: int = 10_000) -> list[dict[str, Any]]:
        return [_row(r, "detail") for r in await self.db.fetch(q("history"), uuid.UUID(run_id), limit)]

    async def add_signal(self, run_id: str, name: str, payload: Any, by: str) -> int:
        return int(await self.db.fetchval(q("insert_signal"), uuid.UUID(run_id), name, dumps(payload), by))

    async def take_signal(self, run_id: uuid.UUID, name: str, key: str, started_at: datetime) -> tuple[bool, Any]:
        """Consume the oldest pending signal ``name`` and record it as step ``key``, atomically;
        (found, payload)."""
        async def fn(conn: asyncpg.Connection) -> tuple[bool, Any]:
            payload = await conn.fetchval(q("take_signal"), run_id, name, key)
            if payload is None:
                return False, None
            seq = await conn.fetchval(q("record_step"), run_id, key, f"signal:{name}", "signal", "completed",
                                      dumps({"name": name}), payload, None, 1, started_at)
            if seq is None:  # another engine recorded this wait first: keep the signal for others
                raise _AlreadyRecorded
            return True, _json(payload)

        try:
            return await self._tx(None, fn)
        except _AlreadyRecorded:
            row = await self.db.fetchrow(q("step"), run_id, key)
            return True, _json(row["output"])

    # -- analytics -------------------------------------------------------------------------------
    async def stats(self, tenant: str | None, name: str | None, since: datetime) -> dict[str, Any]:
        """Counts and durations of runs and steps since ``since``: of ``tenant`` ('' = no tenant),
        or of every tenant with None (steps are not a tenant table: the filter is explicit)."""
        async def fn(conn: asyncpg.Connection) -> dict[str, Any]:
            runs = [dict(r) for r in await conn.fetch(q("run_stats"), name, since, tenant)]
            steps = [dict(r) for r in await conn.fetch(q("step_stats"), name, since, tenant)]
            return {"runs": runs, "steps": steps}

        return await self._tx(None, fn, readonly=True)
