"""The topics of the real-time channel, and where each one's data comes from.

::

    services            the directory's status (GET /v1/services; public)        every 0.25-1 s
    workflow:<run_id>   aria_workflow history(run_id): new timeline events       every 0.25-1 s
    job:<id>            aria_queue get_job(id): state/attempt changes            every 0.25-1 s
    character:<id>      aria_shape character_history(id): new versions           every 0.5-2 s

Each source reads through the gateway's service clients (``app.state.clients``: the breakers,
the timeouts) *as a subscriber*, so the service decides who may read, exactly as for the same
REST call (``GET /v1/workflow/runs/{id}/history`` ...): a run, job or character the caller may not
read is refused (403/404) at subscribe. The service directory is public on the gateway
(``GET /v1/services``), so ``services`` only needs an authenticated connection.

Guarantees and caveats
----------------------
- ``update`` is pure (state in, events out) and keeps only what it needs to tell the next
  change: the fingerprints of the timeline events seen, the last job state, the newest version.
- ``services`` sends changes only (a service's status or restart count); the snapshot has all.
- A workflow timeline event is told once, by ``(at, kind, key)``; the history call returns at
  most its newest 5000 events, so a run with more tells only those.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aria_actors.interface.errors import InvalidTopic, UnknownTopic
from aria_actors.interface.hub import Source
from aria_actors.queue.client import QueueClient
from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.service import ServiceClient
from aria_actors.shape.client import ShapeClient
from aria_actors.workflow.client import WorkflowClient

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
JOB_ID = re.compile(r"[1-9][0-9]{0,18}")
SNAPSHOT_EVENTS = 200  # the newest timeline events a workflow snapshot carries
DIRECTORY_TIMEOUT_S = 5.0
JOB_FIELDS = ("id", "worker", "queue", "state", "attempt", "max_attempts", "priority", "scheduled_at",
              "attempted_at", "completed_at", "discarded_at", "cancelled_at")


@dataclass(frozen=True, slots=True)
class Context:
    """What sources read through: the gateway's transports and its service directory."""

    clients: Callable[[str], ServiceClient]  # service name -> transport (raises 503 if unreachable)
    directory: Any = None                    # has ``async status()`` (the boot actor's view)


# -- sources ---------------------------------------------------------------------------------------
class ServicesSource:
    """``services``: every service's status and restart count; events are the changes."""

    min_interval_s = 0.25
    max_interval_s = 1.0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._phase: str | None = None
        self._last: dict[str, dict[str, Any]] = {}

    async def authorize(self, caller: Principal) -> None:
        return None  # public on the gateway (GET /v1/services): an authenticated connection suffices

    async def read(self, caller: Principal) -> Any:
        if self.ctx.directory is None:
            raise ServiceUnavailable("this gateway has no service directory", service="aria_coordinate")
        async with asyncio.timeout(DIRECTORY_TIMEOUT_S):
            return await self.ctx.directory.status()

    def update(self, state: Any) -> list[dict[str, Any]]:
        now = {s["name"]: {"status": s.get("status"), "restarts": s.get("restarts", 0),
                           "message": s.get("message", "")}
               for s in state.get("services", ()) if isinstance(s, dict) and "name" in s}
        first = self._phase is None and not self._last
        events = []
        if not first:
            for name in sorted(now.keys() | self._last.keys()):
                was, is_ = self._last.get(name) or {}, now.get(name) or {}
                if _key(was) != _key(is_):
                    events.append({"service": name, "status": is_.get("status"), "restarts": is_.get("restarts"),
                                   "message": is_.get("message", ""),
                                   "was": {"status": was.get("status"), "restarts": was.get("restarts")},
                                   "phase": state.get("phase")})
        self._phase, self._last = state.get("phase") or "", now
        return events

    def snapshot(self) -> Any:
        return {"phase": self._phase, "services": self._last}


def _key(entry: dict[str, Any]) -> tuple[Any, Any]:
    return entry.get("status"), entry.get("restarts")


class WorkflowSource:
    """``workflow:<run_id>``: the run's timeline events not told yet, and its state."""

    min_interval_s = 0.25
    max_interval_s = 1.0

    def __init__(self, ctx: Context, run_id: str) -> None:
        self.run_id = run_id.lower()
        self.client = bind(WorkflowClient, ctx.clients("aria_workflow"))
        self._seen: set[tuple[str, str, str]] = set()
        self._state: str | None = None
        self._last: dict[str, Any] = {}

    async def authorize(self, caller: Principal) -> None:
        await self.client.history(caller, self.run_id)

    async def read(self, caller: Principal) -> Any:
        return await self.client.history(caller, self.run_id)

    def update(self, state: Any) -> list[dict[str, Any]]:
        first = self._state is None
        events = []
        for event in state.get("events", ()):
            mark = (str(event.get("at")), str(event.get("kind")), str(event.get("key")))
            if mark in self._seen:
                continue
            self._seen.add(mark)
            if not first:
                events.append({"run_id": self.run_id, "state": state.get("state"), "event": event})
        if not first and not events and state.get("state") != self._state:
            events.append({"run_id": self.run_id, "state": state.get("state"), "event": None})
        self._state, self._last = state.get("state"), state
        return events

    def snapshot(self) -> Any:
        events = list(self._last.get("events", ()))
        return {"run_id": self.run_id, "name": self._last.get("name"), "state": self._state,
                "events_total": self._last.get("events_total", len(events)), "events": events[-SNAPSHOT_EVENTS:]}


class JobSource:
    """``job:<id>``: the job's state and attempt, told when either changes."""

    min_interval_s = 0.25
    max_interval_s = 1.0

    def __init__(self, ctx: Context, job_id: int) -> None:
        self.job_id = job_id
        self.client = bind(QueueClient, ctx.clients("aria_queue"))
        self._job: dict[str, Any] | None = None

    async def authorize(self, caller: Principal) -> None:
        await self.client.get_job(caller, self.job_id)

    async def read(self, caller: Principal) -> Any:
        return await self.client.get_job(caller, self.job_id)

    @staticmethod
    def _summary(job: dict[str, Any]) -> dict[str, Any]:
        out = {k: job.get(k) for k in JOB_FIELDS}
        errors = job.get("errors") or []
        out["error"] = errors[-1] if errors else None
        out["result"] = job.get("result") if job.get("state") == "completed" else None
        return out

    def update(self, state: Any) -> list[dict[str, Any]]:
        was, self._job = self._job, self._summary(state)
        if was is None or (was["state"], was["attempt"]) == (self._job["state"], self._job["attempt"]):
            return []
        return [{**self._job, "was": {"state": was["state"], "attempt": was["attempt"]}}]

    def snapshot(self) -> Any:
        return self._job


class CharacterSource:
    """``character:<id>``: each new version of the character, with its change."""

    min_interval_s = 0.5
    max_interval_s = 2.0

    def __init__(self, ctx: Context, character_id: str) -> None:
        self.character_id = character_id.lower()
        self.client = bind(ShapeClient, ctx.clients("aria_shape"))
        self._latest: dict[str, Any] | None = None
        self._count = 0

    async def authorize(self, caller: Principal) -> None:
        await self.client.character_history(caller, self.character_id)

    async def read(self, caller: Principal) -> Any:
        return await self.client.character_history(caller, self.character_id)

    def update(self, state: Any) -> list[dict[str, Any]]:
        versions = sorted((v for v in state if isinstance(v, dict)), key=lambda v: v.get("version") or 0)
        newest = self._latest["version"] if self._latest else None
        events = [] if newest is None else [{"character_id": self.character_id, **v} for v in versions
                                            if (v.get("version") or 0) > newest]
        if versions:
            self._latest, self._count = versions[-1], len(versions)
        return events

    def snapshot(self) -> Any:
        latest = self._latest or {}
        return {"character_id": self.character_id, "version": latest.get("version"),
                "character": latest.get("character"), "created_at": latest.get("created_at"),
                "versions": self._count}


# -- the catalogue ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TopicKind:
    name: str                     # "workflow"
    pattern: str                  # "workflow:<run_id>"
    arg: re.Pattern[str] | None   # the argument's pattern; None: the topic takes none
    description: str
    authorization: str
    event: dict[str, Any]
    snapshot: dict[str, Any]
    make: Callable[[Context, str], Source]

    def describe(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "description": self.description, "authorization": self.authorization,
                "event": self.event, "snapshot": self.snapshot}


KINDS: dict[str, TopicKind] = {k.name: k for k in (
    TopicKind(
        "services", "services", None,
        "Every service's status and restart count: an event per service whose status or restarts changed.",
        "any authenticated caller (the directory is public: GET /v1/services)",
        {"service": "aria_storage", "status": "ready|degraded|failed|...", "restarts": 0, "message": "str",
         "was": {"status": "str|null", "restarts": "int|null"}, "phase": "str"},
        {"phase": "str", "services": {"<name>": {"status": "str", "restarts": "int", "message": "str"}}},
        lambda ctx, _arg: ServicesSource(ctx)),
    TopicKind(
        "workflow", "workflow:<run_id>", UUID,
        "A workflow run's timeline: each new event (step started/completed/failed, retry, signal, control) "
        "as it is recorded, with the run's state.",
        "workflow:run:read (own runs; @tenant/@any for others'), as GET /v1/workflow/runs/{run_id}/history",
        {"run_id": "uuid", "state": "str", "event": {"at": "datetime", "kind": "str", "key": "str|null",
                                                     "detail": "object"}},
        {"run_id": "uuid", "name": "str", "state": "str", "events_total": "int",
         "events": f"the newest {SNAPSHOT_EVENTS} events"},
        lambda ctx, arg: WorkflowSource(ctx, arg)),
    TopicKind(
        "job", "job:<id>", JOB_ID,
        "A queue job's progress: an event when its state or attempt changes.",
        "queue:job:read (own jobs; @tenant/@any for others'), as GET /v1/queue/jobs/{id}",
        {**{k: "..." for k in JOB_FIELDS}, "error": "the last attempt's error|null",
         "result": "the result once completed|null", "was": {"state": "str", "attempt": "int"}},
        {**{k: "..." for k in JOB_FIELDS}, "error": "object|null", "result": "any"},
        lambda ctx, arg: JobSource(ctx, int(arg))),
    TopicKind(
        "character", "character:<id>", UUID,
        "A character's changes: an event per new version (evolution), with the change and the character.",
        "shape:character:read, as GET /v1/shape/characters/{id}/versions",
        {"character_id": "uuid", "version": "int", "change": "object", "character": "object",
         "created_at": "datetime"},
        {"character_id": "uuid", "version": "int", "character": "object", "created_at": "datetime",
         "versions": "int"},
        lambda ctx, arg: CharacterSource(ctx, arg)),
)}


def parse_topic(topic: str) -> tuple[TopicKind, str]:
    """The kind of ``topic`` and its argument (the canonical topic is ``kind:arg``); typed errors."""
    name, sep, arg = topic.partition(":")
    kind = KINDS.get(name)
    if kind is None:
        raise UnknownTopic(f"unknown topic {topic[:80]!r}: one of " + ", ".join(k.pattern for k in KINDS.values()),
                           topic=topic[:80])
    if kind.arg is None:
        if sep:
            raise InvalidTopic(f"topic {name!r} takes no argument", topic=topic[:80])
        return kind, ""
    if not sep or not kind.arg.fullmatch(arg):
        raise InvalidTopic(f"topic must be {kind.pattern} ({kind.description.split(':')[0].lower()}); "
                           f"got {topic[:80]!r}", topic=topic[:80])
    return kind, arg.lower()


def canonical(topic: str) -> str:
    """One spelling per topic (ids lower-case), so one channel serves every subscriber of it."""
    kind, arg = parse_topic(topic)
    return f"{kind.name}:{arg}" if kind.arg is not None else kind.name


def source_for(topic: str, ctx: Context) -> Callable[[], Source]:
    kind, arg = parse_topic(topic)
    return lambda: kind.make(ctx, arg)


def catalogue() -> list[dict[str, Any]]:
    return [k.describe() for k in KINDS.values()]
