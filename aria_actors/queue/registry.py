"""Worker functions and where they are registered: ``@worker(queue=..., max_attempts=...)``.

A worker is a function ``fn(job: Job) -> Any`` (async or plain). Its return value is stored as
the job's ``result`` (it must be JSON-serialisable); raising fails the attempt; raising
:class:`~aria_actors.queue.jobs.Snooze`, :class:`~aria_actors.queue.jobs.Cancel` or
:class:`~aria_actors.queue.jobs.Discard` ends it in that way.

Guarantees and caveats:
- Names are stable strings (default ``module:qualname``); jobs store the name, so renaming a
  function strands its queued jobs unless ``name=`` keeps the old one.
- An executor only runs workers registered in its process: the module defining them must be
  imported there (Ray worker actors take ``worker_modules=`` for that).
- ``timeout`` cancels an async worker; a plain function runs in a thread, which Python cannot
  stop, so after a timeout the attempt fails but the thread runs on to its end.
- Registries are objects; the decorator uses the process-wide default one unless given another.
- Who may enqueue a worker is declared with it: ``@worker(permission="shape:model:train")`` (the
  RBAC action the enqueuer needs, at ``scope`` "tenant" by default, or "own"/"any"). A worker that
  declares none may only be enqueued by holders of ``queue:worker:run@any`` (operators, admins,
  services acting for themselves): deny by default. ``service:`` workers take the permission of
  the method they call (see :mod:`aria_actors.queue.dispatch`). The check runs at enqueue, as
  the enqueuer, whose principal the job records and runs as.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from aria_actors.queue import dispatch
from aria_actors.queue.errors import InvalidJob, UnknownWorker
from aria_actors.queue.jobs import DEFAULT_UNIQUE_STATES, JobState, default_backoff
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, RpcSpec, Scope, default_gate

Backoff = Callable[[int], float]
MAX_PRIORITY = 9
# Enqueueing a worker that declares no permission: operators' and admins' right, nobody else's.
WORKER_RUN = "queue:worker:run"
_ACTION = re.compile(r"^[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Unique:
    """Uniqueness of a job: by worker, queue and args (or only ``keys`` of args), for
    ``period`` seconds (``None``: for ever), while a holder is in one of ``states``."""

    period: float | None = 60.0
    keys: tuple[str, ...] | None = None
    states: tuple[JobState, ...] = DEFAULT_UNIQUE_STATES
    by_queue: bool = True

    def __post_init__(self) -> None:
        if self.period is not None and self.period <= 0:
            raise InvalidJob("unique period must be > 0 seconds (or None for ever)",
                             field="unique.period", value=self.period)
        if not self.states:
            raise InvalidJob("unique states must not be empty", field="unique.states")
        object.__setattr__(self, "states", tuple(JobState(s) for s in self.states))

    @classmethod
    def coerce(cls, value: Unique | bool | float | dict[str, Any] | None) -> Unique | None:
        """``True`` -> 60 s; a number -> that period; a dict -> Unique(**dict)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, Unique):
            return value
        if isinstance(value, int | float):
            return cls(period=float(value))
        if isinstance(value, dict):
            d = dict(value)
            if "keys" in d and d["keys"] is not None:
                d["keys"] = tuple(d["keys"])
            if "states" in d:
                d["states"] = tuple(d["states"])
            try:
                return cls(**d)
            except TypeError as exc:
                raise InvalidJob(f"bad unique options: {exc}", field="unique") from None
        raise InvalidJob(f"unique must be bool, seconds, dict or Unique, not {type(value).__name__}",
                         field="unique")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    name: str
    fn: Callable[..., Any]
    queue: str = "default"
    max_attempts: int = 20
    priority: int = 0
    timeout: float | None = None
    backoff: Backoff = default_backoff
    unique: Unique | None = None
    tags: tuple[str, ...] = ()
    is_async: bool = field(default=False)
    # The RBAC action an enqueuer needs, and the scope that grants it (None: queue:worker:run@any).
    permission: str | None = None
    scope: Scope = "tenant"


def check_priority(priority: Any) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidJob(f"priority must be an integer 0-{MAX_PRIORITY}, got {priority!r}",
                         field="priority", value=repr(priority))
    return priority


def check_attempts(max_attempts: Any) -> int:
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidJob(f"max_attempts must be an integer >= 1, got {max_attempts!r}",
                         field="max_attempts", value=repr(max_attempts))
    return max_attempts


def check_queue(queue: Any) -> str:
    if not isinstance(queue, str) or not 1 <= len(queue) <= 128 or _CONTROL.search(queue):
        raise InvalidJob(f"queue must be a name of 1-128 printable characters, got {queue!r}",
                         field="queue", value=repr(queue)[:140])
    return queue


def check_permission(permission: Any, scope: Any) -> None:
    if permission is not None and (not isinstance(permission, str) or not _ACTION.match(permission)):
        raise InvalidJob(f"permission must be service:resource:verb, got {permission!r}",
                         field="permission")
    if scope not in get_args(Scope):
        raise InvalidJob(f"scope must be one of {get_args(Scope)}, got {scope!r}", field="scope")


class Registry:
    """Worker specs by name, plus ``service:<name>.<method>`` workers that call another service
    (see :mod:`aria_actors.queue.dispatch`).

    ``services``: the service classes such jobs may target, by service name (default: the
    runtime registry's); ``service_client``: how a running job reaches a service (default: the
    runtime's Ray transport).
    """

    def __init__(self, services: Mapping[str, type] | None = None,
                 service_client: Callable[[str], Any] | None = None) -> None:
        self._specs: dict[str, WorkerSpec] = {}
        self.services = services
        self.service_client = service_client

    def add(self, spec: WorkerSpec) -> WorkerSpec:
        old = self._specs.get(spec.name)
        if old is not None and old.fn is not spec.fn and (
                old.fn.__module__, old.fn.__qualname__) != (spec.fn.__module__, spec.fn.__qualname__):
            raise InvalidJob(f"worker name {spec.name!r} is already taken by {old.fn.__qualname__}",
                             field="name", value=spec.name)
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> WorkerSpec:
        if dispatch.is_service_worker(name):
            service, method = dispatch.parse(name)
            return WorkerSpec(name=name, is_async=True, fn=functools.partial(
                dispatch.call_service, self.service_client or dispatch.ray_client, service, method))
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownWorker(
                f"no worker is registered as {name!r}; known: {sorted(self._specs)[:20]}",
                worker=name) from None

    def check_target(self, name: str) -> RpcSpec:
        """What enqueueing worker ``name`` needs: a service method's declaration (it must exist
        and be callable by jobs), or the worker's own permission (default queue:worker:run@any)."""
        if dispatch.is_service_worker(name):
            service, method = dispatch.parse(name)
            return dispatch.target_spec(service, method, self.services)
        spec = self.get(name)
        if spec.permission is None:
            return RpcSpec(name, WORKER_RUN, scope="any", job=True)
        return RpcSpec(name, spec.permission, scope=spec.scope, job=True)

    def authorize(self, name: str, enqueuer: Principal, gate: Gate | None = None) -> None:
        """Raise 401/403 unless ``enqueuer`` may enqueue worker ``name`` (the job runs as it)."""
        needed = self.check_target(name)
        try:
            (gate or default_gate()).check(needed, enqueuer)
        except Forbidden as exc:
            raise Forbidden(f"{enqueuer.subject!r} may not enqueue {name!r}: the job would run as "
                            f"its enqueuer, who needs {needed.describe()}",
                            action=exc.fields.get("action", needed.permission), worker=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

    def queues(self) -> set[str]:
        """Queues the registered workers enqueue to by default."""
        return {spec.queue for spec in self._specs.values()}

    def worker(self, fn: Callable[..., Any] | None = None, *, name: str | None = None,
               queue: str = "default", max_attempts: int = 20, priority: int = 0,
               timeout: float | None = None, backoff: Backoff | None = None,
               unique: Unique | bool | float | dict[str, Any] | None = None,
               tags: tuple[str, ...] = (), permission: str | None = None,
               scope: Scope = "tenant") -> Any:
        """Decorator registering ``fn`` as a worker; usable bare or with options.

        ``permission``/``scope``: what an enqueuer needs (see the module docstring)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            if timeout is not None and timeout <= 0:
                raise InvalidJob("timeout must be > 0 seconds", field="timeout", value=timeout)
            check_permission(permission, scope)
            spec = WorkerSpec(
                name=name or f"{f.__module__}:{f.__qualname__}", fn=f, queue=check_queue(queue),
                max_attempts=check_attempts(max_attempts), priority=check_priority(priority),
                timeout=timeout, backoff=backoff or default_backoff, unique=Unique.coerce(unique),
                tags=tuple(tags), is_async=inspect.iscoroutinefunction(f), permission=permission,
                scope=scope)
            self.add(spec)
            f.worker_name = spec.name  # type: ignore[attr-defined]
            return f

        return register(fn) if fn is not None else register


default_registry = Registry()


def worker(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``@worker`` / ``@worker(queue=..., max_attempts=..., timeout=..., backoff=..., unique=...,
    permission=...)`` on the process-wide default registry."""
    return default_registry.worker(fn, **options)
