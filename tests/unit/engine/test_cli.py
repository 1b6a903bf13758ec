from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.engine.api import router
from aria_actors.engine.cli import app
from aria_actors.engine.config import EngineConfig
from aria_actors.engine.service import EngineService
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.sdk import AriaClient
from tests.unit.engine import priced

runner = CliRunner()


def test_plan_locally_from_files(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARIA_HOME", str(tmp_path))
    monkeypatch.setenv("ARIA_ENGINE_DOMAINS", json.dumps({"workshop": "python:tests.unit.engine.workshop:make_domain"}))
    monkeypatch.setenv("ARIA_ENGINE_GTPYHOP_EXAMPLES", "false")
    state = tmp_path / "state.json"
    tasks = tmp_path / "tasks.json"
    state.write_text(json.dumps({"name": "s", "vars": {"done": {}, "made": {}}}))
    tasks.write_text(json.dumps([["craft", "me", "box"]]))
    r = runner.invoke(app, ["plan", "workshop", "--state", str(state), "--tasks", str(tasks), "--local"])
    assert r.exit_code == 0, r.output
    assert "use(me, hammer)" in r.output and "finish(me, box)" in r.output
    r = runner.invoke(app, ["domains", "--local"])
    assert "workshop" in r.output


def test_errors_and_bad_usage(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARIA_HOME", str(tmp_path))
    monkeypatch.setenv("ARIA_ENGINE_GTPYHOP_EXAMPLES", "false")
    r = runner.invoke(app, ["plan", "chess", "--problem", "p1", "--local"])
    assert r.exit_code == 1 and "chess" in r.output
    r = runner.invoke(app, ["plan", "chess", "--local"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["plan", "chess", "--problem", "p1", "--strategy", "bfs", "--local"])
    assert r.exit_code == 2



async def test_describe_and_plan_through_the_gateway(tmp_path, monkeypatch) -> None:
    config = EngineConfig(domains={"priced": "python:tests.unit.engine.priced:make_domain"},
                          gtpyhop_examples=False)
    svc = EngineService(AriaSettings(home=tmp_path), config=config)
    await svc.start(Deps())
    gateway = api_app(router, clients={"aria_engine": LocalClient(svc)})
    monkeypatch.setattr(support, "make_client", lambda token, timeout: AriaClient(
        "http://testserver", http=TestClient(gateway)))
    try:
        r = runner.invoke(app, ["describe", "priced"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["predicates"] == ["road"]
        state, tasks = tmp_path / "state.json", tmp_path / "tasks.json"
        state.write_text(json.dumps(priced.state()))
        tasks.write_text(json.dumps([["go", "d"]]))
        r = runner.invoke(app, ["plan", "priced", "--state", str(state), "--tasks", str(tasks), "--cheapest"])
        assert r.exit_code == 0, r.output
        assert "move(a, c)" in r.output and "cost 3" in r.output
        r = runner.invoke(app, ["describe", "chess"])
        assert r.exit_code == 1 and "chess" in r.output
    finally:
        await svc.stop()
