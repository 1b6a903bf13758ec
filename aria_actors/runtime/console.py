"""The debug console's evaluator, Ray-free: Python source run in a service's own process.

Every service shell has a ``console`` door (runtime/shell.py) backed by one :class:`Sessions` of
its process; only aria_debugger opens it (``introspect.check_door``), for administrators, after
auditing the command. Lifecycle of a session::

    open(session)  a namespace holding ``service``, ``spec`` and ``settings`` (the id is the
                   debugger's, random); at most ``console_max_sessions`` in this process
    run(session, source)*  ``code.InteractiveInterpreter`` semantics: input is buffered until it
                   is complete (answer ``incomplete``), then run in a thread of its own
    close(session) or unused for ``console_idle_s``: gone (namespace dropped)

Guarantees and caveats:
- Off unless ``[debugger] console_enabled`` (``ConsoleDisabled``, 409 ``console-disabled``), checked
  here too: a Ray client inside the cluster could open the door directly.
- A command never crashes the process's event loop: it runs in its own daemon thread; its
  exceptions come back as traceback text. Past ``console_timeout_s`` the thread is sent an
  asynchronous ``ConsoleTimeout`` (stops pure-Python loops, not a blocking C call) and the answer
  says ``timed_out``; a session whose command still runs refuses the next one (409).
- Output is what that thread writes to ``sys.stdout``/``sys.stderr`` (other threads' writes pass
  through to the real streams), and ``repr`` of a last expression, each capped at
  ``console_max_output`` characters (``truncated`` says so). Source is capped at ``MAX_SOURCE``.
- A session's namespace is the process's: what it changes in ``service`` is changed for real,
  and a thread it starts outlives the session. That is the point of a debug console; it is why
  the console is off by default and every command is audited before it runs.
"""

from __future__ import annotations

import ast
import asyncio
import codeop
import contextlib
import ctypes
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import BadRequest, Conflict, NotFound

# An audit event's target holds 300 characters: aria_debugger audits a command whole or refuses it
# (a longer block goes line by line, each line audited as it arrives): the log holds all that ran.
AUDITED_SOURCE = 240
MAX_SOURCE = 65_536           # characters of one command (the buffer included)
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
INTERRUPT_GRACE_S = 1.0       # how long a timed-out thread gets to die of its ConsoleTimeout
FILENAME = "<console>"


class ConsoleDisabled(Conflict):
    """The debug console is off: set ``[debugger] console_enabled = true`` (ARIA_DEBUGGER_CONSOLE_ENABLED)."""

    type = "console-disabled"
    title = "Debug console disabled"


class ConsoleTimeout(BaseException):
    """Raised inside a console command's thread when it ran past its time (BaseException: a bare
    ``except Exception`` in the command does not swallow it)."""


def check_session(value: Any) -> str:
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        raise BadRequest("session must be 32 lowercase hex digits", field="session")
    return value


def check_source(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_SOURCE or "\x00" in value:
        raise BadRequest(f"source must be text of at most {MAX_SOURCE} characters", field="source")
    return value


# -- output capture: per thread ---------------------------------------------------------------------
class _Capped:
    """A text sink keeping the first ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if len(text) > room:
            self.truncated = True
            text = text[:max(room, 0)]
        if text:
            self.parts.append(text)
            self.size += len(text)
        return len(text)

    def value(self) -> str:
        return "".join(self.parts)


_captures: dict[int, dict[str, _Capped]] = {}  # thread id -> its sinks, while a command runs
_install_lock = threading.Lock()


class _ThreadRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``: a console thread's writes go to its sink,
    every other thread's to the stream it replaced."""

    def __init__(self, original: Any, which: str) -> None:
        self._original = original
        self._which = which

    def write(self, text: str) -> int:
        sinks = _captures.get(threading.get_ident())
        if sinks is not None:
            return sinks[self._which].write(str(text))
        return self._original.write(text)

    def flush(self) -> None:
        if threading.get_ident() not in _captures:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, isatty...: the real stream's
        return getattr(self._original, name)


def _install_routers() -> None:
    with _install_lock:
        for which in ("stdout", "stderr"):
            current = getattr(sys, which)
            if not isinstance(current, _ThreadRouter):
                setattr(sys, which, _ThreadRouter(current, which))


# -- evaluation ------------------------------------------------------------------------------------
def completeness(source: str) -> bool | None:
    """True when ``source`` is complete input, None when more is needed (an open block, bracket or
    string); a SyntaxError raised as is. A single statement follows the interactive prompt (a block
    ends with an empty line); several statements at once (a pasted script) are complete when they
    compile."""
    try:
        got = codeop.compile_command(source, FILENAME, "single")
    except SyntaxError as exc:
        if "multiple statements" not in str(exc.msg):
            raise
        got = codeop.compile_command(source, FILENAME, "exec")
    return None if got is None else True


def _compiled(source: str) -> tuple[Any, Any]:
    """(statements, last expression or None): like 'single' mode, a last expression's value is shown."""
    tree = ast.parse(source, FILENAME, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, FILENAME, "exec")
    return body, (compile(last, FILENAME, "eval") if last is not None else None)


def _traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:  # our own frames: not the user's
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


@dataclass
class Session:
    namespace: dict[str, Any]
    opened_at: float = field(default_factory=time.time)
    used_at: float = field(default_factory=time.monotonic)
    buffer: list[str] = field(default_factory=list)
    commands: int = 0
    busy: bool = False


class Sessions:
    """The console sessions of one process. ``bindings`` gives a new namespace's names."""

    def __init__(self, bindings: Callable[[], dict[str, Any]], *, max_sessions: int = 8,
                 idle_s: float = 900.0, timeout_s: float = 10.0, max_output: int = 65_536) -> None:
        self.bindings = bindings
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.timeout_s = timeout_s
        self.max_output = max_output
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def expire(self) -> list[str]:
        """Close the sessions unused for ``idle_s`` (not one whose command still runs)."""
        now = time.monotonic()
        with self._lock:
            gone = [sid for sid, s in self.sessions.items() if not s.busy and now - s.used_at > self.idle_s]
            for sid in gone:
                del self.sessions[sid]
        return gone

    def open(self, session: str) -> dict[str, Any]:
        sid = check_session(session)
        self.expire()
        with self._lock:
            if sid in self.sessions:
                raise Conflict("that console session is already open", session=sid[:8])
            if len(self.sessions) >= self.max_sessions:
                raise Conflict(f"{len(self.sessions)} console sessions are open in this process (the most): "
                               f"close one, or wait {self.idle_s:g} s for idle ones to expire")
            names = {"__name__": "__console__", "__builtins__": __builtins__, **self.bindings()}
            self.sessions[sid] = Session(names)
        return {"session": sid, "names": sorted(n for n in names if not n.startswith("__"))}

    def close(self, session: str) -> dict[str, Any]:
        sid = check_session(session)
        with self._lock:
            got = self.sessions.pop(sid, None)
        if got is None:
            raise NotFound("no such console session (closed, or expired)", session=sid[:8])
        return {"session": sid, "closed": True, "commands": got.commands}

    def _take(self, sid: str) -> Session:
        with self._lock:
            got = self.sessions.get(sid)
            if got is None:
                raise NotFound("no such console session (closed, or expired): open another", session=sid[:8])
            if got.busy:
                raise Conflict("this session's last command is still running; wait, or open another session",
                               session=sid[:8])
            got.busy = True
            got.used_at = time.monotonic()
            return got

    async def run(self, session: str, source: str) -> dict[str, Any]:
        """Push ``source`` (a line, or several) to the session's buffer; run it once complete."""
        sid = check_session(session)
        source = check_source(source)
        self.expire()
        got = self._take(sid)
        released = False
        try:
            text = "\n".join([*got.buffer, source])
            if len(text) > MAX_SOURCE:
                got.buffer.clear()
                raise BadRequest(f"the buffered input passed {MAX_SOURCE} characters; it was dropped",
                                 field="source")
            try:
                complete = completeness(text)
            except (SyntaxError, OverflowError, ValueError) as exc:
                got.buffer.clear()
                return self._answer(error="".join(traceback.format_exception_only(type(exc), exc)))
            if complete is None:
                got.buffer.append(source)
                return self._answer(incomplete=True)
            got.buffer.clear()
            got.commands += 1
            loop = asyncio.get_running_loop()
            done: asyncio.Future[dict[str, Any]] = loop.create_future()
            finished = threading.Event()

            def settle(answer: dict[str, Any]) -> None:
                if not done.done():
                    done.set_result(answer)

            def body() -> None:
                answer = self._answer(error="interrupted: ")
                try:
                    answer = self._execute(text, got.namespace)
                except BaseException:  # a ConsoleTimeout arriving after the command
                    pass
                finally:
                    got.busy = False  # the session is free once the thread ends, even after a timeout
                    got.used_at = time.monotonic()
                    finished.set()
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(settle, answer)

            _install_routers()
            worker = threading.Thread(target=body, name=f"aria-console-{sid[:8]}", daemon=True)
            worker.start()
            released = True  # from here the thread frees the session
            try:
                return await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
            except TimeoutError:
                _interrupt(worker)
                ended = await asyncio.to_thread(finished.wait, INTERRUPT_GRACE_S)
                answer = done.result() if done.done() else self._answer()
                return {**answer, "timed_out": True, "interrupted": ended,
                        "error": (answer.get("error") or "") + f"timed out after {self.timeout_s:g} s"
                        + ("" if ended else "; the command still runs (the session is busy until it ends)")}
        finally:
            if not released:
                got.busy = False

    def _execute(self, source: str, namespace: dict[str, Any]) -> dict[str, Any]:
        """Run complete ``source`` in this thread, capturing its output; never raises."""
        sinks = {"stdout": _Capped(self.max_output), "stderr": _Capped(self.max_output)}
        me = threading.get_ident()
        _captures[me] = sinks
        result: str | None = None
        error: str | None = None
        began = time.perf_counter()
        try:
            try:
                body, last = _compiled(source)
                exec(body, namespace)  # the console itself (administrators, audited, off by default)
                if last is not None:
                    value = eval(last, namespace)  # the same
                    if value is not None:
                        namespace["_"] = value
                        result = repr(value)
            except SyntaxError as exc:
                error = "".join(traceback.format_exception_only(type(exc), exc))
            except ConsoleTimeout:
                error = "interrupted: "
            except SystemExit as exc:  # exit() in a console must not end the thread's process
                error = f"SystemExit({exc.code!r}) ignored: the console cannot end the process\n"
            except BaseException as exc:  # every error of a command is its answer
                error = _traceback(exc)
        except ConsoleTimeout:  # arrived between the handlers
            error = "interrupted: "
        finally:
            _captures.pop(me, None)
        return self._answer(stdout=sinks["stdout"], stderr=sinks["stderr"], result=result, error=error,
                            seconds=time.perf_counter() - began)

    def _answer(self, *, stdout: _Capped | None = None, stderr: _Capped | None = None, result: str | None = None,
                error: str | None = None, incomplete: bool = False, seconds: float = 0.0) -> dict[str, Any]:
        truncated = bool((stdout and stdout.truncated) or (stderr and stderr.truncated))
        if result is not None and len(result) > self.max_output:
            result, truncated = result[:self.max_output], True
        if error is not None and len(error) > self.max_output:
            error, truncated = error[-self.max_output:], True  # a traceback's end says most
        return {"incomplete": incomplete, "stdout": stdout.value() if stdout else "",
                "stderr": stderr.value() if stderr else "", "result": result, "error": error,
                "truncated": truncated, "timed_out": False, "seconds": round(seconds, 6)}

    def stats(self) -> dict[str, Any]:
        return {"open": len(self.sessions), "busy": sum(s.busy for s in self.sessions.values())}


def _interrupt(thread: threading.Thread) -> None:
    """Raise ConsoleTimeout in ``thread`` at its next Python bytecode (CPython's async exception)."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(ConsoleTimeout))


def for_service(service: Any) -> Sessions:
    """The sessions of a service's process, bounded by its tree's ``[debugger]`` section."""
    cfg = service.settings.debugger

    def bindings() -> dict[str, Any]:
        return {"service": service, "spec": service.spec, "settings": service.settings}

    return Sessions(bindings, max_sessions=cfg.console_max_sessions, idle_s=cfg.console_idle_s,
                    timeout_s=cfg.console_timeout_s, max_output=cfg.console_max_output)


async def door(sessions: Sessions, enabled: bool, action: str, session: str,
               source: str | None = None) -> dict[str, Any]:
    """The ``console`` door of a shell: ``open``, ``run`` or ``close`` a session."""
    if not enabled:
        raise ConsoleDisabled()
    if action == "open":
        got = sessions.open(session)
    elif action == "run":
        got = await sessions.run(session, source if source is not None else "")
    elif action == "close":
        got = sessions.close(session)
    else:
        raise BadRequest("action must be open, run or close", field="action")
    return {**got, "pid": os.getpid()}
