"""aria_tune's records in PostgreSQL (schema ``aria_tune``), through aria_data's pool.

::

    studies   name (unique per tenant), owner, objective, direction, space, sampler, pruner,
              budget, parallelism, status (created -> running <-> stopped, running -> completed),
              objectives ([{name, direction}] of a study of several: architecture search)
    trials    (study, number) -> params, state (running -> complete | pruned | failed),
              intermediate values by step, value, job id, attempts, error, timings,
              values (``vals``: a study of several objectives' values in their order)

Guarantees and caveats
----------------------
- Reserving trials (:meth:`TuneStore.reserve`) locks the study's row for the transaction: two
  trials that finish at the same moment cannot both top the study up past its parallelism or
  its budget, and numbers are dense (0, 1, 2...) because they are counted under the lock.
- A trial leaves ``running`` once (``UPDATE ... WHERE state = 'running'``): a second finish of
  the same trial (a job that ran twice, the sweep racing a late result) changes nothing and says
  so, so no trial is counted twice.
- Lookups by name and listings run in the caller's tenant (row-level security); lookups by id
  (a job, the sweep) run without one, and the service checks the row's owner and tenant.
- The :class:`Store` protocol is what the service uses; :class:`aria_actors.tune.testing.MemoryStore`
  implements it in memory for unit tests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries

q = queries("aria_actors.tune", "store")
Propose = Callable[[dict[str, Any], list[dict[str, Any]]], Awaitable[dict[str, Any]]]
STUDY_JSON = ("space", "sampler", "pruner", "optimizer", "objectives")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def study_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in STUDY_JSON:
        if key in out:
            out[key] = _json(out[key])
    for key in ("created_at", "updated_at"):
        out[key] = _iso(out.get(key))
    return out


def trial_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["params"] = _json(out["params"])
    out["intermediate"] = {str(k): v for k, v in (_json(out.get("intermediate")) or {}).items()}
    vals = out.pop("vals", None)  # a study of several objectives: the values in its objectives' order
    out["values"] = None if vals is None else [float(v) for v in vals]
    for key in ("created_at", "started_at", "finished_at"):
        out[key] = _iso(out.get(key))
    return out


class Store(Protocol):
    """What the service needs of its records (PostgreSQL here, memory in tests)."""

    async def create_study(self, tenant: str, row: dict[str, Any]) -> dict[str, Any] | None: ...
    async def study(self, tenant: str, name: str) -> dict[str, Any] | None: ...
    async def study_by_id(self, study_id: int) -> dict[str, Any] | None: ...
    async def studies(self, tenant: str, owner: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def update_study(self, study_id: int, status: str, budget: int, parallelism: int,
                           optimizer: dict[str, Any] | None) -> dict[str, Any] | None: ...
    async def delete_study(self, study_id: int) -> bool: ...
    async def complete_if_done(self, study_id: int) -> bool: ...
    async def running_studies(self, limit: int) -> list[dict[str, Any]]: ...
    async def counts(self, study_id: int) -> dict[str, int]: ...
    async def best(self, study_id: int, direction: str) -> dict[str, Any] | None: ...
    async def all_trials(self, study_id: int) -> list[dict[str, Any]]: ...
    async def trials(self, study_id: int, state: str | None, after: int, limit: int) -> list[dict[str, Any]]: ...
    async def trial(self, study_id: int, number: int) -> dict[str, Any] | None: ...
    async def reserve(self, study_id: int, propose: Propose) -> list[dict[str, Any]]: ...
    async def set_job(self, study_id: int, number: int, job_id: int) -> None: ...
    async def start_trial(self, study_id: int, number: int) -> dict[str, Any] | None: ...
    async def report(self, study_id: int, number: int, step: int, value: float) -> dict[str, Any] | None: ...
    async def finish(self, study_id: int, number: int, state: str, value: float | list[float] | None,
                     error: str | None) -> dict[str, Any] | None: ...
    async def running_trials(self, limit: int) -> list[dict[str, Any]]: ...
    async def totals(self) -> dict[str, int]: ...


class TuneStore:
    """The queries of aria_tune over a :class:`Database` where its migrations ran."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _tx(self, tenant: str, fn: Callable[[asyncpg.Connection], Awaitable[Any]], *,
                  readonly: bool = False) -> Any:
        return await self.db.transaction(fn, tenant=tenant or None, readonly=readonly)

    # -- studies ------------------------------------------------------------------------------
    async def create_study(self, tenant: str, row: dict[str, Any]) -> dict[str, Any] | None:
        """The new study; None when the tenant has one of this name already."""
        async def fn(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(q("insert_study"), tenant, row["name"], row["owner"], row["objective"],
                                       row["direction"], json.dumps(row["space"]), json.dumps(row["sampler"]),
                                       json.dumps(row["pruner"]), row["budget"], row["parallelism"],
                                       None if row.get("objectives") is None else json.dumps(row["objectives"]))

        got = await self._tx(tenant, fn)
        return None if got is None else study_row(got)

    async def study(self, tenant: str, name: str) -> dict[str, Any] | None:
        async def fn(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(q("study_by_name"), tenant, name)

        got = await self._tx(tenant, fn, readonly=True)
        return None if got is None else study_row(got)

    async def study_by_id(self, study_id: int) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("study_by_id"), study_id)
        return None if got is None else study_row(got)

    async def studies(self, tenant: str, owner: str | None, limit: int) -> list[dict[str, Any]]:
        async def fn(conn: asyncpg.Connection) -> Any:
            return await conn.fetch(q("list_studies"), tenant, owner, limit)

        return [study_row(r) for r in await self._tx(tenant, fn, readonly=True)]

    async def update_study(self, study_id: int, status: str, budget: int, parallelism: int,
                           optimizer: dict[str, Any] | None) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("update_study"), study_id, status, budget, parallelism,
                                     None if optimizer is None else json.dumps(optimizer))
        return None if got is None else study_row(got)

    async def delete_study(self, study_id: int) -> bool:
        return await self.db.fetchval(q("delete_study"), study_id) is not None

    async def complete_if_done(self, study_id: int) -> bool:
        return await self.db.fetchval(q("complete_if_done"), study_id) is not None

    async def running_studies(self, limit: int) -> list[dict[str, Any]]:
        return [study_row(r) for r in await self.db.fetch(q("running_studies"), limit)]

    # -- trials -------------------------------------------------------------------------------
    async def counts(self, study_id: int) -> dict[str, int]:
        return {r["state"]: int(r["n"]) for r in await self.db.fetch(q("count_trials"), study_id)}

    async def best(self, study_id: int, direction: str) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("best_trial"), study_id, direction)
        return None if got is None else trial_row(got)

    async def all_trials(self, study_id: int) -> list[dict[str, Any]]:
        return [trial_row(r) for r in await self.db.fetch(q("all_trials"), study_id)]

    async def trials(self, study_id: int, state: str | None, after: int, limit: int) -> list[dict[str, Any]]:
        return [trial_row(r) for r in await self.db.fetch(q("list_trials"), study_id, state, after, limit)]

    async def trial(self, study_id: int, number: int) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("get_trial"), study_id, number)
        return None if got is None else trial_row(got)

    async def reserve(self, study_id: int, propose: Propose) -> list[dict[str, Any]]:
        """Under the study's row lock: as many new ``running`` trials as the study's parallelism
        and budget leave room for (none unless it is ``running``), each with ``propose(study,
        trials so far)``'s params."""
        async def fn(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            locked = await conn.fetchrow(q("lock_study"), study_id)
            if locked is None or locked["status"] != "running":
                return []
            study = study_row(locked)
            trials = [trial_row(r) for r in await conn.fetch(q("all_trials"), study_id)]
            room = min(study["parallelism"] - sum(t["state"] == "running" for t in trials),
                       study["budget"] - len(trials))
            made = []
            for _ in range(max(0, room)):
                params = await propose(study, trials)
                row = trial_row(await conn.fetchrow(q("insert_trial"), study_id, len(trials), study["tenant"],
                                                    json.dumps(params)))
                trials.append(row)
                made.append(row)
            return made

        return await self.db.transaction(fn)

    async def set_job(self, study_id: int, number: int, job_id: int) -> None:
        await self.db.execute(q("set_trial_job"), study_id, number, job_id)

    async def start_trial(self, study_id: int, number: int) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("start_trial"), study_id, number)
        return None if got is None else trial_row(got)

    async def report(self, study_id: int, number: int, step: int, value: float) -> dict[str, Any] | None:
        got = await self.db.fetchrow(q("report_trial"), study_id, number, str(step), value)
        return None if got is None else trial_row(got)

    async def finish(self, study_id: int, number: int, state: str, value: float | list[float] | None,
                     error: str | None) -> dict[str, Any] | None:
        """The trial as finished now; None when it had left ``running`` already. ``value`` is a
        list for a study of several objectives: kept whole in ``vals``, its first in ``value``."""
        vals = [float(v) for v in value] if isinstance(value, list) else None
        got = await self.db.fetchrow(q("finish_trial"), study_id, number, state, vals[0] if vals else value,
                                     None if error is None else error[:2000], vals)
        return None if got is None else trial_row(got)

    async def running_trials(self, limit: int) -> list[dict[str, Any]]:
        return [{**dict(r), "age_s": float(r["age_s"]), "created_at": _iso(r["created_at"]),
                 "started_at": _iso(r["started_at"])} for r in await self.db.fetch(q("running_trials"), limit)]

    async def totals(self) -> dict[str, int]:
        return {"studies": int(await self.db.fetchval(q("count_studies"))),
                "running_trials": int(await self.db.fetchval(q("count_running")))}
