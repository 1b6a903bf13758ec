"""aria_debugger's console, hot reload and dependency graph RPCs, Ray-free: through the in-process
launcher's console door and a fake supervisor. Who may, the audit written before anything runs (and
nothing done without it), sessions bound to their owner, the console off by default, reload refusing
the debugger and the gateway, and the graph's nodes, edges and SVG."""

from __future__ import annotations

import asyncio
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from aria_actors.debugger import depgraph
from aria_actors.debugger.service import DebuggerService
from aria_actors.engine.spec import SPEC as ENGINE_SPEC
from aria_actors.runtime import reload
from aria_actors.runtime.console import ConsoleDisabled
from aria_actors.runtime.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.runtime.testing import LocalLauncher, LocalUnit
from tests.unit.debugger.test_service import Security

ADMIN = Principal("root", ("admin",), kind="user")
OTHER_ADMIN = Principal("root2", ("admin",), kind="user")
OPERATOR = Principal("op", ("operator",), tenant="t1")
VIEWER = Principal("viewer", ("viewer",), tenant="t1")
ON = AriaSettings(debugger={"console_enabled": True, "console_timeout_s": 2.0})


class Engine(Service):
    SPEC = ENGINE_SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.plans = 3

    async def health(self) -> Health:
        return Health(Status.READY, "planning")


class Supervisor:
    """The boot actor's status and restart: a restart gives the service a new pid."""

    def __init__(self) -> None:
        self.pids = {s.name: 1000 + i for i, s in enumerate(all_specs())}
        self.restarted: list[str] = []

    async def __call__(self, op: str, timeout_s: float, **kwargs: Any) -> Any:
        if op == "status":
            return {"phase": "running", "services": [
                {"name": n, "status": "failed" if n == "aria_tune" else "ready", "pid": p, "node": "n1",
                 "restarts": 0} for n, p in self.pids.items()]}
        assert op == "restart"
        name = kwargs["name"]
        self.restarted.append(name)
        self.pids[name] += 1
        return {"name": name, "status": "ready", "pid": self.pids[name], "restarts": 1, "message": "ok"}


def _world(settings: AriaSettings) -> tuple[LocalClient, Security, Supervisor, DebuggerService]:
    launcher = LocalLauncher(settings)
    security, supervisor = Security(), Supervisor()
    debugger = DebuggerService(settings)
    launcher.units["aria_engine"] = LocalUnit(Engine(settings), launcher)
    launcher.units["aria_debugger"] = LocalUnit(debugger, launcher)
    asyncio.run(debugger.start(Deps({"aria_security": security}, door_of=launcher.door, supervisor_of=supervisor)))
    return LocalClient(debugger), security, supervisor, debugger


@pytest.fixture
def world() -> Iterator[tuple[LocalClient, Security, Supervisor, DebuggerService]]:
    yield _world(ON)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_an_administrator_runs_python_in_the_process_audited_first(world: Any) -> None:
    client, security, _, _ = world
    opened = _run(client.call("console_open", ADMIN, "aria_engine"))
    sid = opened["session"]
    assert opened["pid"] == os.getpid() and {"service", "spec", "settings"} <= set(opened["names"])
    got = _run(client.call("console_run", ADMIN, sid, "import os\nprint(service.plans)\n(os.getpid(), spec.name)"))
    assert got["stdout"] == "3\n" and got["result"] == repr((os.getpid(), "aria_engine")) and got["error"] is None
    assert _run(client.call("console_run", ADMIN, sid, "def f():"))["incomplete"] is True
    assert _run(client.call("console_run", ADMIN, sid, "    return 7"))["incomplete"] is True
    assert _run(client.call("console_run", ADMIN, sid, ""))["incomplete"] is False
    assert _run(client.call("console_run", ADMIN, sid, "f()"))["result"] == "7"
    assert "ZeroDivisionError" in _run(client.call("console_run", ADMIN, sid, "1/0"))["error"]
    closed = _run(client.call("console_close", ADMIN, sid))
    assert closed["closed"] is True and closed["commands"] == 6
    ops = [e["op"] for _, e in security.events]
    assert ops == ["debugger.console.open", *["debugger.console.run"] * 6, "debugger.console.close"]
    run_event = security.events[1][1]
    assert run_event["subject"] == "root" and run_event["target"] == (
        f"aria_engine session={sid[:8]} import os ⏎ print(service.plans) ⏎ (os.getpid(), spec.name)")
    assert "print(service.plans) ⏎ (os.getpid(), spec.name)" in run_event["target"]
    with pytest.raises(NotFound):
        _run(client.call("console_run", ADMIN, sid, "1"))


def test_a_command_the_audit_cannot_hold_whole_is_refused_unrun(world) -> None:
    client, security, _, _ = world
    sid = _run(client.call("console_open", ADMIN, "aria_engine"))["session"]
    hidden = "#" * 250 + "\nimport os"
    with pytest.raises(BadRequest):
        _run(client.call("console_run", ADMIN, sid, hidden))
    with pytest.raises(BadRequest):
        _run(client.call("console_run", ADMIN, sid, "x = 1\x1b[2K"))  # a terminal escape hides text
    assert [e["op"] for _, e in security.events] == ["debugger.console.open"]


def test_a_session_is_its_owners(world: Any) -> None:
    client, _, _, _ = world
    sid = _run(client.call("console_open", ADMIN, "aria_engine"))["session"]
    with pytest.raises(NotFound):
        _run(client.call("console_run", OTHER_ADMIN, sid, "1"))
    with pytest.raises(NotFound):
        _run(client.call("console_close", OTHER_ADMIN, sid))


def test_only_administrators_reload_and_use_the_console_operators_read_the_graph(world: Any) -> None:
    client, security, supervisor, _ = world
    for who in (OPERATOR, VIEWER):
        with pytest.raises(Forbidden):
            _run(client.call("console_open", who, "aria_engine"))
        with pytest.raises(Forbidden):
            _run(client.call("reload", who, "aria_engine"))
    with pytest.raises(Forbidden):
        _run(client.call("graph", VIEWER))
    assert _run(client.call("graph", OPERATOR))["nodes"]
    assert security.events == [] and supervisor.restarted == []


def test_the_console_is_off_by_default() -> None:
    client, security, _, _ = _world(AriaSettings())
    with pytest.raises(ConsoleDisabled) as refused:
        _run(client.call("console_open", ADMIN, "aria_engine"))
    assert refused.value.status == 409 and refused.value.type == "console-disabled" and security.events == []


def test_nothing_runs_when_the_audit_cannot_be_written(world: Any) -> None:
    client, security, supervisor, _ = world
    sid = _run(client.call("console_open", ADMIN, "aria_engine"))["session"]
    security.down = True
    with pytest.raises(ServiceUnavailable):
        _run(client.call("console_run", ADMIN, sid, "service.plans = 99"))
    with pytest.raises(ServiceUnavailable):
        _run(client.call("reload", ADMIN, "aria_engine"))
    security.down = False
    assert _run(client.call("console_run", ADMIN, sid, "service.plans"))["result"] == "3"
    assert supervisor.restarted == []


def test_reload_restarts_one_service_and_tells_old_and_new(world: Any) -> None:
    client, security, supervisor, _ = world
    got = _run(client.call("reload", ADMIN, "aria_engine"))
    assert supervisor.restarted == ["aria_engine"]
    assert got["service"] == "aria_engine" and got["status"] == "ready" and got["up"] is True
    # in process the "new" unit is the same process: same digest, same pid
    assert got["old_pid"] == got["new_pid"] == os.getpid() and got["code_changed"] is False
    assert got["old_code"] == reload.code_digest("aria_actors.engine")["sha256"]
    assert got["package"] == "aria_actors.engine"
    assert [e for _, e in security.events] == [{"op": "debugger.reload", "target": "aria_engine", "outcome": "ok",
                                                "subject": "root"}]
    for name in ("aria_debugger", "aria_coordinate"):
        with pytest.raises(Conflict):
            _run(client.call("reload", ADMIN, name))
    with pytest.raises(NotFound):
        _run(client.call("reload", ADMIN, "aria_nothing"))
    assert supervisor.restarted == ["aria_engine"]


def test_the_graph_has_every_service_edges_with_state_and_an_svg(world: Any) -> None:
    client, _, supervisor, _ = world
    got = _run(client.call("graph", ADMIN))
    nodes = {n["name"]: n for n in got["nodes"]}
    assert set(nodes) == {s.name for s in all_specs()}
    assert nodes["aria_data"]["pid"] == supervisor.pids["aria_data"] and nodes["aria_data"]["node_id"] == "n1"
    edges = {(e["from"], e["to"]): e["state"] for e in got["edges"]}
    assert edges == {(s.name, d): ("down" if d == "aria_tune" else "up") for s in all_specs() for d in s.depends_on}
    root = ET.fromstring(got["svg"])
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("aria_tune (layer") and "failed" in t for t in titles)
    assert "<script" not in got["svg"] and "href" not in got["svg"]


def test_the_graph_escapes_names_and_marks_unknown_services() -> None:
    built = depgraph.build(all_specs(), {"services": [{"name": "aria_data", "status": "<b>&odd"}]})
    nodes = {n["name"]: n for n in built["nodes"]}
    assert nodes["aria_auth"]["status"] == "unknown" and nodes["aria_data"]["up"] is False
    assert {e["state"] for e in built["edges"] if e["to"] == "aria_security"} == {"unknown"}
    text = depgraph.svg(built, title="<t>")
    ET.fromstring(text)
    assert "<b>" not in text and "&lt;b&gt;&amp;odd" in text


def test_the_supervisor_and_the_console_door_are_the_debuggers_only() -> None:
    reload.check_supervisor("aria_debugger", "restart")
    with pytest.raises(Forbidden):
        reload.check_supervisor("aria_monitor", "status")
    with pytest.raises(NotFound):
        reload.check_supervisor("aria_debugger", "shutdown")
    from aria_actors.runtime import introspect

    introspect.check_door("aria_debugger", "console")
    with pytest.raises(Forbidden):
        introspect.check_door("aria_monitor", "console")
