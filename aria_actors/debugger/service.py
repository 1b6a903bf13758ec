"""aria_debugger: look inside every service's process: CPU profiles, memory, runtime state, settings.

Lifecycle::

    (registered) --start--> ready to open any service's debugger doors (runtime/introspect.py)
                            through ``Deps.door``; nothing runs in the background
    --stop--> nothing to close; the list of runtime changes is in memory only

What it serves (each an RPC, a route under ``/v1/debugger`` and ``aria debugger …``):
- ``profile``: a CPU profile of one service's process (py-spy on its own pid, else an in-process
  sampler: the answer's ``sampler`` says which), as folded stacks and a flame graph SVG
  (flamegraph.py). ``memory``: its top allocation sites after tracing for some seconds.
- ``inspect``: the process's runtime state (pid, node, Python, uptime, threads, asyncio tasks,
  RSS, open fds, log level) with the service's health and its settings section, masked.
- ``state``: the service's health (status, message, details) and what its object holds
  (attributes by name, type and size).
- ``config``: every service's settings section, masked, each value with its source (env, toml,
  default), and the runtime changes made here; ``set_log_level`` changes the level of the
  ``aria`` loggers in one service's process.

Guarantees and caveats:
- Deny by default: each RPC declares its permission, all ``@any`` (a process spans tenants).
  Profiles and memory snapshots need ``debugger:profile:run`` and a log level change
  ``debugger:config:write``: administrators only in the built-in roles. Runtime state and
  settings need ``debugger:state:read`` / ``debugger:config:read`` (operators too).
- No request names a path, a URL or code: a service name (checked against the registry),
  seconds, a rate and a level name. Secrets never leave: ``SecretStr`` settings show as
  ``**********``, passwords in URLs as ``***`` (runtime/config_view.py), health details too.
- Every profile, memory snapshot and log level change is written to aria_security's audit log
  (``debugger.profile``, ``debugger.memory``, ``debugger.log_level``; actor ``svc:aria_debugger``,
  subject the caller) *before* it runs: if it cannot be recorded, nothing is done (503). One that
  then fails gets a second event with outcome ``error``.
- One profile and one memory snapshot per service at a time (409 otherwise).
- A log level change lasts until that process restarts (it starts again at ``ARIA_LOG_LEVEL``);
  the list of changes is lost when aria_debugger restarts.
- ``console_*`` (console.py): a debug console in a service's process, off by default, audited;
  ``reload`` and ``graph`` (hotreload.py): one service restarted on its code from disk, and the
  live dependency graph.
- ``logs``: log records of every service, collected into PostgreSQL and searched (logs.py).
- ``traces`` and ``trace``: every process's spans (runtime/tracing.py) collected through the
  ``spans`` door into memory and PostgreSQL, served as span trees (traces.py).
- Every seed feature is built: status ``ready`` (``not_implemented`` while ``health()`` lists one
  as missing).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from aria_actors.debugger import flamegraph
from aria_actors.debugger.console import ConsoleParts
from aria_actors.debugger.hotreload import ReloadParts
from aria_actors.debugger.logs import LogSearch
from aria_actors.debugger.spec import SPEC
from aria_actors.debugger.traces import Traces
from aria_actors.runtime import config_view, introspect
from aria_actors.runtime.errors import AriaError, Conflict, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.debugger")
ME = Principal.internal(SPEC.name)  # the debugger writing its audit events
MAX_CHANGES = 1000      # runtime changes kept (the oldest go first)
INSPECT_TIMEOUT_S = 15.0
LEVEL_TIMEOUT_S = 10.0
RUNTIME_KEYS = ("pid", "node_id", "python", "implementation", "uptime_s", "process_started_at", "threads",
                "asyncio", "rss_bytes", "open_fds", "log_level", "tracemalloc", "health", "settings",
                "code")  # code: the package digest as imported (hotreload.py)


def _printable(text: str, limit: int) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


class DebuggerService(ConsoleParts, ReloadParts, LogSearch, Traces, Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.services = tuple(s.name for s in all_specs())
        self.changes: deque[dict[str, Any]] = deque(maxlen=MAX_CHANGES)
        self.done: Counter[str] = Counter()  # operations served, by kind
        self._running: set[tuple[str, str]] = set()  # (service, kind) of profiles and snapshots under way
        self._started = False
        self._logs_init()  # log collection and search (logs.py)
        self._traces_init()  # span collection and traces (traces.py)

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        await self._logs_start()
        await self._traces_start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self._logs_stop()
        await self._traces_stop()

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        missing = list(self.spec.missing)
        spy = introspect.py_spy_path()
        details = {"missing": missing, "capabilities": list(self.spec.capabilities),
                   "dependencies": list(self.deps.names), "py_spy": spy is not None,
                   "operations": dict(self.done), "changes": len(self.changes),
                   "consoles": self._console_counts(),  # console.py: open sessions by service
                   "running": sorted(f"{s} {k}" for s, k in self._running),
                   "logs": await self._logs_health(),
                   "tracing": self.traces_health()}  # traces.py
        return Health(Status.NOT_IMPLEMENTED if missing else Status.READY,
                      f"{len(self.spec.features) - len(missing)} of {len(self.spec.features)} seed features built; "
                      f"profiles with {'py-spy' if spy else 'the in-process sampler (no py-spy here)'}", details)

    # -- helpers -----------------------------------------------------------------------------------
    def _service(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.services:
            shown = _printable(name, 60) if isinstance(name, str) else type(name).__name__
            raise NotFound(f"no service named {shown!r}; `aria services` lists them", service=shown)
        return name

    @contextlib.contextmanager
    def _one(self, service: str, kind: str) -> Iterator[None]:
        key = (service, kind)
        if key in self._running:
            raise Conflict(f"a {kind} of {service} is already running; retry when it ends", service=service)
        self._running.add(key)
        try:
            yield
        finally:
            self._running.discard(key)

    async def _audit(self, caller: Principal, op: str, target: str, outcome: str = "ok") -> None:
        """Record ``op`` in aria_security's audit log; an ``ok`` event that cannot be recorded
        stops the operation (503), a later ``error`` event is best effort."""
        event = {"op": op, "target": _printable(target, 300), "outcome": outcome,
                 "subject": _printable(caller.subject, 120)}
        try:
            await self.deps.of(SecurityClient).record_events(ME, [event])
        except Exception as exc:
            if outcome != "ok":
                log.warning("cannot audit %s %s (%s): %s", op, target, outcome, type(exc).__name__)
                return
            raise ServiceUnavailable(f"{op} was not done: aria_security did not record it in the audit log "
                                     f"({type(exc).__name__})", service="aria_security") from None

    async def _door(self, service: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        """Open ``door`` of ``service``; its own error (a conflict, a bad argument) comes back as is."""
        try:
            return await self.deps.door(service, door, timeout_s, **kwargs)
        except Exception as exc:
            cause = getattr(exc, "cause", None)  # an AriaError raised in the other process, wrapped by Ray
            if isinstance(cause, AriaError):
                raise cause from None
            if isinstance(exc, AriaError):
                raise
            raise ServiceUnavailable(f"{service}'s {door} door failed: {type(exc).__name__}",
                                     service=service) from None

    async def _audited(self, caller: Principal, op: str, target: str, service: str, door: str,
                       timeout_s: float, **kwargs: Any) -> Any:
        await self._audit(caller, op, target)
        try:
            got = await self._door(service, door, timeout_s, **kwargs)
        except Exception:
            await self._audit(caller, op, target, outcome="error")
            raise
        self.done[door] += 1
        return got

    # -- RPC surface -------------------------------------------------------------------------------
    @rpc("debugger:profile:run", scope="any", feature="profiling")
    async def profile(self, caller: Principal, service: str, seconds: float = 5.0,
                      rate_hz: int = 100) -> dict[str, Any]:
        """A CPU profile of a service's process for ``seconds`` at ``rate_hz``: folded stacks and
        a flame graph SVG; ``sampler`` says whether py-spy or the in-process sampler took it."""
        name = self._service(service)
        seconds, rate_hz = introspect.check_seconds(seconds), introspect.check_rate(rate_hz)
        with self._one(name, "profile"):
            got = await self._audited(caller, "debugger.profile", f"{name} seconds={seconds:g} rate_hz={rate_hz}",
                                      name, "profile", introspect.profile_timeout(seconds),
                                      seconds=seconds, rate_hz=rate_hz)
        title = (f"{name} (pid {got['pid']}): {got['samples']} samples in {seconds:g} s at {rate_hz} Hz, "
                 f"{got['sampler']}")
        return {"service": name, "seconds": seconds, "rate_hz": rate_hz, "sampler": got["sampler"],
                "note": got["note"], "pid": got["pid"], "started_at": got["started_at"], "samples": got["samples"],
                "stacks": got["stacks"], "truncated": got["truncated"], "folded": got["folded"],
                "svg": flamegraph.render(got["folded"], title=title)}

    @rpc("debugger:profile:run", scope="any", feature="profiling")
    async def memory(self, caller: Principal, service: str, seconds: float = 2.0) -> dict[str, Any]:
        """A service's top 50 allocation sites by size (file:line, bytes, count) after tracing
        its process with tracemalloc for ``seconds``."""
        name = self._service(service)
        seconds = introspect.check_seconds(seconds)
        with self._one(name, "memory snapshot"):
            got = await self._audited(caller, "debugger.memory", f"{name} seconds={seconds:g}", name, "memory",
                                      seconds + 30.0, seconds=seconds)
        return {"service": name, **got}

    @rpc("debugger:state:read", scope="any", feature="inspection")
    async def inspect(self, caller: Principal, service: str) -> dict[str, Any]:
        """A service process's runtime state: pid, node, Python, uptime, threads, asyncio tasks,
        RSS, open fds, log level, its health and its settings section (masked)."""
        name = self._service(service)
        got = await self._door(name, "inspect", INSPECT_TIMEOUT_S)
        return {"service": name, **{k: got.get(k) for k in RUNTIME_KEYS}}

    @rpc("debugger:state:read", scope="any", feature="state-inspection")
    async def state(self, caller: Principal, service: str) -> dict[str, Any]:
        """A service's health (status, message, details) and what its object holds: each
        attribute's name, type and size (values of numbers and booleans only)."""
        name = self._service(service)
        got = await self._door(name, "inspect", INSPECT_TIMEOUT_S)
        spec = next(s for s in all_specs() if s.name == name)
        return {"service": name, "pid": got.get("pid"), "node_id": got.get("node_id"), "health": got.get("health"),
                "holds": got.get("holds", []), "depends_on": list(spec.depends_on),
                "capabilities": list(spec.capabilities), "missing": list(spec.missing)}

    @rpc("debugger:config:read", scope="any", feature="config-interface")
    async def config(self, caller: Principal, service: str | None = None) -> dict[str, Any]:
        """Every service's settings section (or ``service``'s), masked, each value with its source
        and variable; the top-level keys; and the runtime changes made through the debugger."""
        names = self.services if service is None else (self._service(service),)
        tree = config_view.as_json(self.settings)
        changes = [c for c in self.changes if c["service"] in names]
        return {"aria": tree.get(config_view.TOP, {}),
                "services": {n: {"section": introspect.section_of(n) if introspect.section_of(n) in tree else None,
                                 "settings": tree.get(introspect.section_of(n), {}),
                                 "runtime": self._runtime_of(n)} for n in names},
                "changes": changes}

    def _runtime_of(self, service: str) -> dict[str, Any]:
        """The settings changed at run time in ``service``'s process: the last change of each."""
        out: dict[str, Any] = {}
        for c in self.changes:
            if c["service"] == service:
                out[c["setting"]] = c["to"]
        return out

    @rpc("debugger:config:write", scope="any", feature="config-interface")
    async def set_log_level(self, caller: Principal, service: str, level: str) -> dict[str, Any]:
        """Set the level of the ``aria`` loggers in a service's process (DEBUG, INFO, WARNING,
        ERROR, CRITICAL) until it restarts; audited and listed in ``config``'s changes."""
        name = self._service(service)
        level = introspect.check_level(level)
        got = await self._audited(caller, "debugger.log_level", f"{name} log_level={level}", name, "log_level",
                                  LEVEL_TIMEOUT_S, level=level)
        change = {"at": time.time(), "by": caller.subject, "service": name, "setting": "log_level",
                  "from": got["previous"], "to": got["level"], "pid": got["pid"], "loggers": got["loggers"]}
        self.changes.append(change)
        return change
