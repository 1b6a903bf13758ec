"""Typed client of aria_debugger: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(DebuggerClient)``, ``Depends(service_client(DebuggerClient))`` or
``bind(DebuggerClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py debugger
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_debugger")
class DebuggerClient:
    @rpc("debugger:config:read", scope="any", feature="config-interface")
    async def config(self, caller: Principal, service: str | None = None) -> dict[str, Any]:
        """Every service's settings section (or ``service``'s), masked, each value with its source and..."""

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_close(self, caller: Principal, session: str) -> dict[str, Any]:
        """Close a console session (its namespace is dropped in the target's process); audited."""

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_open(self, caller: Principal, service: str) -> dict[str, Any]:
        """Open a debug console session in a service's process (its namespace holds ``service``,..."""

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_run(self, caller: Principal, session: str, source: str) -> dict[str, Any]:
        """Run Python source (a line or a block) in a console session's process, with..."""

    @rpc("debugger:graph:read", scope="any", feature="dependency-graph")
    async def graph(self, caller: Principal) -> dict[str, Any]:
        """The live service dependency graph: every service (status, pid, node, layer) and each..."""

    @rpc("debugger:state:read", scope="any", feature="inspection")
    async def inspect(self, caller: Principal, service: str) -> dict[str, Any]:
        """A service process's runtime state: pid, node, Python, uptime, threads, asyncio tasks, RSS,..."""

    @rpc("debugger:logs:read", scope="any", feature="log-search")
    async def logs(
        self,
        caller: Principal,
        q: str | None = None,
        service: str | None = None,
        level: str | None = None,
        trace_id: str | None = None,
        since: str | float | None = None,
        until: str | float | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """The newest log records of every service matching words ``q`` (websearch syntax), a service,..."""

    @rpc("debugger:profile:run", scope="any", feature="profiling")
    async def memory(self, caller: Principal, service: str, seconds: float = 2.0) -> dict[str, Any]:
        """A service's top 50 allocation sites by size (file:line, bytes, count) after tracing its..."""

    @rpc("debugger:profile:run", scope="any", feature="profiling")
    async def profile(
        self,
        caller: Principal,
        service: str,
        seconds: float = 5.0,
        rate_hz: int = 100,
    ) -> dict[str, Any]:
        """A CPU profile of a service's process for ``seconds`` at ``rate_hz``: folded stacks and a..."""

    @rpc("debugger:reload:run", scope="any", feature="hot-reload")
    async def reload(self, caller: Principal, service: str) -> dict[str, Any]:
        """Restart one service on the code now on disk, the others untouched: old and new pid, the..."""

    @rpc("debugger:config:write", scope="any", feature="config-interface")
    async def set_log_level(self, caller: Principal, service: str, level: str) -> dict[str, Any]:
        """Set the level of the ``aria`` loggers in a service's process (DEBUG, INFO, WARNING, ERROR,..."""

    @rpc("debugger:state:read", scope="any", feature="state-inspection")
    async def state(self, caller: Principal, service: str) -> dict[str, Any]:
        """A service's health (status, message, details) and what its object holds: each attribute's..."""

    @rpc("debugger:trace:read", scope="any", feature="tracing")
    async def trace(self, caller: Principal, trace_id: str) -> dict[str, Any]:
        """One trace's spans as a tree: each span's name, service, parent, start, duration, status,..."""

    @rpc("debugger:trace:read", scope="any", feature="tracing")
    async def traces(
        self,
        caller: Principal,
        service: str | None = None,
        min_duration_ms: float | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Recent traces, newest first: root span, start, duration, span count, services, errors; only..."""
