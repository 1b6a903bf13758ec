"""Producing jobs: ``enqueue`` one, ``enqueue_many`` in one statement, inside a caller's transaction.

Guarantees and caveats:
- Everything is validated before the database is touched (worker name, args JSON, priority,
  attempts, schedule): bad input raises a typed error and inserts nothing. ``enqueue_many``
  validates the whole batch first, so one bad job inserts none.
- Given an asyncpg connection the insert joins whatever transaction the caller has open: the job
  exists (and executors are woken, NOTIFY being transactional) only if the caller commits.
- Uniqueness is enforced by a unique partial index on ``unique_key`` restricted to the job's
  unique states, with ``INSERT ... ON CONFLICT DO NOTHING``: concurrent producers cannot both
  insert, whatever their timing. A duplicate returns the existing job with ``conflict=True``.
- The unique period is a window aligned to the epoch (key includes ``floor(now / period)``), so two
  identical jobs straddling a window boundary are both inserted: the period is honoured to within
  one window, not as a sliding window. Producers' clocks decide the window.
- ``enqueued_by`` is the principal the job records and runs as; with it, the enqueuer must be
  allowed to enqueue the worker (:meth:`Registry.authorize`) before anything is inserted. Without
  it (trusted code in this process, which could write the table anyway) no check is made, the
  job records no enqueuer, and a ``service:`` job is refused: it would run as nobody.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aria_actors.queue import dispatch
from aria_actors.queue.errors import ArgsNotSerializable, InvalidJob
from aria_actors.queue.jobs import Job, JobState
from aria_actors.queue.registry import (
    Registry,
    Unique,
    check_attempts,
    check_priority,
    check_queue,
    default_registry,
)
from aria_actors.queue.sql import q
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate

# An unescaped \u0000 in encoded JSON: PostgreSQL's jsonb cannot hold it.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
MAX_SCHEDULE_IN = 10 * 366 * 86400.0  # ten years; beyond is a mistake (and overflows datetime)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated job, ready to insert."""

    worker: str
    args_json: str
    queue: str
    priority: int
    max_attempts: int
    scheduled_at: datetime | None
    state: JobState
    meta_json: str
    tags: tuple[str, ...]
    unique_key: str | None
    unique_states: tuple[JobState, ...] | None
    enqueued_by_json: str | None = None


def _json(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        culprit = _find_bad(value, what)
        raise ArgsNotSerializable(
            f"{culprit} is not JSON-serialisable ({exc}); nothing was inserted",
            field=culprit) from None
    if "\\u0000" in text and _NUL.search(text):
        raise ArgsNotSerializable(f"{what} holds a NUL character (\\u0000), which PostgreSQL cannot "
                                  "store; nothing was inserted", field=what)
    return text


def _find_bad(value: Any, path: str) -> str:
    """The path of the first value json cannot encode, for the error message."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str | int | float | bool) and k is not None:
                return f"{path} key {k!r}"
            sub = _find_bad(v, f"{path}.{k}")
            if sub != f"{path}.{k}" or not _encodes(v):
                return sub
        return path
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            if not _encodes(v):
                return _find_bad(v, f"{path}[{i}]")
    return path


def _encodes(v: Any) -> bool:
    try:
        json.dumps(v, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def unique_key(unique: Unique, worker: str, queue: str, args: dict[str, Any],
               now: float | None = None) -> str:
    """The key two jobs share exactly when they are duplicates under ``unique``."""
    picked = args if unique.keys is None else {k: args.get(k) for k in unique.keys}
    basis = {"w": worker, "a": picked, "q": queue if unique.by_queue else None}
    digest = hashlib.sha256(_json(basis, "args").encode()).hexdigest()
    if unique.period is None:
        return f"{digest}:*"
    bucket = math.floor((time.time() if now is None else now) / unique.period)
    return f"{digest}:{unique.period:g}:{bucket}"


def build(worker: Any, args: dict[str, Any] | None = None, *, queue: str | None = None,
          priority: int | None = None, schedule_in: float | None = None,
          scheduled_at: datetime | None = None, max_attempts: int | None = None,
          unique: Unique | bool | float | dict[str, Any] | None = None,
          tags: Sequence[str] | None = None, meta: dict[str, Any] | None = None,
          registry: Registry | None = None, now: float | None = None,
          enqueued_by: Principal | None = None, gate: Gate | None = None) -> NewJob:
    """Validate one job against the registry and, given ``enqueued_by``, check that the enqueuer
    may enqueue it (with ``gate``, default the role table in force); raises a typed error,
    touches nothing."""
    reg = registry or default_registry
    name = getattr(worker, "worker_name", worker)
    if not isinstance(name, str):
        raise InvalidJob(f"worker must be a registered name or function, got {worker!r}",
                         field="worker")
    spec = reg.get(name)
    if enqueued_by is not None:
        if not isinstance(enqueued_by, Principal):
            raise InvalidJob("enqueued_by must be a Principal", field="enqueued_by")
        reg.authorize(name, enqueued_by, gate)
    else:
        reg.check_target(name)
        if dispatch.is_service_worker(name):
            raise InvalidJob(f"{name!r} calls a service as its enqueuer: enqueue it with "
                             "enqueued_by=<the caller's Principal>", field="enqueued_by", worker=name)
    args = {} if args is None else args
    if not isinstance(args, dict):
        raise ArgsNotSerializable(f"args must be a JSON object (dict), got {type(args).__name__}",
                                  field="args")
    args_json = _json(args, "args")
    meta_json = _json(meta or {}, "meta")
    queue = check_queue(spec.queue if queue is None else queue)
    prio = check_priority(spec.priority if priority is None else priority)
    attempts = check_attempts(spec.max_attempts if max_attempts is None else max_attempts)
    if schedule_in is not None and scheduled_at is not None:
        raise InvalidJob("give schedule_in or scheduled_at, not both", field="schedule_in")
    when: datetime | None = None
    if schedule_in is not None:
        if not isinstance(schedule_in, int | float) or isinstance(schedule_in, bool) or \
                not 0 <= schedule_in <= MAX_SCHEDULE_IN:
            raise InvalidJob(f"schedule_in must be seconds from 0 to {MAX_SCHEDULE_IN:.0f}, "
                             f"got {schedule_in!r}", field="schedule_in")
        when = datetime.now(UTC) + timedelta(seconds=schedule_in)
    elif scheduled_at is not None:
        if not isinstance(scheduled_at, datetime) or scheduled_at.tzinfo is None:
            raise InvalidJob("scheduled_at must be a timezone-aware datetime", field="scheduled_at")
        when = scheduled_at
    state = JobState.SCHEDULED if when is not None and when > datetime.now(UTC) else JobState.AVAILABLE
    tag_list = tuple(tags if tags is not None else spec.tags)
    if not all(isinstance(t, str) and "\x00" not in t for t in tag_list):
        raise InvalidJob("tags must be strings without NUL characters", field="tags")
    uniq = Unique.coerce(unique) if unique is not None else spec.unique
    key = unique_key(uniq, name, queue, json.loads(args_json), now) if uniq else None
    return NewJob(worker=name, args_json=args_json, queue=queue, priority=prio,
                  max_attempts=attempts, scheduled_at=when, state=state, meta_json=meta_json,
                  tags=tag_list, unique_key=key, unique_states=uniq.states if uniq else None,
                  enqueued_by_json=None if enqueued_by is None else _json(enqueued_by.to_dict(), "enqueued_by"))


async def insert(conn: Any, jobs: Sequence[NewJob]) -> list[Job]:
    """Insert validated jobs in one statement on ``conn`` (a connection or pool); duplicates of
    live unique jobs come back as the existing job with ``conflict=True``."""
    if not jobs:
        return []
    params = (
        [j.state.value for j in jobs], [j.queue for j in jobs], [j.worker for j in jobs],
        [j.args_json for j in jobs], [j.meta_json for j in jobs],
        [json.dumps(list(j.tags)) for j in jobs], [j.priority for j in jobs],
        [j.max_attempts for j in jobs], [j.scheduled_at for j in jobs],
        [j.unique_key for j in jobs],
        [None if j.unique_states is None else "{" + ",".join(s.value for s in j.unique_states) + "}"
         for j in jobs],
        [j.enqueued_by_json for j in jobs],
    )
    rows = await conn.fetch(q("insert_jobs"), *params)
    inserted = [Job.from_record(r) for r in rows]
    wanted = {j.unique_key for j in jobs if j.unique_key is not None}
    missing = wanted - {j.unique_key for j in inserted}
    if not missing:
        return inserted
    existing = {r["unique_key"]: Job.from_record(r, conflict=True)
                for r in await conn.fetch(q("find_unique"), sorted(missing))}
    by_key = {j.unique_key: j for j in inserted if j.unique_key is not None}
    out: list[Job] = [j for j in inserted if j.unique_key is None]
    seen: set[str] = set()
    for j in jobs:
        if j.unique_key is None or j.unique_key in seen:
            continue
        seen.add(j.unique_key)
        hit = by_key.get(j.unique_key) or existing.get(j.unique_key)
        if hit is not None:
            out.append(hit)
        # else: the holder left its unique states between the two statements; the caller may
        # enqueue again (single enqueue does).
    return out


async def enqueue(conn: Any, worker: Any, args: dict[str, Any] | None = None, *,
                  registry: Registry | None = None, **options: Any) -> Job:
    """Insert one job (see :func:`build` for options) on ``conn``; returns it (or the existing
    unique job, ``conflict=True``)."""
    new = build(worker, args, registry=registry, **options)
    for _ in range(3):
        got = await insert(conn, [new])
        if got:
            return got[0]
    raise InvalidJob("unique job kept changing state while enqueueing; try again", field="unique")


async def enqueue_many(conn: Any, jobs: Iterable[dict[str, Any]], *,
                       registry: Registry | None = None, enqueued_by: Principal | None = None,
                       gate: Gate | None = None) -> list[Job]:
    """Insert many jobs in one statement; each item is ``{"worker": ..., "args": ..., **options}``.
    The whole batch is validated (and, given ``enqueued_by``, authorized) first: one bad job
    inserts nothing."""
    built = []
    for i, item in enumerate(jobs):
        item = dict(item)
        try:
            worker = item.pop("worker")
        except KeyError:
            raise InvalidJob(f"job #{i} has no worker", field=f"jobs[{i}].worker") from None
        built.append(build(worker, item.pop("args", None), registry=registry,
                           enqueued_by=enqueued_by, gate=gate, **item))
    return await insert(conn, built)
