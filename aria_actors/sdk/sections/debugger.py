"""``aria.debugger``: profiles, memory, runtime state and settings of every service (``/v1/debugger``)."""

from __future__ import annotations

from typing import Any

from aria_actors.sdk.section import Req, Section, route


class DebuggerAPI(Section):
    @route("GET", "/v1/debugger/services/{service}/profile")
    def profile(self, service: str, seconds: float | None = None, rate_hz: int | None = None) -> dict[str, Any]:
        """A CPU profile of ``service``'s process: ``sampler``, ``samples``, ``folded`` stacks and the ``svg``."""
        return Req(path={"service": service}, params={"seconds": seconds, "rate_hz": rate_hz})

    @route("GET", "/v1/debugger/services/{service}/profile.svg")
    def profile_svg(self, service: str, seconds: float | None = None, rate_hz: int | None = None) -> bytes:
        """The same profile as a flame graph (SVG bytes)."""
        return Req(path={"service": service}, params={"seconds": seconds, "rate_hz": rate_hz}, raw=True)

    @route("GET", "/v1/debugger/services/{service}/memory")
    def memory(self, service: str, seconds: float | None = None) -> dict[str, Any]:
        """The top allocation sites of ``service``'s process after tracing for ``seconds``."""
        return Req(path={"service": service}, params={"seconds": seconds})

    @route("GET", "/v1/debugger/services/{service}/inspect")
    def inspect(self, service: str) -> dict[str, Any]:
        """Runtime state of ``service``'s process: pid, node, threads, tasks, RSS, fds, health, settings."""
        return Req(path={"service": service})

    @route("GET", "/v1/debugger/services/{service}/state")
    def state(self, service: str) -> dict[str, Any]:
        """``service``'s health and what its object holds."""
        return Req(path={"service": service})

    @route("GET", "/v1/debugger/config")
    def config(self, service: str | None = None) -> dict[str, Any]:
        """Every service's settings (masked) with their sources, and the runtime changes."""
        return Req(params={"service": service})

    @route("PUT", "/v1/debugger/services/{service}/log-level")
    def set_log_level(self, service: str, level: str) -> dict[str, Any]:
        """Set the level of the ``aria`` loggers in ``service``'s process (until it restarts)."""
        return Req(path={"service": service}, json={"level": level})
