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
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.queue import dispatch
from aria_actors.queue.errors import InvalidJob, UnknownWorker
from aria_actors.queue.jobs import DEFAULT_UNIQUE_STATES, JobState, default_backoff

Backoff = Callable[[int], float]
MAX_PRIORITY = 9


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
    if not isinstance(queue, str) or not 1 <= len(queue) <= 128:
        raise InvalidJob(f"queue must be a name of 1-128 characters, got {queue!r}",
                         field="queue", value=repr(queue))
    return queue


class Registry:
    """Worker specs by name, plus ``service:<name>.<method>`` workers that call another service
    (see :mod:`aria_actors.queue.dispatch`).

    ``services``: the service names such jobs may target (default: the runtime registry's);
    ``service_client``: how a running job reaches a service (default: the runtime's Ray client).
    """

    def __init__(self, services: set[str] | None = None,
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

    def check_target(self, name: str) -> None:
        """At enqueue: a service worker must target a known service."""
        if dispatch.is_service_worker(name):
            service, _ = dispatch.parse(name)
            known = self.services if self.services is not None else dispatch.registered_services()
            if service not in known:
                raise UnknownWorker(f"no service named {service!r} to run {name!r}", worker=name)

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
               tags: tuple[str, ...] = ()) -> Any:
        """Decorator registering ``fn`` as a worker; usable bare or with options."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            if timeout is not None and timeout <= 0:
                raise InvalidJob("timeout must be > 0 seconds", field="timeout", value=timeout)
            spec = WorkerSpec(
                name=name or f"{f.__module__}:{f.__qualname__}", fn=f, queue=check_queue(queue),
                max_attempts=check_attempts(max_attempts), priority=check_priority(priority),
                timeout=timeout, backoff=backoff or default_backoff, unique=Unique.coerce(unique),
                tags=tuple(tags), is_async=inspect.iscoroutinefunction(f))
            self.add(spec)
            f.worker_name = spec.name  # type: ignore[attr-defined]
            return f

        return register(fn) if fn is not None else register


default_registry = Registry()


def worker(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``@worker`` / ``@worker(queue=..., max_attempts=..., timeout=..., backoff=..., unique=...)``
    on the process-wide default registry."""
    return default_registry.worker(fn, **options)
