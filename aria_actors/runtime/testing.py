"""In-process launcher for the supervisor: services run in this process, calls are pickled.

Used by unit tests and by anything that wants Aria's lifecycle without Ray. A unit can be
"killed" to play a dead actor; calls to it then raise :class:`UnitDied`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import FastAPI, Request

from aria_actors.runtime import caches, console, introspect, logring, reload, tracing
from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import load_service_class
from aria_actors.runtime.service import DOORS, Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, ServiceSpec
from aria_actors.runtime.usage import UsageCounter


class UnitDied(RuntimeError):
    """The in-process unit was killed (the local stand-in for RayActorError)."""


class LocalUnit:
    def __init__(self, service: Service, launcher: LocalLauncher) -> None:
        self.service = service
        self.launcher = launcher
        self.alive = True

    def _check(self) -> None:
        if not self.alive:
            raise UnitDied(f"{self.service.spec.name} is dead")

    async def start(self, dep_names: tuple[str, ...]) -> None:
        self._check()
        clients = {n: self.launcher.client(n) for n in dep_names}
        await self.service.start(Deps(clients, door_of=self.launcher.door))

    async def health(self) -> Health:
        self._check()
        return await self.service.health()

    async def stop(self) -> None:
        self._check()
        await self.service.stop()

    async def kill(self) -> None:
        self.alive = False

    async def placement(self) -> dict[str, Any]:
        return {"node_id": "local", "pid": os.getpid()}

    async def notify(self, dependency: str, up: bool) -> None:
        self._check()
        await self.service.on_dependency_change(dependency, up)


class LocalLauncher:
    """Makes :class:`LocalUnit`s; ``units`` holds the current unit of every service by name."""

    def __init__(self, settings: AriaSettings | None = None,
                 classes: dict[str, type[Service]] | None = None) -> None:
        self.settings = settings or AriaSettings()
        self.classes = classes or {}
        self.units: dict[str, LocalUnit] = {}
        self.launched: list[str] = []
        self.consoles: dict[str, console.Sessions] = {}  # the console door's sessions, per service

    async def launch(self, spec: ServiceSpec) -> LocalUnit:
        cls = self.classes.get(spec.name) or load_service_class(spec)
        unit = LocalUnit(cls(self.settings), self)
        await unit.service.prepare()  # as the Ray launcher does right after creating an actor
        self.units[spec.name] = unit
        self.launched.append(spec.name)
        return unit

    def client(self, name: str) -> _CurrentUnitClient:
        return _CurrentUnitClient(name, self)

    async def door(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        """A shell door of the unit running ``name``, in this process (runtime/introspect.py)."""
        if door not in DOORS:
            raise NotFound(f"no door {door!r}; doors are {sorted(DOORS)}", door=door)
        unit = self.units.get(name)
        if unit is None or not unit.alive:
            raise UnitDied(f"{name} is not running")
        service = unit.service
        if door == "exposition":
            return await service.exposition()
        if door == "inspect":
            got = await introspect.inspect(service, service.health, await unit.placement())
            return {**got, "code": reload.code_digest(reload.package_of(service.spec.entrypoint))}
        if door == "console":  # a unit's sessions are dropped with it, as a process's are
            if name not in self.consoles or self.consoles[name].bindings()["service"] is not service:
                self.consoles[name] = console.for_service(service)
            return await console.door(self.consoles[name], service.settings.debugger.console_enabled, **kwargs)
        if door == "log_level":
            return introspect.set_log_level(**kwargs)
        if door == "caches":  # one process for every unit: the caches registered for this service
            return caches.door(name, **kwargs)
        if door == "usage":  # no shell here: nothing counted the calls
            return UsageCounter().snapshot()
        if door == "spans":  # one process for every unit: its one span ring (runtime/tracing.py)
            return tracing.collect(**kwargs)
        if door == "logs":  # one process for every unit: its one ring, if a test installed one
            return logring.read(**kwargs)
        return await asyncio.wait_for(getattr(introspect, door)(**kwargs), timeout_s)


class _CurrentUnitClient:
    """Calls whatever unit currently runs ``name``, so clients survive restarts like Ray's do."""

    def __init__(self, name: str, launcher: LocalLauncher) -> None:
        self.name = name
        self.launcher = launcher

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        unit = self.launcher.units[self.name]
        unit._check()
        return await LocalClient(unit.service).call(method, *args, **kwargs)


def is_dead(exc: BaseException) -> bool:
    return isinstance(exc, UnitDied)


def api_app(*routers: Any, clients: dict[str, Any], caller: Any = None) -> Any:
    """A FastAPI app with ``routers`` over in-process ``clients``, every request made as ``caller``.

    For router tests without the gateway's bearer check: the caller (default: the local
    operator) is what the gateway would have verified from a token.
    """
    app = FastAPI()
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    app.state.clients = clients
    who = caller or Principal.operator()

    @app.middleware("http")
    async def _as_caller(request: Request, call_next: Any) -> Any:
        request.state.caller = who
        return await call_next(request)

    return app
