"""aria_debugger's service core, Ray-free: every RPC's permission, the audit written before a
profile, a snapshot or a log level change (and nothing done without it), masked settings, the
runtime changes; through the in-process launcher's real doors and through a fake one."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from aria_actors.debugger.service import DebuggerService
from aria_actors.debugger.spec import SPEC
from aria_actors.engine.spec import SPEC as ENGINE_SPEC
from aria_actors.runtime.errors import (
    AriaError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.runtime.testing import LocalLauncher, LocalUnit

ADMIN = Principal("root", ("admin",), kind="user")
OPERATOR = Principal("op", ("operator",), tenant="t1")
VIEWER = Principal("viewer", ("viewer",), tenant="t1")
SERVICE_TOKEN = Principal("svc-token", ("service",), kind="service")
SECRETS = ("hunter2", "s3cr3t-db", "bao-token-value")
SETTINGS = AriaSettings(database_url=SecretStr("postgresql://aria:s3cr3t-db@db/aria"),
                        monitor={"webhooks": {"ops": "https://bot:hunter2@hook.example/alert"}},
                        security={"openbao_token": "bao-token-value"})


class Security:
    """aria_security's transport: records audit events, or refuses to."""

    name = "aria_security"

    def __init__(self) -> None:
        self.events: list[tuple[Principal, dict[str, Any]]] = []
        self.down = False

    async def call(self, method: str, caller: Principal, *args: Any) -> Any:
        assert method == "record_events", method
        if self.down:
            raise ServiceUnavailable("aria_security is down")
        [events] = args
        self.events += [(caller, e) for e in events]
        return len(events)


class Engine(Service):
    """A stand-in for aria_engine: a thread spins while ``busy`` is set."""

    SPEC = ENGINE_SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.plans = 3

    async def health(self) -> Health:
        return Health(Status.READY, "planning", {"probe_ms": 1.5, "dsn": "postgresql://u:hunter2@db/x"})


def _plan_busily(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(500))


@pytest.fixture
def busy() -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=_plan_busily, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def world() -> Iterator[tuple[LocalClient, Security, LocalLauncher, DebuggerService]]:
    """The debugger over the in-process launcher's doors, with aria_engine running beside it."""
    launcher = LocalLauncher(SETTINGS)
    security = Security()
    debugger = DebuggerService(SETTINGS)
    launcher.units["aria_engine"] = LocalUnit(Engine(SETTINGS), launcher)
    launcher.units["aria_debugger"] = LocalUnit(debugger, launcher)
    asyncio.run(debugger.start(Deps({"aria_security": security}, door_of=launcher.door)))
    before = logging.getLogger("aria").level
    yield LocalClient(debugger), security, launcher, debugger
    logging.getLogger("aria").setLevel(before)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_profile_is_audited_then_taken_and_drawn(world: Any, busy: None) -> None:
    client, security, _, _ = world
    got = _run(client.call("profile", ADMIN, "aria_engine", 0.5, 200))
    assert got["service"] == "aria_engine" and got["sampler"] in ("py-spy", "python") and got["pid"] == os.getpid()
    assert any("_plan_busily" in line for line in got["folded"]), got["folded"][:3]
    assert got["svg"].startswith("<svg") and "_plan_busily" in got["svg"] and "<script" not in got["svg"]
    [(actor, event)] = security.events
    assert actor == Principal.internal("aria_debugger")
    assert event == {"op": "debugger.profile", "target": "aria_engine seconds=0.5 rate_hz=200", "outcome": "ok",
                     "subject": "root"}


def test_a_memory_snapshot_is_audited(world: Any) -> None:
    client, security, _, _ = world
    got = _run(client.call("memory", ADMIN, "aria_engine", 0.1))
    assert got["service"] == "aria_engine" and isinstance(got["sites"], list) and "traced_bytes" in got
    assert [e["op"] for _, e in security.events] == ["debugger.memory"]


def test_nothing_runs_when_the_audit_cannot_be_written(world: Any) -> None:
    client, security, launcher, _ = world
    security.down = True
    opened: list[str] = []
    real = launcher.door

    async def spy(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        opened.append(door)
        return await real(name, door, timeout_s, **kwargs)

    launcher.door = spy  # type: ignore[method-assign]
    world[3].deps = Deps({"aria_security": security}, door_of=spy)
    for method, args in (("profile", ("aria_engine", 0.2, 10)), ("memory", ("aria_engine", 0.2)),
                         ("set_log_level", ("aria_engine", "DEBUG"))):
        with pytest.raises(ServiceUnavailable, match="audit"):
            _run(client.call(method, ADMIN, *args))
    assert opened == []
    assert logging.getLogger("aria").level != logging.DEBUG


def test_a_failed_door_is_audited_as_an_error(world: Any) -> None:
    client, security, _, debugger = world

    async def broken(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        raise ServiceUnavailable(f"{name} is down")

    debugger.deps = Deps({"aria_security": security}, door_of=broken)
    with pytest.raises(ServiceUnavailable, match="is down"):
        _run(client.call("profile", ADMIN, "aria_engine", 1.0, 10))
    assert [e["outcome"] for _, e in security.events] == ["ok", "error"]


def test_a_wrapped_error_of_the_other_process_comes_back_as_itself(world: Any) -> None:
    client, security, _, debugger = world

    class Wrapped(Exception):  # what Ray raises for an error inside the other actor
        def __init__(self, cause: AriaError) -> None:
            super().__init__("RayTaskError(Conflict): Traceback ...")
            self.cause = cause

    async def wrapped(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        raise Wrapped(Conflict("a profile of this process is already running"))

    async def opaque(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        raise KeyError("internal detail")

    debugger.deps = Deps({"aria_security": security}, door_of=wrapped)
    with pytest.raises(Conflict, match="already running"):
        _run(client.call("inspect", ADMIN, "aria_engine"))
    debugger.deps = Deps({"aria_security": security}, door_of=opaque)
    with pytest.raises(ServiceUnavailable, match="inspect door failed: KeyError") as caught:
        _run(client.call("inspect", ADMIN, "aria_engine"))
    assert "internal detail" not in str(caught.value)


def test_one_profile_of_a_service_at_a_time(world: Any) -> None:
    client, security, _, debugger = world
    release = asyncio.Event()

    async def slow(name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        await release.wait()
        return {"pid": 1, "sampler": "python", "note": None, "started_at": 0.0, "samples": 0, "stacks": 0,
                "truncated": False, "folded": []}

    async def main() -> None:
        debugger.deps = Deps({"aria_security": security}, door_of=slow)
        first = asyncio.create_task(client.call("profile", ADMIN, "aria_engine", 1.0, 10))
        await asyncio.sleep(0.05)
        with pytest.raises(Conflict):
            await client.call("profile", ADMIN, "aria_engine", 1.0, 10)
        release.set()
        assert (await first)["samples"] == 0
        await client.call("profile", ADMIN, "aria_engine", 1.0, 10)  # free again

    _run(main())


def test_inspect_and_state_through_the_launchers_door(world: Any) -> None:
    client, security, _, _ = world
    got = _run(client.call("inspect", OPERATOR, "aria_engine"))
    assert got["service"] == "aria_engine" and got["pid"] == os.getpid() and got["node_id"] == "local"
    assert got["health"]["status"] == "ready" and got["settings"]["section"] == "engine"
    assert got["threads"]["count"] >= 1 and "holds" not in got
    state = _run(client.call("state", OPERATOR, "aria_engine"))
    assert state["health"]["details"]["probe_ms"] == 1.5
    assert {"name": "plans", "type": "int", "value": 3} in state["holds"]
    assert state["depends_on"] == list(ENGINE_SPEC.depends_on)
    text = json.dumps([got, state])
    assert not any(s in text for s in SECRETS)
    assert security.events == []  # reads are not audited here (the gateway logs requests)


def test_config_masks_every_secret_and_names_sources(world: Any) -> None:
    client, _, _, _ = world
    got = _run(client.call("config", OPERATOR))
    text = json.dumps(got)
    assert not any(s in text for s in SECRETS), [s for s in SECRETS if s in text]
    assert got["aria"]["database_url"]["value"] == "**********"
    assert got["services"]["aria_security"]["settings"]["openbao_token"]["value"] == "**********"
    hooks = got["services"]["aria_monitor"]["settings"]["webhooks"]
    assert hooks["value"] == {"ops": "https://bot:***@hook.example/alert"} and hooks["env"] == "ARIA_MONITOR_WEBHOOKS"
    assert hooks["source"] in ("default", "env", "toml")
    debugger = got["services"]["aria_debugger"]  # its own section: the console's and the log collection's
    assert debugger["section"] == "debugger" and debugger["settings"]["console_enabled"]["value"] is False
    one = _run(client.call("config", OPERATOR, "aria_engine"))
    assert list(one["services"]) == ["aria_engine"]
    with pytest.raises(NotFound):
        _run(client.call("config", OPERATOR, "aria_nope"))


def test_a_log_level_change_is_audited_made_and_listed(world: Any) -> None:
    client, security, _, _ = world
    got = _run(client.call("set_log_level", ADMIN, "aria_engine", "debug"))
    assert got["to"] == "DEBUG" and got["by"] == "root" and got["service"] == "aria_engine"
    assert logging.getLogger("aria").level == logging.DEBUG
    assert security.events[-1][1] == {"op": "debugger.log_level", "target": "aria_engine log_level=DEBUG",
                                      "outcome": "ok", "subject": "root"}
    config = _run(client.call("config", OPERATOR))
    [change] = config["changes"]
    assert change["from"] == got["from"] and change["to"] == "DEBUG" and change["at"] > 0
    assert config["services"]["aria_engine"]["runtime"] == {"log_level": "DEBUG"}
    assert _run(client.call("config", OPERATOR, "aria_data"))["changes"] == []
    with pytest.raises(BadRequest):
        _run(client.call("set_log_level", ADMIN, "aria_engine", "TRACE"))


def test_every_method_denies_by_default_with_its_permission(world: Any) -> None:
    client, security, _, _ = world
    denied = {
        ("profile", ("aria_engine", 0.2, 10)): (OPERATOR, VIEWER, SERVICE_TOKEN),
        ("memory", ("aria_engine", 0.2)): (OPERATOR, VIEWER, SERVICE_TOKEN),
        ("set_log_level", ("aria_engine", "DEBUG")): (OPERATOR, VIEWER, SERVICE_TOKEN),
        ("inspect", ("aria_engine",)): (VIEWER,),
        ("state", ("aria_engine",)): (VIEWER,),
        ("config", ()): (VIEWER,),
    }
    for (method, args), callers in denied.items():
        for caller in callers:
            with pytest.raises(Forbidden):
                _run(client.call(method, caller, *args))
        with pytest.raises(AriaError) as caught:
            _run(client.call(method, Principal.anonymous(), *args))
        assert caught.value.status == 401
    assert security.events == []  # refused before anything was recorded or opened


def test_names_and_bounds_are_checked_before_anything_runs(world: Any) -> None:
    client, security, _, _ = world
    for name in ("aria_nope", "../etc/passwd", "http://evil/", 3):
        with pytest.raises(NotFound):
            _run(client.call("profile", ADMIN, name, 1.0, 10))
        with pytest.raises(NotFound):
            _run(client.call("inspect", ADMIN, name))
    for seconds, rate in ((0.01, 10), (31, 10), (1.0, 0), (1.0, 5000), ("1", 10)):
        with pytest.raises(BadRequest):
            _run(client.call("profile", ADMIN, "aria_engine", seconds, rate))
    with pytest.raises(BadRequest):
        _run(client.call("profile", ADMIN, "aria_engine", 1.0, 10, output="/tmp/x"))  # no such argument
    assert security.events == []


def test_health_lists_what_is_missing() -> None:
    debugger = DebuggerService(SETTINGS)
    assert _run(debugger.health()).status == Status.STARTING
    _run(debugger.start(Deps({})))
    health = _run(debugger.health())
    built = len(SPEC.features) - len(SPEC.missing)  # each feature's agent adds its own to the spec
    assert health.status == (Status.NOT_IMPLEMENTED if SPEC.missing else Status.READY)
    assert f"{built} of 9" in health.message
    assert set(health.details["missing"]) == set(SPEC.missing) and "log-search" not in SPEC.missing
    assert isinstance(health.details["py_spy"], bool)
