"""An in-process :class:`ServiceDirectory` over a real supervisor, for tests and local tools."""

from __future__ import annotations

from typing import Any

from aria_actors.coordinate.breaker import CircuitBreaker
from aria_actors.coordinate.directory import GuardedClient
from aria_actors.runtime.supervisor import Supervisor
from aria_actors.runtime.testing import LocalLauncher


class LocalDirectory:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        assert isinstance(supervisor.launcher, LocalLauncher)
        self.launcher: LocalLauncher = supervisor.launcher
        self.breakers: dict[str, CircuitBreaker] = {}

    async def status(self) -> dict[str, Any]:
        return self.supervisor.status()

    async def service(self, name: str) -> dict[str, Any]:
        return self.supervisor.service(name)

    def client(self, name: str) -> GuardedClient | None:
        if name not in self.launcher.units:
            return None
        breaker = self.breakers.setdefault(name, CircuitBreaker(name))
        return GuardedClient(self.launcher.client(name), breaker)
