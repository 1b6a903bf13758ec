"""The one shape every Aria service has: a Ray-free class with start, health and stop.

`runtime.shell` wraps a :class:`Service` in a Ray actor or a Serve deployment; the service itself
never imports ray. :class:`Deps` hands a service clients of the services it depends on, and
nothing else, so the dependency graph in the specs is the only way services reach each other.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from aria_actors.runtime.errors import NotFound, ServiceUnavailable
from aria_actors.runtime.rpc import bind, service_of
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, ServiceSpec, Status

P = TypeVar("P")
# The shell's caller-less doors one service may open on another (Deps.door): the metrics text
# (aria_monitor), the usage counts (aria_monitor's alone), and the debugger's CPU profile, memory
# snapshot, runtime state and log level, and its recent log records (logs: runtime/logring.py).
DOORS = frozenset({"exposition", "profile", "memory", "inspect", "log_level", "usage", "logs",
                   "console",  # console: the debugger's REPL (runtime/console.py)
                   "spans",  # spans: the finished spans of its tracing ring (runtime/tracing.py)
                   "caches"})  # caches: its caches' counters and sampled traces, aria_tune's (runtime/caches.py)


class ServiceClient(Protocol):
    """The transport to one service: ``await client.call("method", caller, *args)``.

    Only :mod:`aria_actors.runtime` names methods as strings; everything else calls a typed
    client (``deps.of(StorageClient).put(caller, ...)``, see :func:`aria_actors.runtime.rpc.bind`).
    """

    name: str

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any: ...


class Deps:
    """Clients of a service's declared dependencies, by service name."""

    def __init__(self, clients: Mapping[str, ServiceClient] | None = None, *,
                 exposition_of: Callable[[str, float], Awaitable[str]] | None = None,
                 door_of: Callable[..., Awaitable[Any]] | None = None,
                 supervisor_of: Callable[..., Awaitable[Any]] | None = None,
                 pushed_metrics: Callable[[list[bytes]], Awaitable[dict[bytes, bytes]]] | None = None) -> None:
        self._clients = dict(clients or {})
        self._pushed_metrics = pushed_metrics
        self._exposition_of = exposition_of
        self._door_of = door_of
        self._supervisor_of = supervisor_of

    async def supervisor(self, op: str, timeout_s: float, **kwargs: Any) -> Any:
        """Ask the boot actor's supervisor for ``op`` (runtime/reload.py: ``status``, or ``restart``
        with ``name``); the shell lets only aria_debugger (its hot reload and dependency graph)."""
        if self._supervisor_of is None:
            raise ServiceUnavailable("no supervisor in this runtime")
        return await self._supervisor_of(op, timeout_s, **kwargs)

    async def pushed_metrics(self, forget: list[bytes] | None = None) -> dict[bytes, bytes]:
        """Every process's pushed metrics, by key (runtime/metrics_push.py), after deleting the keys
        in ``forget``; empty where the runtime has no store (a test without Ray)."""
        if self._pushed_metrics is None:
            return {}
        return await self._pushed_metrics(list(forget or ()))

    async def door(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        """Open door ``door`` of any service's shell by name: not an RPC (no caller), so only the
        names of :data:`DOORS` exist, and the shell decides which services may open which (the
        metrics door: any; the debugger's: aria_debugger). ``kwargs`` are the door's arguments."""
        if door not in DOORS:
            raise NotFound(f"no door {door!r}; doors are {sorted(DOORS)}", door=door)
        if self._door_of is not None:
            return await self._door_of(name, door, timeout_s, **kwargs)
        if door == "exposition" and self._exposition_of is not None:
            return await self._exposition_of(name, timeout_s)
        raise ServiceUnavailable(f"no {door} door in this runtime", service=name)

    async def exposition_of(self, name: str, timeout_s: float) -> str:
        """Any service's Prometheus text by name, read through its shell's metrics door (not an RPC:
        no caller, counters only). aria_monitor's collector is the one reader."""
        return await self.door(name, "exposition", timeout_s)

    def __getitem__(self, name: str) -> ServiceClient:
        try:
            return self._clients[name]
        except KeyError:
            raise NotFound(
                f"{name!r} is not a declared dependency; add it to the service's depends_on",
                service=name,
            ) from None

    def of(self, proto: type[P]) -> P:
        """The typed client ``proto`` of a declared dependency."""
        return bind(proto, self[service_of(proto)])

    def get(self, name: str) -> ServiceClient | None:
        return self._clients.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._clients)


class Service(abc.ABC):
    """Base of all fourteen services. Subclasses set ``SPEC`` and implement the lifecycle."""

    SPEC: ClassVar[ServiceSpec]
    # True when exposition() needs I/O (the database, other actors): a metrics push then reuses
    # its text up to [monitor] own_series_max_age_s (runtime/metrics_push.py); the door never does
    EXPOSITION_IO: ClassVar[bool] = False

    def __init__(self, settings: AriaSettings) -> None:
        self.settings = settings
        self.deps = Deps()

    @property
    def spec(self) -> ServiceSpec:
        return self.SPEC

    async def prepare(self) -> None:
        """Begin warm-up that needs no dependency (load a model) as soon as the unit exists.

        Called once when the unit is launched, while the layers below still boot, so slow
        dependency-free work is off the boot's critical path. It must return quickly (start a
        background task) and never fail; ``start`` must not assume it has finished.
        """

    async def start(self, deps: Deps) -> None:
        """Open pools and stores; raise to fail the boot (the error text is kept)."""
        self.deps = deps

    @abc.abstractmethod
    async def health(self) -> Health:
        """A real probe of what the service holds open: never a constant."""

    async def exposition(self) -> str:
        """The service's own Prometheus series as exposition text (its jobs, chunks, plans…), added
        by its shell after the RPC and process series every service has. Family names must not
        repeat the shell's (``aria_rpc_*``, ``process_*``)."""
        return ""

    async def stop(self) -> None:
        """Close everything start() opened. Must be safe to call twice."""

    async def on_dependency_change(self, name: str, up: bool) -> None:
        """Told by the boot actor when a dependency goes down (up=False) or comes back."""


class UnbuiltService(Service):
    """A service whose features are not built yet: it runs and answers health honestly.

    It reports ``not_implemented`` with the seed features it still lacks, never ``ready``.
    """

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self._started = False

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        missing = list(self.spec.missing)
        return Health(
            Status.NOT_IMPLEMENTED,
            f"{len(missing)} of {len(self.spec.features)} seed features not built yet",
            {"missing": missing, "capabilities": list(self.spec.capabilities),
             "dependencies": list(self.deps.names)},
        )

    async def stop(self) -> None:
        self._started = False
