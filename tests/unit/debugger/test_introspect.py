"""The shell's debugger doors, Ray-free (runtime/introspect.py): profiles by py-spy and by the
in-process sampler, memory snapshots, the runtime state, the log level, and their bounds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from aria_actors.runtime import introspect
from aria_actors.runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, ServiceSpec, Status

THIS_FILE = "test_introspect.py"


def _spin_for_the_profiler(stop: threading.Event) -> int:
    n = 0
    while not stop.is_set():
        n = (n * 31 + 7) % 1_000_003
    return n


@pytest.fixture
def busy() -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=_spin_for_the_profiler, args=(stop,), name="busy-for-test", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def _found(got: dict[str, Any], function: str) -> int:
    """Samples whose stack holds ``function`` of this file."""
    return sum(int(line.rpartition(" ")[2]) for line in got["folded"]
               if any(f.startswith(function + " (") and THIS_FILE in f for f in line.rpartition(" ")[0].split(";")))


def test_the_fallback_sampler_finds_a_busy_function(busy: None) -> None:
    got = asyncio.run(introspect.profile(0.5, 200, use_py_spy=False))
    assert got["sampler"] == "python" and got["note"] == "py-spy not asked for"
    assert got["pid"] == os.getpid() and got["seconds"] == 0.5 and got["rate_hz"] == 200
    hits = _found(got, "_spin_for_the_profiler")
    # ~100 ticks in the window, but the sampler needs the GIL the busy thread holds, and on a loaded
    # machine (the full suite on 2 cores) it gets it far less often: a handful proves it was found
    assert hits >= 5, got["folded"][:5]
    assert got["samples"] == sum(int(line.rpartition(" ")[2]) for line in got["folded"])
    # frames name files relative to sys.path, never the machine's absolute path
    assert not any(os.sep + "work" + os.sep in line or line.startswith("/") for line in got["folded"])
    # the sampler's own thread is not in it
    assert not any("record_sampler" in line for line in got["folded"])


@pytest.mark.skipif(introspect.py_spy_path() is None, reason="py-spy is not installed next to this Python or on PATH")
def test_py_spy_profiles_this_very_process(busy: None) -> None:
    got = asyncio.run(introspect.profile(1.0, 100))
    assert got["sampler"] == "py-spy", got["note"]
    assert got["note"] is None and got["pid"] == os.getpid()
    assert _found(got, "_spin_for_the_profiler") >= 50, got["folded"][:5]
    assert not any(line.startswith("/") or ";/" in line for line in got["folded"])


@pytest.mark.skipif(introspect.py_spy_path() is None, reason="py-spy is not installed next to this Python or on PATH")
def test_py_spy_stops_on_time_from_a_thread_that_blocks_sigint(busy: None) -> None:
    # Ray's worker threads block SIGINT and a child inherits that: py-spy would then run to its
    # backstop duration (ceil(0.5) + 2 = 3 s) instead of stopping when the window ends.
    spy = introspect.py_spy_path()
    assert spy is not None
    result: dict[str, Any] = {}

    def run() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        began = time.monotonic()
        result["stacks"] = introspect.record_py_spy(spy, 0.5, 100)
        result["took"] = time.monotonic() - began

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result["took"] < 2.5, result["took"]
    assert any("_spin_for_the_profiler" in stack for stack in result["stacks"])


def test_a_failing_py_spy_falls_back_to_the_sampler(busy: None, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Any) -> None:
    fake = tmp_path / "py-spy"
    fake.write_text("#!/bin/sh\necho 'Error: no permission to ptrace'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(introspect, "py_spy_path", lambda: str(fake))
    got = asyncio.run(introspect.profile(0.3, 100))
    assert got["sampler"] == "python"
    assert "py-spy failed" in got["note"] and "ptrace" in got["note"]
    assert _found(got, "_spin_for_the_profiler") > 0


def test_py_spy_output_is_parsed_with_files_shortened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", ["/srv/app", "/srv/app/venv/lib/python3.11/site-packages"])
    introspect.short_path.cache_clear()
    try:
        raw = ("<module> (/srv/app/main.py:3);run (/srv/app/venv/lib/python3.11/site-packages/ray/w.py:9) 4\n"
               "<module> (/srv/app/main.py:3);run (/srv/app/venv/lib/python3.11/site-packages/ray/w.py:9) 2\n"
               "thread (/elsewhere/x.py:1) 1\nnot a line\n")
        assert introspect.parse_raw(raw) == {"<module> (main.py:3);run (ray/w.py:9)": 6, "thread (x.py:1)": 1}
        # a package's module is named from its top package, with no sys.path entry above it
        # (a Ray worker imports Aria through the editable install's finder)
        assert introspect.short_path(introspect.__file__) == "aria_actors/runtime/introspect.py"
    finally:
        introspect.short_path.cache_clear()


@pytest.mark.parametrize("seconds", [0.05, 30.5, -1, True, "5", None, float("nan")])
def test_seconds_out_of_bounds_are_refused(seconds: Any) -> None:
    with pytest.raises(BadRequest):
        introspect.check_seconds(seconds)
    with pytest.raises(BadRequest):
        asyncio.run(introspect.profile(seconds, 100))
    with pytest.raises(BadRequest):
        asyncio.run(introspect.memory(seconds))


@pytest.mark.parametrize("rate", [0, 1001, 1.5, True, "100"])
def test_rates_out_of_bounds_are_refused(rate: Any) -> None:
    with pytest.raises(BadRequest):
        asyncio.run(introspect.profile(1.0, rate))


def test_one_profile_and_one_snapshot_at_a_time() -> None:
    with introspect._profiling, pytest.raises(Conflict):
        asyncio.run(introspect.profile(0.1, 10))
    with introspect._snapshotting, pytest.raises(Conflict):
        asyncio.run(introspect.memory(0.1))


def test_the_memory_snapshot_names_the_sites_that_allocated() -> None:
    kept: list[bytes] = []

    async def allocate_during_the_window() -> dict[str, Any]:
        async def fill() -> None:
            await asyncio.sleep(0.05)
            kept.extend(b"x" * 10_000 for _ in range(200))  # ~2 MB, still alive at the end

        task = asyncio.create_task(fill())
        got = await introspect.memory(0.3)
        await task
        return got

    assert not tracemalloc.is_tracing()
    got = asyncio.run(allocate_during_the_window())
    assert not tracemalloc.is_tracing()  # stopped again: it was not tracing before
    assert got["window_only"] and not got["was_tracing"]
    top = got["sites"][0]
    assert THIS_FILE + ":" in top["site"] and not top["site"].startswith("/"), got["sites"][:3]
    assert top["size_bytes"] >= 1_900_000 and top["count"] >= 200
    assert len(got["sites"]) <= introspect.TOP_SITES and got["traced_bytes"] >= top["size_bytes"]


def test_an_existing_trace_is_left_running() -> None:
    tracemalloc.start()
    try:
        got = asyncio.run(introspect.memory(0.1, top=5))
        assert got["was_tracing"] and not got["window_only"] and tracemalloc.is_tracing()
        assert len(got["sites"]) <= 5
    finally:
        tracemalloc.stop()


# -- inspect ---------------------------------------------------------------------------------------
SPEC = ServiceSpec(name="aria_monitor", layer=5)


class Holder(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.rounds = 7
        self.token = "a-secret-token-value"
        self.items = [1, 2, 3]
        self.ready = True
        self.secret = SecretStr("hidden-value")

    async def health(self) -> Health:
        return Health(Status.READY, "fine, see postgresql://u:hunter2@db/aria",
                      {"url": "https://a:hunter2@hook.example/x", "n": 3})


def test_inspect_tells_the_runtime_state_and_hides_secrets() -> None:
    settings = AriaSettings(database_url=SecretStr("postgresql://u:hunter2@db/aria"),
                            monitor={"webhooks": {"ops": "https://bot:hunter2@hook.example/alert"}})
    svc = Holder(settings)

    async def main() -> dict[str, Any]:
        bg = asyncio.create_task(asyncio.sleep(5), name="waiting")
        try:
            return await introspect.inspect(svc, svc.health, {"node_id": "n1", "pid": os.getpid()})
        finally:
            bg.cancel()

    got = asyncio.run(main())
    text = json.dumps(got)
    assert "hunter2" not in text and "a-secret-token-value" not in text and "hidden-value" not in text
    assert got["service"] == "aria_monitor" and got["pid"] == os.getpid() and got["node_id"] == "n1"
    assert got["python"] == sys.version.split()[0] and got["uptime_s"] > 0
    assert got["rss_bytes"] > 10_000_000 and got["open_fds"] > 2
    assert "MainThread" in got["threads"]["names"] and got["threads"]["count"] >= 1
    assert got["asyncio"]["count"] >= 2 and {"coroutine": "sleep", "count": 1} in got["asyncio"]["top"]
    assert got["health"]["status"] == "ready" and "***" in got["health"]["message"]
    assert got["health"]["details"]["url"] == "https://a:***@hook.example/x"
    assert got["settings"]["section"] == "monitor"
    assert got["settings"]["values"]["webhooks"]["value"] == {"ops": "https://bot:***@hook.example/alert"}
    holds = {h["name"]: h for h in got["holds"]}
    assert holds["rounds"] == {"name": "rounds", "type": "int", "value": 7}
    assert holds["token"] == {"name": "token", "type": "str", "size": 20}  # a string's value never shows
    assert holds["items"]["size"] == 3 and holds["ready"]["value"] is True
    assert holds["secret"] == {"name": "secret", "type": "pydantic.types.SecretStr"}
    assert "settings" not in holds and "deps" not in holds


def test_a_hung_health_probe_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(introspect, "HEALTH_TIMEOUT_S", 0.05)
    svc = Holder(AriaSettings())

    async def hang() -> Health:
        await asyncio.sleep(10)
        raise AssertionError

    got = asyncio.run(introspect.inspect(svc, hang, {}))
    assert got["health"]["status"] == "unknown" and "TimeoutError" in got["health"]["message"]


# -- the log level ---------------------------------------------------------------------------------
def test_the_log_level_of_the_aria_loggers() -> None:
    root, child, other = logging.getLogger("aria"), logging.getLogger("aria.test.leveled"), logging.getLogger("x.y")
    before = root.level, child.level, other.level
    child.setLevel(logging.WARNING)
    try:
        got = introspect.set_log_level("debug")
        assert got["level"] == "DEBUG" and got["loggers"] >= 2
        assert root.level == logging.DEBUG and child.level == logging.DEBUG and other.level == before[2]
        assert logging.getLogger("aria.test.unset").getEffectiveLevel() == logging.DEBUG
        assert introspect.set_log_level("INFO")["previous"] == "DEBUG"
        with pytest.raises(BadRequest):
            introspect.set_log_level("TRACE")
        with pytest.raises(BadRequest):
            introspect.set_log_level(10)  # type: ignore[arg-type]
    finally:
        root.setLevel(before[0])
        child.setLevel(before[1])


# -- who may open which door -------------------------------------------------------------------------
def test_only_the_debugger_opens_the_debuggers_doors() -> None:
    introspect.check_door("aria_monitor", "exposition")
    introspect.check_door("aria_debugger", "profile")
    for door in ("profile", "memory", "inspect", "log_level"):
        with pytest.raises(Forbidden):
            introspect.check_door("aria_monitor", door)
    with pytest.raises(NotFound):
        introspect.check_door("aria_debugger", "call")


def test_deps_knows_only_the_allowed_doors() -> None:
    opened: list[tuple[str, str, dict[str, Any]]] = []

    async def door_of(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        opened.append((name, door, kwargs))
        return "# metrics\n" if door == "exposition" else {"ok": True}

    deps = Deps({}, door_of=door_of)
    assert asyncio.run(deps.exposition_of("aria_data", 1.0)) == "# metrics\n"
    assert asyncio.run(deps.door("aria_data", "profile", 5.0, seconds=1.0, rate_hz=10)) == {"ok": True}
    for bad in ("stop", "call", "__init__", "health"):
        with pytest.raises(NotFound):
            asyncio.run(deps.door("aria_data", bad, 1.0))
    assert opened == [("aria_data", "exposition", {}), ("aria_data", "profile", {"seconds": 1.0, "rate_hz": 10})]

    async def fetch(name: str, timeout_s: float) -> str:  # the former way, still served
        return f"# {name}\n"

    assert asyncio.run(Deps({}, exposition_of=fetch).exposition_of("aria_x", 1.0)) == "# aria_x\n"
