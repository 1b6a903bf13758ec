"""Jobs: Oban's state machine, the job record, backoff, and how a job steers its own fate.

State machine (``aria_queue.jobs.state``)::

    enqueue ----------------+---------------------------+
      | (now)               | (schedule_in/scheduled_at) |
      v                     v                            |
    available <--stager-- scheduled <------snooze-----+  |
      |   ^  ^                                        |  |
      |   |  +--stager (backoff due)-- retryable      |  |
      |   |                               ^           |  |
      |   +---lifeline (heartbeat lost,   |raise,     |  |
      |        attempts left)             |attempts   |  |
    fetch (FOR UPDATE SKIP LOCKED)        |left       |  |
      v                                   |           |  |
    executing ----------------------------+-----------+  |
      |  |  |  |                                         |
      |  |  |  +--raise, no attempts left / Discard / lifeline (none left) --> discarded
      |  |  +-----Cancel (from the job) or cancel() by an operator ----------> cancelled
      |  +--------return --------------------------------------------------> completed
      |
    available/scheduled/retryable --cancel()--> cancelled   (operator, before it runs)
    discarded/cancelled/completed/retryable/scheduled --retry()--> available   (operator)
    completed/discarded/cancelled --pruner (older than retention)--> (deleted)

Guarantees and caveats:
- At least once: a job is marked ``executing`` when fetched and finished afterwards; if its node
  dies in between, the lifeline makes it available again, so it may run twice. Handlers must be
  idempotent.
- An attempt is counted when the job is fetched. An orphaned attempt (node died) counts too and is
  recorded in ``errors`` with ``kind: orphaned``, as Oban does.
- Backoff after attempt ``n`` defaults to ``15 + 2**n`` seconds plus up to 10 % jitter; a worker
  overrides it with ``backoff=``.
- Snoozing does not spend an attempt (``max_attempts`` grows by one, as in Oban).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aria_actors.runtime.principal import Principal


class JobState(StrEnum):
    AVAILABLE = "available"
    SCHEDULED = "scheduled"
    EXECUTING = "executing"
    RETRYABLE = "retryable"
    COMPLETED = "completed"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"


FINISHED = (JobState.COMPLETED, JobState.DISCARDED, JobState.CANCELLED)
# Oban's default: a unique job blocks a duplicate while it is in any of these states.
DEFAULT_UNIQUE_STATES = (JobState.AVAILABLE, JobState.SCHEDULED, JobState.EXECUTING,
                         JobState.RETRYABLE, JobState.COMPLETED)


def default_backoff(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``15 + 2**attempt`` + jitter."""
    base = 15 + 2 ** min(attempt, 20)
    return base + (rng or random).uniform(0, 0.1 * base)


def owner_resource(enqueued_by: dict[str, Any] | None) -> dict[str, Any]:
    """A job as an RBAC resource (``owner``, ``tenant``), from its recorded enqueuer. A job with
    none is owned by nobody and tenant-less: only @tenant and @any rights reach it."""
    by = enqueued_by or {}
    return {"owner": by.get("subject"), "tenant": by.get("tenant")}


@dataclass(slots=True)
class Job:
    """One job as a handler and an operator see it."""

    id: int
    worker: str
    args: dict[str, Any]
    queue: str = "default"
    state: JobState = JobState.AVAILABLE
    priority: int = 0
    attempt: int = 0
    max_attempts: int = 20
    meta: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    inserted_at: datetime | None = None
    scheduled_at: datetime | None = None
    attempted_at: datetime | None = None
    completed_at: datetime | None = None
    discarded_at: datetime | None = None
    cancelled_at: datetime | None = None
    attempted_by: list[str] | None = None
    unique_key: str | None = None
    # The principal that enqueued the job (``Principal.to_dict()``), as the producer recorded it
    # from the verified caller; the job runs as it. None: enqueued by trusted in-process code
    # without one (such a job cannot call another service).
    enqueued_by: dict[str, Any] | None = None
    # True when enqueue found an existing unique job instead of inserting this one.
    conflict: bool = False

    @classmethod
    def from_record(cls, row: Any, *, conflict: bool = False) -> Job:
        """Build from an asyncpg record (jsonb columns arrive as text)."""
        d = dict(row)

        def js(key: str, default: Any) -> Any:
            v = d.get(key)
            return default if v is None else (json.loads(v) if isinstance(v, str) else v)

        return cls(
            id=d["id"], worker=d["worker"], args=js("args", {}), queue=d.get("queue", "default"),
            state=JobState(d.get("state", "executing")), priority=d.get("priority", 0),
            attempt=d.get("attempt", 0), max_attempts=d.get("max_attempts", 20),
            meta=js("meta", {}), tags=list(d.get("tags") or []), errors=js("errors", []),
            result=js("result", None), inserted_at=d.get("inserted_at"),
            scheduled_at=d.get("scheduled_at"), attempted_at=d.get("attempted_at"),
            completed_at=d.get("completed_at"), discarded_at=d.get("discarded_at"),
            cancelled_at=d.get("cancelled_at"),
            attempted_by=list(d["attempted_by"]) if d.get("attempted_by") else None,
            unique_key=d.get("unique_key"), enqueued_by=js("enqueued_by", None), conflict=conflict,
        )

    @property
    def caller(self) -> Principal | None:
        """Who the job runs as: its enqueuer. A worker calling another service passes this on."""
        return Principal.from_dict(self.enqueued_by) if self.enqueued_by else None

    def owner(self) -> dict[str, Any]:
        """The job as an RBAC resource: owned by its enqueuer, in the enqueuer's tenant."""
        return owner_resource(self.enqueued_by)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            v = getattr(self, name)
            out[name] = v.isoformat() if isinstance(v, datetime) else (
                v.value if isinstance(v, JobState) else v)
        if self.enqueued_by:  # the session id of a user's token is not for whoever reads the job
            out["enqueued_by"] = {k: v for k, v in self.enqueued_by.items() if k != "session"}
        return out

    def redacted(self) -> dict[str, Any]:
        """What a caller who may not read this job learns of it (a unique job it collided with)."""
        return {"id": self.id, "worker": self.worker, "queue": self.queue, "state": self.state.value,
                "conflict": self.conflict, "redacted": True}


class JobControl(Exception):
    """Raised inside a job to end the attempt in a chosen way rather than as a failure."""


class Snooze(JobControl):
    """End this attempt and run the job again in ``seconds``, without spending an attempt."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("snooze seconds must be >= 0")
        super().__init__(f"snoozed for {seconds}s")
        self.seconds = float(seconds)


class Cancel(JobControl):
    """Stop the job for good: it ends ``cancelled`` with ``reason`` kept in its errors."""

    def __init__(self, reason: str = "cancelled by the job") -> None:
        super().__init__(reason)
        self.reason = reason


class Discard(JobControl):
    """Give up on the job now: it ends ``discarded`` with ``reason`` kept in its errors."""

    def __init__(self, reason: str = "discarded by the job") -> None:
        super().__init__(reason)
        self.reason = reason
