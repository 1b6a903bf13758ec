"""aria_shape's records in PostgreSQL (schema ``aria_shape``): templates, characters with their
history of versions, model versions, and what is served (the served version, the A/B split and
its per-version metrics). SQL lives in ``sql/store.sql``.

Character evolution::

    create -> version 1 --evolve(change)--> version 2 --evolve--> ... (every version kept)

Guarantees and caveats
----------------------
- A character's versions are append-only; ``evolve`` locks the character row (``FOR UPDATE``), so
  concurrent evolutions get consecutive version numbers and none is lost.
- Every stored version was validated against its template by the caller (the service) before it
  reached this module; the store itself does not re-check.
- A model version's ``parent`` must exist (foreign key): the lineage of versions is a tree.
- ``set_serving`` writes the served version and the split (or none) and resets the split's
  metrics in one transaction: a crash leaves the old state or the new one, never a mix.
- ``training_runs`` holds the aria_queue jobs ``start_training`` enqueued (job id, version,
  parent, enqueuer): only their results are registered as model versions.
- ``add_counts`` adds counter deltas (never absolute values), so flushing twice the same delta
  counts it twice: the caller takes each delta once (``TrafficSplit.take_unflushed``).
- Every multi-statement write is one ``Database.transaction``: read committed (``evolve``'s row
  lock orders concurrent evolutions) and retried, bounded, on a deadlock or serialization
  failure. A retried ``evolve`` calls ``update`` again on the body it then reads, so ``update``
  must be pure (the service's is: it validates and returns a new body).
- Needs aria_data's ``Database`` (or a bare asyncpg pool, whose transactions are retried the same
  way without the Database's counters) on a database where aria_shape's migrations were applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.data.transactions import Isolation, run_transaction
from aria_actors.runtime.errors import NotFound
from aria_actors.shape.errors import ModelVersionExists, UnknownModelVersion, VersionConflict
from aria_actors.shape.inference.traffic import score_change

q = queries("aria_actors.shape", "store")
T = TypeVar("T")


def _model_row(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "parent": r["parent"], "path": r["path"],
            "metrics": json.loads(r["metrics"]), "training_config": json.loads(r["training_config"]),
            "created_at": r["created_at"].isoformat()}


class ShapeStore:
    """Queries over aria_data's ``Database`` (or a bare asyncpg pool)."""

    def __init__(self, db: Database | asyncpg.Pool) -> None:
        self.pool: Any = db  # both answer execute/fetch/fetchrow/fetchval alike

    async def _transaction(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *,
                           isolation: Isolation = "read_committed", readonly: bool = False) -> T:
        if isinstance(self.pool, Database):
            return await self.pool.transaction(fn, isolation=isolation, readonly=readonly)
        return await run_transaction(self.pool, fn, isolation=isolation, readonly=readonly)

    async def put_template(self, name: str, body: dict[str, Any]) -> None:
        await self.pool.execute(q("put_template"), name, json.dumps(body))

    async def templates(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in await self.pool.fetch(q("templates"))]

    async def create_character(self, body: dict[str, Any], change: str, *, owner: str = "",
                               tenant: str | None = None) -> dict[str, Any]:
        cid = uuid.uuid4()

        async def insert(conn: asyncpg.Connection) -> Any:
            await conn.execute(q("insert_character"), cid, body["template"], body.get("name", ""), owner, tenant)
            return await conn.fetchval(q("insert_version"), cid, 1, json.dumps(body), change)

        at = await self._transaction(insert)
        return {"id": str(cid), "version": 1, "character": body, "change": change,
                "created_at": at.isoformat(), "owner": owner, "tenant": tenant}

    async def holder(self, character_id: str) -> dict[str, Any]:
        """``{"owner", "tenant"}`` of a character (the resource its reads and writes are decided on)."""
        r = await self.pool.fetchrow(q("character_holder"), _uuid(character_id))
        if r is None:
            raise NotFound(f"no character {character_id}", character_id=character_id)
        return {"owner": r["owner"], "tenant": r["tenant"]}

    async def evolve(self, character_id: str, update: Any, change: str,
                     expected_version: int | None = None) -> dict[str, Any]:
        """New version of a character: ``update(current_body) -> new_body`` runs under the row lock;
        with ``expected_version``, only while that is still the latest (else :class:`VersionConflict`)."""
        cid = _uuid(character_id)

        async def append(conn: asyncpg.Connection) -> tuple[dict[str, Any], int, Any]:
            row = await conn.fetchrow(q("lock_character"), cid)
            if row is None:
                raise NotFound(f"no character {character_id}", character_id=character_id)
            if expected_version is not None and row["version"] != expected_version:
                raise VersionConflict(f"character {character_id} is at version {row['version']}, not "
                                      f"{expected_version}: read it again and redo the edit on the latest",
                                      latest=row["version"], expected_version=expected_version)
            current = await conn.fetchrow(q("character_version"), cid, None)
            body = update(json.loads(current["body"]))
            version = row["version"] + 1
            at = await conn.fetchval(q("insert_version"), cid, version, json.dumps(body), change)
            await conn.execute(q("bump_version"), cid, version, body.get("name", ""))
            return body, version, at

        body, version, at = await self._transaction(append)
        return {"id": character_id, "version": version, "character": body, "change": change,
                "created_at": at.isoformat()}

    async def character(self, character_id: str, version: int | None = None) -> dict[str, Any]:
        r = await self.pool.fetchrow(q("character_version"), _uuid(character_id), version)
        if r is None:
            raise NotFound(f"no character {character_id}" + (f" version {version}" if version else ""),
                           character_id=character_id, version=version)
        return {"id": character_id, "version": r["version"], "latest": r["latest"],
                "character": json.loads(r["body"]), "change": r["change"],
                "created_at": r["created_at"].isoformat()}

    async def characters(self, *, every_tenant: bool, tenant: str | None, owner: str = "", after: str = "",
                         limit: int = 50) -> list[dict[str, Any]]:
        """Characters by id after ``after``: of every tenant, or of ``tenant`` and the tenant-less ones;
        only ``owner``'s when given."""
        start = _uuid(after) if after else None
        rows = await self.pool.fetch(q("list_characters"), every_tenant, tenant or "", owner, start, limit)
        return [{"id": str(r["id"]), "template": r["template"], "name": r["name"], "version": r["version"],
                 "owner": r["owner"], "tenant": r["tenant"], "created_at": r["created_at"].isoformat(),
                 "updated_at": r["updated_at"].isoformat()} for r in rows]

    async def delete_character(self, character_id: str) -> None:
        """Forget a character and all its versions; NotFound when there is none."""
        if await self.pool.execute(q("delete_character"), _uuid(character_id)) == "DELETE 0":
            raise NotFound(f"no character {character_id}", character_id=character_id)

    async def history(self, character_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(q("history"), _uuid(character_id))
        if not rows:
            raise NotFound(f"no character {character_id}", character_id=character_id)
        return [{"version": r["version"], "character": json.loads(r["body"]), "change": r["change"],
                 "created_at": r["created_at"].isoformat()} for r in rows]

    async def register_model(self, model_id: str, path: str, parent: str | None,
                             metrics: dict[str, Any], training_config: dict[str, Any], *,
                             existing_ok: bool = False) -> dict[str, Any]:
        """Record a model version; ``existing_ok``: a version registered already is returned as
        it is (a training job's result may be seen more than once)."""
        try:
            await self.pool.execute(q("put_model_once" if existing_ok else "put_model"), model_id, parent,
                                    path, json.dumps(metrics), json.dumps(training_config))
        except asyncpg.ForeignKeyViolationError:
            raise UnknownModelVersion(f"parent model version {parent!r} does not exist",
                                      model_version=parent) from None
        except asyncpg.UniqueViolationError:
            raise ModelVersionExists(f"model version {model_id!r} exists already; register it under a new id",
                                     model_version=model_id) from None
        return await self.model(model_id)

    async def model(self, model_id: str) -> dict[str, Any]:
        r = await self.pool.fetchrow(q("get_model"), model_id)
        if r is None:
            raise UnknownModelVersion(f"no model version {model_id!r}", model_version=model_id)
        return _model_row(r)

    async def models(self) -> list[dict[str, Any]]:
        return [_model_row(r) for r in await self.pool.fetch(q("models"))]

    async def existing_models(self, ids: list[str]) -> set[str]:
        return {r["id"] for r in await self.pool.fetch(q("existing_models"), ids)}

    # -- training runs: the aria_queue jobs start_training enqueued -----------------------------
    async def record_training_run(self, job_id: int, version: str, parent: str | None,
                                  enqueued_by: str) -> None:
        """Record that job ``job_id`` is aria_shape's run making ``version`` from ``parent``
        (recording it again changes nothing)."""
        await self.pool.execute(q("put_training_run"), job_id, version, parent, enqueued_by)

    async def training_runs(self, job_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The recorded runs among ``job_ids``, by job id (jobs aria_shape did not start are absent)."""
        rows = await self.pool.fetch(q("training_runs"), job_ids)
        return {r["job_id"]: {"job_id": r["job_id"], "version": r["version"], "parent": r["parent"],
                              "enqueued_by": r["enqueued_by"], "created_at": r["created_at"].isoformat()}
                for r in rows}

    # -- serving: the served version, the A/B split and its metrics ---------------------------
    async def serving(self) -> dict[str, Any] | None:
        """``{version, weights: [(version, weight), ...] | None, seed, feedback_key, metrics}``, None
        if never set."""
        async def read(conn: asyncpg.Connection) -> tuple[Any, dict[str, Any]]:
            row = await conn.fetchrow(q("serving"))
            if row is None:
                return None, {}
            return row, {r["version"]: dict(r) for r in await conn.fetch(q("ab_metrics"))}

        # Repeatable read: both reads see one snapshot, so the metrics belong to the split read
        # (a set_serving committing between them would have reset them). Being read-only, it
        # writes no row a concurrent writer could make fail to serialise.
        row, metrics = await self._transaction(read, isolation="repeatable_read", readonly=True)
        if row is None:
            return None
        weights = json.loads(row["weights"]) if row["weights"] is not None else None
        return {"version": row["version"], "seed": row["seed"], "metrics": metrics,
                "feedback_key": bytes(row["feedback_key"]) if row["feedback_key"] is not None else None,
                "weights": [(str(v), float(w)) for v, w in weights] if weights is not None else None}

    async def set_serving(self, version: str, weights: dict[str, float] | None, seed: int = 0,
                          feedback_key: bytes | None = None) -> None:
        """Serve ``version``, with the A/B split ``weights`` (in routing order) and the key of its
        response ids, or none; the split's metrics and its callers' scores start again from zero."""
        pairs = json.dumps([[v, w] for v, w in weights.items()]) if weights is not None else None

        async def put(conn: asyncpg.Connection) -> None:
            await conn.execute(q("put_serving"), version, pairs, seed, feedback_key)
            await conn.execute(q("clear_ab_metrics"))
            await conn.execute(q("clear_ab_feedback"))
            if weights:
                await conn.execute(q("insert_ab_versions"), list(weights))

        await self._transaction(put)

    async def add_counts(self, deltas: dict[str, Any]) -> None:
        """Add ``{version: VersionMetrics}`` request/token/second deltas to the split's metrics."""
        if not deltas:
            return
        names = list(deltas)
        await self.pool.execute(q("add_ab_counts"), names, [deltas[v].requests for v in names],
                                [deltas[v].tokens for v in names], [deltas[v].seconds for v in names])

    async def keep_feedback_key(self, key: bytes) -> bytes:
        """The stored split's response-id key: ``key`` stored when it had none (a split stored
        before keys were), else the one stored (another actor may have stored its own first)."""
        stored = await self.pool.fetchval(q("put_feedback_key"), key)
        if stored is not None:
            return bytes(stored)
        state = await self.serving()
        return state["feedback_key"] if state and state["feedback_key"] else key

    async def add_feedback(self, version: str, value: float, response_id: str,
                           scorer: str) -> tuple[bool, float | None]:
        """``scorer``'s score of ``version`` (a newer one replaces theirs), added to the split's
        metrics in the same transaction: ``(False, None)`` when ``version`` has no metrics row (not
        in the split; nothing kept), else ``(True, the score it replaced or None)``."""
        async def add(conn: asyncpg.Connection) -> tuple[bool, float | None]:
            old = await conn.fetchval(q("ab_feedback_of"), scorer, version)
            await conn.execute(q("put_ab_feedback"), scorer, version, value, response_id)
            if await conn.fetchval(q("add_ab_feedback"), version, *score_change(value, old)) is None:
                raise _NoMetricsRow  # rolls the score back
            return True, old

        try:
            return await self._transaction(add)
        except _NoMetricsRow:
            return False, None


class _NoMetricsRow(Exception):
    """Inside add_feedback: the version has no metrics row, so nothing of the call is kept."""


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"no character {text!r} (not a character id)", character_id=text) from None
