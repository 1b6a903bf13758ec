"""aria_debugger's debug console: Python run in a service's own process, for administrators.

A mixin of :class:`~aria_actors.debugger.service.DebuggerService`. Lifecycle of a session::

    console_open(service)  -> a random session id, bound to the caller and to that service;
                              the target's console door opens a namespace (service, spec, settings)
    console_run(session, source)*  audited, then pushed to the door (runtime/console.py):
                              ``incomplete`` until the input is complete, then stdout, stderr,
                              the last expression's repr, the error, ``timed_out``
    console_close(session), or unused for ``console_idle_s`` (here and in the target), or the
    target restarted (its sessions die with the process: the next run is 404)

Guarantees and caveats:
- Off unless ``[debugger] console_enabled`` (409 ``console-disabled``: checked here and again in
  the target's door). ``debugger:console:run@any``: administrators only in the built-in roles;
  a non-administrator is refused by the gateway (403), which audits the refusal
  (``gateway_denial``, target ``forbidden 403 POST /v1/debugger/console/{session}/run``).
- Every open, command and close is written to aria_security's audit log (``debugger.console.*``,
  actor ``svc:aria_debugger``, subject the caller, the source's first 200 characters and its
  sha256 prefix) *before* it is sent: if it cannot be recorded nothing runs (503).
- A session is the caller's: another caller naming it gets 404 (not that it exists). At most
  ``console_max_sessions`` open here, and as many in one process.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aria_actors.runtime import console
from aria_actors.runtime.errors import BadRequest, Conflict, NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

DOOR_SLACK_S = 10.0  # on top of the command's own timeout: the door's interrupt and the trip


class ConsoleParts:
    """The console RPCs; the service's helpers (``_service``, ``_audit``, ``_door``) do the rest."""

    if TYPE_CHECKING:
        from aria_actors.runtime.settings import AriaSettings

        settings: AriaSettings

        def _service(self, name: Any) -> str: ...
        async def _audit(self, caller: Principal, op: str, target: str, outcome: str = "ok") -> None: ...
        async def _door(self, service: str, door: str, timeout_s: float, **kwargs: Any) -> Any: ...
        def _one(self, service: str, kind: str) -> contextlib.AbstractContextManager[None]: ...

    @property
    def _consoles(self) -> dict[str, dict[str, Any]]:
        """Open sessions: id -> service, owner, opened and last used (created on first use)."""
        table = self.__dict__.get("_console_sessions")
        if table is None:
            table = self.__dict__["_console_sessions"] = {}
        return table

    def _console_enabled(self) -> None:
        if not self.settings.debugger.console_enabled:
            raise console.ConsoleDisabled()

    def _console_expire(self) -> None:
        idle = self.settings.debugger.console_idle_s
        now = time.monotonic()
        for sid in [s for s, v in self._consoles.items() if now - v["used_at"] > idle]:
            del self._consoles[sid]

    @contextlib.contextmanager
    def _console_of(self, caller: Principal, session: Any) -> Iterator[dict[str, Any]]:
        sid = console.check_session(session)
        self._console_expire()
        got = self._consoles.get(sid)
        if got is None or got["owner"] != caller.subject:
            raise NotFound("no such console session (closed, expired, or not yours): open another",
                           session=sid[:8])
        got["used_at"] = time.monotonic()
        yield got
        got["used_at"] = time.monotonic()

    def _console_counts(self) -> dict[str, Any]:
        """What ``health`` shows: open sessions by service (no ids)."""
        by: dict[str, int] = {}
        for v in self._consoles.values():
            by[v["service"]] = by.get(v["service"], 0) + 1
        return by

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_open(self, caller: Principal, service: str) -> dict[str, Any]:
        """Open a debug console session in a service's process (its namespace holds ``service``,
        ``spec`` and ``settings``); audited. Off unless ``[debugger] console_enabled``."""
        self._console_enabled()
        name = self._service(service)
        self._console_expire()
        cfg = self.settings.debugger
        if len(self._consoles) >= cfg.console_max_sessions:
            raise Conflict(f"{len(self._consoles)} console sessions are open (the most): close one, or wait "
                           f"{cfg.console_idle_s:g} s for idle ones to expire")
        sid = secrets.token_hex(16)
        await self._audit(caller, "debugger.console.open", f"{name} session={sid[:8]}")
        try:
            got = await self._door(name, "console", DOOR_SLACK_S, action="open", session=sid)
        except Exception:
            await self._audit(caller, "debugger.console.open", f"{name} session={sid[:8]}", outcome="error")
            raise
        now = time.monotonic()
        self._consoles[sid] = {"service": name, "owner": caller.subject, "opened_at": time.time(),
                               "used_at": now, "pid": got.get("pid"), "commands": 0}
        return {"session": sid, "service": name, "pid": got.get("pid"), "names": got.get("names", []),
                "idle_s": cfg.console_idle_s, "timeout_s": cfg.console_timeout_s}

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_run(self, caller: Principal, session: str, source: str) -> dict[str, Any]:
        """Run Python source (a line or a block) in a console session's process, with
        ``code.InteractiveInterpreter`` semantics: ``incomplete`` asks for more input; otherwise
        stdout, stderr, the repr of a last expression, an error as text, ``timed_out``. Audited first."""
        self._console_enabled()
        source = console.check_source(source)
        with self._console_of(caller, session) as got:
            name, sid = got["service"], console.check_session(session)
            shown = source.replace("\n", " ⏎ ")
            if len(shown) > console.AUDITED_SOURCE or not shown.isprintable():
                raise BadRequest(f"a console command is audited whole: at most {console.AUDITED_SOURCE} printable "
                                 "characters (a newline counts 3); send a longer block line by line", field="source")
            target = f"{name} session={sid[:8]} {shown}"
            with self._one(f"{name} session={sid[:8]}", "console command"):  # health shows no whole id
                await self._audit(caller, "debugger.console.run", target)
                try:
                    answer = await self._door(name, "console", self.settings.debugger.console_timeout_s + DOOR_SLACK_S,
                                              action="run", session=sid, source=source)
                except NotFound:  # the process restarted, or expired the session: gone here too
                    self._consoles.pop(sid, None)
                    await self._audit(caller, "debugger.console.run", target, outcome="error")
                    raise
                except Exception:
                    await self._audit(caller, "debugger.console.run", target, outcome="error")
                    raise
            got["commands"] += 1
        return {"session": sid, "service": name, **answer}

    @rpc("debugger:console:run", scope="any", feature="repl")
    async def console_close(self, caller: Principal, session: str) -> dict[str, Any]:
        """Close a console session (its namespace is dropped in the target's process); audited."""
        with self._console_of(caller, session) as got:
            name, sid = got["service"], console.check_session(session)
        await self._audit(caller, "debugger.console.close", f"{name} session={sid[:8]}")
        self._consoles.pop(sid, None)
        closed_there = True
        try:
            await self._door(name, "console", DOOR_SLACK_S, action="close", session=sid)
        except Exception:  # the process restarted or expired it already: closed all the same
            closed_there = False
        return {"session": sid, "service": name, "closed": True, "commands": got["commands"],
                "closed_in_process": closed_there}
