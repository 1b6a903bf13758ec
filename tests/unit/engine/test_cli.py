from __future__ import annotations

import json

from typer.testing import CliRunner

from aria_actors.engine.cli import app

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
