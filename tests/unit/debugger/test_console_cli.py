"""``aria debugger console|reload|graph`` over the debugger's router mounted in process: the
interactive loop (prompts, incomplete input, quitting), ``--command`` and its exit status, the
session closed on the way out, reload and graph output."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.debugger.api import router
from aria_actors.debugger.cli import app
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.testing import api_app
from aria_actors.sdk import AriaClient
from tests.unit.debugger.test_console_service import ON, _world

runner = CliRunner()
ADMIN = Principal("root", ("admin",), kind="user")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Any:
    client, security, supervisor, debugger = _world(ON)
    gateway = api_app(router, clients={"aria_debugger": client}, caller=ADMIN)
    monkeypatch.setattr(support, "make_client", lambda token, timeout: AriaClient(
        "http://testserver", http=TestClient(gateway)))
    return security, supervisor, debugger


def test_the_interactive_console(world: Any) -> None:
    security, _, debugger = world
    lines = "x = 2\nfor i in range(2):\n    print(i)\n\nx * 21\nraise ValueError('no')\n:quit\n"
    r = runner.invoke(app, ["console", "aria_engine"], input=lines)
    assert r.exit_code == 0, r.output
    assert "0\n1\n" in r.stdout and "42" in r.stdout and "ValueError: no" in r.output
    assert debugger._consoles == {}  # closed on the way out
    ops = [e["op"] for _, e in security.events]
    assert ops[0] == "debugger.console.open" and ops[-1] == "debugger.console.close"
    assert ops.count("debugger.console.run") == 6


def test_one_command_and_its_exit_status(world: Any) -> None:
    r = runner.invoke(app, ["console", "aria_engine", "--command", "spec.name"])
    assert r.exit_code == 0 and r.stdout.strip() == "'aria_engine'", r.output
    r = runner.invoke(app, ["console", "aria_engine", "--command", "for i in range(2):\n    print(i)"])
    assert r.exit_code == 0 and r.stdout == "0\n1\n", r.output
    r = runner.invoke(app, ["console", "aria_engine", "--command", "1/0"])
    assert r.exit_code == 1 and "ZeroDivisionError" in r.output
    r = runner.invoke(app, ["console", "aria_nope", "--command", "1"])
    assert r.exit_code == 1 and "aria_nope" in r.output and "Traceback" not in r.output


def test_reload_and_graph(world: Any, tmp_path: Any) -> None:
    _, supervisor, _ = world
    r = runner.invoke(app, ["reload", "aria_engine"])
    assert r.exit_code == 0 and "aria_engine: pid" in r.stdout and "same code" in r.stdout, r.output
    assert supervisor.restarted == ["aria_engine"]
    r = runner.invoke(app, ["reload", "aria_debugger"])
    assert r.exit_code == 1 and "aria restart" in r.output
    svg = tmp_path / "g.svg"
    r = runner.invoke(app, ["graph", "--svg", str(svg)])
    assert r.exit_code == 0 and "aria_tune" in r.stdout and svg.read_text().startswith("<svg"), r.output
