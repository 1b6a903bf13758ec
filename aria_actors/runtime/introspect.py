"""What a service's shell tells about its own process through its caller-less doors, Ray-free.

Every service shell (:class:`~aria_actors.runtime.shell.ServiceHost`, and the in-process
:class:`~aria_actors.runtime.testing.LocalLauncher`) has these doors besides ``exposition``;
aria_debugger opens them through ``Deps.door`` and nothing else may (:func:`check_door`)::

    profile(seconds, rate_hz)  a CPU profile of this process as folded stacks ("a;b;c 12"): py-spy
                               on its own pid (--nonblocking: the process is never paused), or,
                               without py-spy or when it fails, a sampler thread over
                               sys._current_frames() at the same rate (the answer says which)
    memory(seconds)            tracemalloc for ``seconds`` (started and stopped again unless it
                               was already tracing): the top allocation sites by size
    inspect()                  pid, node, Python, uptime, threads, asyncio tasks, RSS, open fds,
                               the service's health, its settings section masked, what it holds
    log_level(level)           the level of this process's ``aria`` loggers

Guarantees and caveats:
- A door takes numbers and a level name only: no path, URL or code reaches it. The py-spy output
  file is a private temporary file of this module, deleted after reading.
- Bounds are checked here too (a Ray client inside the cluster can open a door directly):
  seconds 0.1-30, rate 1-1000 Hz, at most one profile and one memory snapshot per process at a
  time (:class:`~aria_actors.runtime.errors.Conflict` otherwise).
- Frames are ``qualname (file:line)`` with the file from its top package down, or relative to its
  ``sys.path`` entry (``aria_actors/engine/planner.py``), never the machine's absolute path.
- py-spy drops idle threads itself; the fallback sampler drops threads whose innermost Python
  frame is a known wait (selectors, locks, queues, idle pool workers), an approximation: a thread
  sleeping inside C called from its own function still counts.
- ``holds`` lists the service object's attributes by name and type, with sizes and the values of
  numbers and booleans only (never strings: one may be a secret).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aria_actors.runtime.config_view import _masked, as_json
from aria_actors.runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from aria_actors.runtime.service import DOORS
from aria_actors.runtime.spec import Health

MIN_SECONDS, MAX_SECONDS = 0.1, 30.0
MIN_RATE, MAX_RATE = 1, 1000
TOP_SITES = 50          # allocation sites a memory snapshot returns
MAX_STACKS = 5000       # distinct stacks a profile returns (the heaviest)
MAX_FRAME_CHARS = 300   # one frame's text
MAX_NAMES = 200         # thread names, attributes listed
TOP_TASKS = 20          # most common coroutine names
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGER = "aria"         # the loggers a log level change sets: "aria" and every "aria.*" with a level
DEBUGGER = "aria_debugger"  # the one service that may open the debugger's doors
# Who may open which door of another service's shell: the metrics door is aria_monitor's (and the
# debugger's), the usage door aria_monitor's alone, the rest the debugger's alone; no other
# service reads across the dependency graph.
READERS: dict[str, frozenset[str]] = {"exposition": frozenset({"aria_monitor", DEBUGGER}),
                                      "usage": frozenset({"aria_monitor"}),
                                      "caches": frozenset({"aria_tune"})}  # runtime/caches.py
SPY_START_S = 5.0       # py-spy must attach within this, else the fallback sampler runs
SPY_STOP_S = 10.0       # and write its profile within this after SIGINT
HEALTH_TIMEOUT_S = 5.0

# innermost Python frames of a thread that waits (file name, function): the fallback sampler's
# idle filter (py-spy tells idle threads from the OS)
IDLE_LEAVES = frozenset({
    ("selectors.py", "select"), ("threading.py", "wait"), ("threading.py", "_wait_for_tstate_lock"),
    ("threading.py", "join"), ("queue.py", "get"), ("thread.py", "_worker"), ("socket.py", "accept"),
    ("connection.py", "_recv"), ("connection.py", "wait"), ("popen_fork.py", "poll"),
})

_profiling = threading.Lock()
_snapshotting = threading.Lock()
_PROCESS_STARTED = time.time()  # fallback of the process's start time (when /proc has none)


class ProfilerFailed(RuntimeError):
    """py-spy could not profile this process (the fallback sampler runs instead)."""


# -- checks ---------------------------------------------------------------------------------------
def check_door(reader: str, door: str) -> None:
    """Raise unless service ``reader`` may open ``door`` on another service's shell."""
    if door not in DOORS:
        raise NotFound(f"no door {door!r}; doors are {sorted(DOORS)}", door=door)
    allowed = READERS.get(door, frozenset({DEBUGGER}))
    if reader not in allowed:
        raise Forbidden(f"only {', '.join(sorted(allowed))} may open the {door} door, not {reader}", door=door)


def check_seconds(value: Any, field: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise BadRequest(f"{field} must be a number from {MIN_SECONDS:g} to {MAX_SECONDS:g}", field=field)
    return float(value)


def check_rate(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATE <= value <= MAX_RATE:
        raise BadRequest(f"rate_hz must be an integer from {MIN_RATE} to {MAX_RATE}", field="rate_hz")
    return value


def check_level(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in LEVELS:
        raise BadRequest(f"level must be one of {', '.join(LEVELS)}", field="level")
    return value.upper()


def profile_timeout(seconds: float) -> float:
    """How long a profile door may take: py-spy's window, its start and stop, and a fallback window."""
    return 2 * seconds + SPY_START_S + SPY_STOP_S + 5.0


# -- frames ---------------------------------------------------------------------------------------
_module_by_file: dict[str, str] = {}
_modules_seen = 0


def _module_of(filename: str) -> str | None:
    """The dotted name of the loaded module whose file is ``filename`` (the map is rebuilt when
    modules were imported since)."""
    global _modules_seen
    if filename not in _module_by_file and len(sys.modules) != _modules_seen:
        _modules_seen = len(sys.modules)
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and name != "__main__":
                _module_by_file.setdefault(os.path.abspath(path), name)
    return _module_by_file.get(filename)


@functools.lru_cache(maxsize=4096)
def short_path(filename: str) -> str:
    """``filename`` as its module's path (``aria_actors/engine/planner.py``: a Ray worker may import
    Aria through an editable install's finder, with no ``sys.path`` entry above it), else relative
    to the longest ``sys.path`` entry holding it, else its base name."""
    if not os.path.isabs(filename):
        return filename
    base = os.path.basename(filename)
    name = _module_of(filename)
    if name is not None:
        stem, ext = os.path.splitext(base)
        if stem == "__init__":
            return name.replace(".", "/") + "/" + base
        if name.rpartition(".")[2] == stem:
            return name.replace(".", "/") + ext
    best = ""
    for entry in sys.path:
        root = os.path.abspath(entry or ".")
        if filename.startswith(root.rstrip(os.sep) + os.sep) and len(root) > len(best):
            best = root
    return os.path.relpath(filename, best) if best else base


def _clean(text: str) -> str:
    """One frame's text: printable, no stack separator, bounded."""
    out = "".join(c if c.isprintable() and c != ";" else "?" for c in text)
    return out[:MAX_FRAME_CHARS]


@functools.lru_cache(maxsize=65536)
def _frame_name(qualname: str, filename: str, lineno: int) -> str:
    return _clean(f"{qualname} ({short_path(filename)}:{lineno})")


def _spy_frame(frame: str) -> str:
    """A py-spy frame ``name (/abs/file.py:12)`` with the file shortened like the sampler's."""
    name, sep, where = frame.rpartition(" (")
    if not sep or not where.endswith(")"):
        return _clean(frame)
    filename, _, line = where[:-1].rpartition(":")
    if not line.isdigit():
        return _clean(frame)
    return _frame_name(name, filename, int(line))


def parse_raw(text: str) -> collections.Counter[str]:
    """py-spy's ``--format raw`` (folded stacks) as ``{stack: samples}``, files shortened."""
    stacks: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks[";".join(_spy_frame(f) for f in stack.split(";"))] += int(count)
    return stacks


# -- the CPU profile ------------------------------------------------------------------------------
def py_spy_path() -> str | None:
    """py-spy next to this Python (the project's virtual environment), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout_s: float) -> bytes:
    """What the process printed until ``marker`` (or its exit, or the timeout)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout_s
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
    return seen


def record_py_spy(spy: str, seconds: float, rate_hz: int, pid: int | None = None) -> collections.Counter[str]:
    """Folded stacks of process ``pid`` (this one) sampled by py-spy for ``seconds``.

    py-spy's ``--duration`` takes whole seconds: it gets SIGINT once the window has passed since
    it said it started sampling, then writes its profile and exits; its duration, the window
    rounded up and 2 s more, is the backstop should the signal not arrive."""
    with tempfile.TemporaryDirectory(prefix="aria-profile-") as tmp:
        out = Path(tmp) / "profile.txt"
        cmd = [spy, "record", "--pid", str(pid or os.getpid()), "--rate", str(rate_hz), "--format", "raw",
               "--output", str(out), "--nonblocking", "--full-filenames", "--duration", str(math.ceil(seconds) + 2)]
        # A child inherits its thread's blocked signals, and Ray's worker threads block SIGINT
        # (SigBlk 0x2, seen in an actor): unblocked for the fork only, or py-spy never hears it.
        blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        try:
            said = _read_until(proc, b"Sampling process", SPY_START_S)
            if b"Sampling process" not in said:
                raise ProfilerFailed(f"py-spy did not start sampling: {_last_line(said)}")
            time.sleep(seconds)
            proc.send_signal(signal.SIGINT)
            rest, _ = proc.communicate(timeout=SPY_STOP_S)
        except subprocess.TimeoutExpired:
            raise ProfilerFailed(f"py-spy did not stop within {SPY_STOP_S:g} s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not out.is_file():
            raise ProfilerFailed(f"py-spy wrote no profile (exit {proc.returncode}): {_last_line(said + rest)}")
        return parse_raw(out.read_text(errors="replace"))


def _last_line(output: bytes) -> str:
    lines = [ln.strip() for ln in output.decode(errors="replace").splitlines() if ln.strip()]
    return _clean(lines[-1])[:200] if lines else "no output"


def _idle(frame: Any) -> bool:
    return (os.path.basename(frame.f_code.co_filename), frame.f_code.co_name) in IDLE_LEAVES


def record_sampler(seconds: float, rate_hz: int) -> collections.Counter[str]:
    """Folded stacks of this process's threads (but the sampler's own and idle ones), sampled
    ``rate_hz`` times a second for ``seconds`` from ``sys._current_frames()``."""
    me = threading.get_ident()
    stacks: collections.Counter[str] = collections.Counter()
    interval = 1.0 / rate_hz
    start = time.perf_counter()
    end = start + seconds
    tick = start
    while True:
        frames = sys._current_frames()
        try:
            for ident, leaf in frames.items():
                if ident == me or _idle(leaf):
                    continue
                names = []
                frame = leaf
                while frame is not None:
                    names.append(_frame_name(frame.f_code.co_qualname, frame.f_code.co_filename, frame.f_lineno))
                    frame = frame.f_back
                stacks[";".join(reversed(names))] += 1
        finally:
            del frames
        tick += interval
        now = time.perf_counter()
        if now >= end:
            return stacks
        if tick > now:
            time.sleep(min(tick, end) - now)
        else:
            tick = now  # behind: no burst to catch up


async def profile(seconds: float, rate_hz: int, *, use_py_spy: bool = True) -> dict[str, Any]:
    """A CPU profile of this process: folded stacks, the heaviest first, and how they were taken."""
    seconds, rate_hz = check_seconds(seconds), check_rate(rate_hz)
    if not _profiling.acquire(blocking=False):
        raise Conflict("a profile of this process is already running; retry when it ends")
    try:
        began = time.time()
        spy = py_spy_path() if use_py_spy else None
        note = None if spy else ("py-spy is not installed" if use_py_spy else "py-spy not asked for")
        stacks: collections.Counter[str] | None = None
        if spy is not None:
            try:
                stacks = await asyncio.to_thread(record_py_spy, spy, seconds, rate_hz)
            except (ProfilerFailed, OSError) as exc:
                note = f"py-spy failed: {exc}"
        sampler = "py-spy" if stacks is not None else "python"
        if stacks is None:
            stacks = await asyncio.to_thread(record_sampler, seconds, rate_hz)
    finally:
        _profiling.release()
    heaviest = stacks.most_common(MAX_STACKS)
    return {"pid": os.getpid(), "sampler": sampler, "note": note, "seconds": seconds, "rate_hz": rate_hz,
            "started_at": began, "samples": sum(stacks.values()), "stacks": len(stacks),
            "truncated": len(stacks) > MAX_STACKS, "idle": False,
            "folded": [f"{stack} {n}" for stack, n in heaviest]}


# -- the memory snapshot --------------------------------------------------------------------------
def _top_sites(snapshot: tracemalloc.Snapshot, limit: int) -> list[dict[str, Any]]:
    mine = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__),
                                   tracemalloc.Filter(False, __file__)])
    out = []
    for stat in mine.statistics("lineno")[:limit]:
        frame = stat.traceback[0]
        out.append({"site": _clean(f"{short_path(frame.filename)}:{frame.lineno}"),
                    "size_bytes": stat.size, "count": stat.count})
    return out


async def memory(seconds: float, *, top: int = TOP_SITES) -> dict[str, Any]:
    """The top allocation sites of this process by size after tracing for ``seconds``.

    Started here (and stopped after) unless it was already tracing: then only what was allocated
    in the window and is still alive at its end is seen."""
    seconds = check_seconds(seconds)
    if not _snapshotting.acquire(blocking=False):
        raise Conflict("a memory snapshot of this process is already running; retry when it ends")
    try:
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            await asyncio.sleep(seconds)
            snapshot = await asyncio.to_thread(tracemalloc.take_snapshot)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            if not was_tracing:
                tracemalloc.stop()
    finally:
        _snapshotting.release()
    sites = await asyncio.to_thread(_top_sites, snapshot, top)
    return {"pid": os.getpid(), "seconds": seconds, "was_tracing": was_tracing,
            "window_only": not was_tracing, "traced_bytes": current, "peak_bytes": peak,
            "rss_bytes": _status().get("rss_bytes"), "sites": sites}


# -- the runtime state ----------------------------------------------------------------------------
def _status() -> dict[str, Any]:
    """RSS and the thread count from /proc (None off Linux)."""
    out: dict[str, Any] = {"rss_bytes": None, "os_threads": None}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                out["rss_bytes"] = int(value.split()[0]) * 1024
            elif key == "Threads":
                out["os_threads"] = int(value.strip())
    except (OSError, ValueError, IndexError):
        pass
    return out


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _process_started() -> float:
    """When this process started (from /proc; else when this module was imported)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(int(ln.split()[1]) for ln in Path("/proc/stat").read_text().splitlines()
                    if ln.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _PROCESS_STARTED


def _tasks() -> dict[str, Any]:
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop
        return {"count": 0, "top": []}
    names: collections.Counter[str] = collections.Counter()
    for task in tasks:
        coro = task.get_coro()
        names[_clean(getattr(coro, "__qualname__", type(coro).__name__))] += 1
    return {"count": len(tasks), "top": [{"coroutine": n, "count": c} for n, c in names.most_common(TOP_TASKS)]}


def _held(value: Any) -> dict[str, Any]:
    """What a service attribute is: its type, size, and the value of a number or boolean only."""
    kind = type(value)
    out: dict[str, Any] = {"type": _clean(kind.__qualname__ if kind.__module__ == "builtins"
                                          else f"{kind.__module__}.{kind.__qualname__}")}
    if value is None or isinstance(value, bool | int | float):
        out["value"] = value
    elif isinstance(value, asyncio.Task):
        out["done"] = value.done()
    elif isinstance(value, str | bytes | bytearray | list | tuple | set | frozenset | dict | collections.deque):
        out["size"] = len(value)
    return out


def holds(service: Any) -> list[dict[str, Any]]:
    """The service object's own attributes (not its settings or clients), by name and type."""
    skip = {"settings", "deps", "config"}
    names = sorted(n for n in vars(service) if not n.startswith("__") and n not in skip)[:MAX_NAMES]
    return [{"name": n, **_held(getattr(service, n, None))} for n in names]


async def _health(health: Callable[[], Awaitable[Health]]) -> dict[str, Any]:
    try:
        got = await asyncio.wait_for(health(), HEALTH_TIMEOUT_S)
    except Exception as exc:  # a hung or failing probe is part of the state, not a failed inspection
        return {"status": "unknown", "message": f"health probe failed: {type(exc).__name__}", "details": {}}
    return {"status": str(got.status), "message": _masked(got.message), "details": _masked(got.details)}


def section_of(service: str) -> str:
    """The settings section of service ``aria_x``: ``x``."""
    return service.removeprefix("aria_")


async def inspect(service: Any, health: Callable[[], Awaitable[Health]],
                  placement: Mapping[str, Any]) -> dict[str, Any]:
    """This process's runtime state and the service's health, settings and attributes."""
    now = time.time()
    threads = threading.enumerate()
    started = _process_started()
    section = section_of(service.spec.name)
    status = _status()
    return {
        "service": service.spec.name, "pid": os.getpid(), "node_id": placement.get("node_id"),
        "python": sys.version.split()[0], "implementation": sys.implementation.name,
        "uptime_s": round(now - started, 3), "process_started_at": started,
        "threads": {"count": len(threads), "names": sorted(_clean(t.name) for t in threads)[:MAX_NAMES],
                    "os_threads": status["os_threads"]},
        "asyncio": _tasks(),
        "rss_bytes": status["rss_bytes"], "open_fds": _open_fds(),
        "log_level": logging.getLevelName(logging.getLogger(LOGGER).getEffectiveLevel()),
        "tracemalloc": tracemalloc.is_tracing(),
        "health": await _health(health),
        "settings": {"section": section, "values": as_json(service.settings).get(section, {})},
        "holds": holds(service),
    }


# -- the log level --------------------------------------------------------------------------------
def set_log_level(level: str) -> dict[str, Any]:
    """Set the level of the ``aria`` logger and of every ``aria.*`` logger that has its own."""
    level = check_level(level)
    root = logging.getLogger(LOGGER)
    previous = logging.getLevelName(root.getEffectiveLevel())
    # said before the change, at the old level, so it is in the process's log (and its ring) even
    # when the new level would hide it
    logging.getLogger(LOGGER + ".introspect").warning(
        "log level of the aria loggers changes from %s to %s (through aria_debugger)", previous, level)
    root.setLevel(level)
    changed = 1
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith(LOGGER + ".") and isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            logger.setLevel(level)
            changed += 1
    return {"pid": os.getpid(), "level": level, "previous": previous, "loggers": changed}
