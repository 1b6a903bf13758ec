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

    @route("GET", "/v1/debugger/logs")
    def logs(self, q: str | None = None, service: str | None = None, level: str | None = None,
             trace_id: str | None = None, since: str | float | None = None, until: str | float | None = None,
             limit: int | None = None) -> dict[str, Any]:
        """Every service's log records matching words ``q``, a service, a minimum level, a trace id and
        a time window (ISO 8601, epoch seconds or a duration back such as ``15m``), newest first."""
        return Req(params={"q": q, "service": service, "level": level, "trace_id": trace_id,
                           "since": since, "until": until, "limit": limit})

    @route("GET", "/v1/debugger/traces")
    def traces(self, service: str | None = None, min_duration_ms: float | None = None,
               limit: int | None = None) -> dict[str, Any]:
        """Recent traces, newest first (``traces``: id, root, start, duration, spans, services, errors)."""
        return Req(params={"service": service, "min_duration_ms": min_duration_ms, "limit": limit})

    @route("GET", "/v1/debugger/traces/{trace_id}")
    def trace(self, trace_id: str) -> dict[str, Any]:
        """One trace (a gateway response's ``X-Trace-Id``): its summary and span ``tree``."""
        return Req(path={"trace_id": trace_id})

    # The debug console, hot reload and the dependency graph (debugger/console.py, hotreload.py).
    @route("POST", "/v1/debugger/console")
    def console_open(self, service: str) -> dict[str, Any]:
        """Open a debug console session in ``service``'s process (administrators; off by default)."""
        return Req(json={"service": service})

    @route("POST", "/v1/debugger/console/{session}/run")
    def console_run(self, session: str, source: str) -> dict[str, Any]:
        """Run Python ``source`` in the session: ``incomplete``, or ``stdout``, ``stderr``, ``result``, ``error``."""
        return Req(path={"session": session}, json={"source": source})

    @route("DELETE", "/v1/debugger/console/{session}")
    def console_close(self, session: str) -> dict[str, Any]:
        """Close a console session."""
        return Req(path={"session": session})

    @route("POST", "/v1/debugger/services/{service}/reload")
    def reload(self, service: str) -> dict[str, Any]:
        """Restart ``service`` on its code from disk: old and new pid, code digests, ``code_changed``."""
        return Req(path={"service": service})

    @route("GET", "/v1/debugger/graph")
    def graph(self) -> dict[str, Any]:
        """The live dependency graph: ``nodes`` (status, pid, node, layer), ``edges`` (state), ``svg``."""
        return Req()

    @route("GET", "/v1/debugger/graph.svg")
    def graph_svg(self) -> bytes:
        """The live dependency graph as SVG bytes."""
        return Req(raw=True)
