"""``aria engine goap|bt|coordinate|repair|learn``: JSON files in, over the (router-only) gateway
or in-process with --local."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.engine.api import router
from aria_actors.engine.cli import app
from aria_actors.engine.service import EngineService
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.sdk import AriaClient
from tests.unit.engine import delivery
from tests.unit.engine.test_features_api import CAMP, CONFIG, FIRE, tools

runner = CliRunner()


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
async def gateway(tmp_path, monkeypatch):
    svc = EngineService(AriaSettings(home=tmp_path), config=CONFIG)
    await svc.start(Deps())
    app_ = api_app(router, clients={"aria_engine": LocalClient(svc)})
    monkeypatch.setattr(support, "make_client", lambda token, timeout: AriaClient(
        "http://testserver", http=TestClient(app_)))
    yield svc
    await svc.stop()


async def test_goap_and_coordinate_through_the_gateway(gateway, tmp_path) -> None:
    problem = write(tmp_path, "fire.json", {"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE})
    r = runner.invoke(app, ["goap", problem])
    assert r.exit_code == 0, r.output
    assert "get_axe" in r.output and "cost 7" in r.output
    r = runner.invoke(app, ["goap", write(tmp_path, "rain.json", {"state": CAMP, "goal": {"world": {"rain": True}},
                                                                  "actions": FIRE})])
    assert r.exit_code == 1 and "no_plan" in r.output
    r = runner.invoke(app, ["goap", write(tmp_path, "list.json", [1])])
    assert r.exit_code == 2
    request = write(tmp_path, "crew.json", {"characters": [
        {"character": "low", "domain": "workshop", "state": tools(), "todo": [["craft", "low", "x"]]},
        {"character": "high", "domain": "workshop", "state": tools(), "todo": [["craft", "high", "x"]],
         "priority": 9}], "resources": {"use": [2]}})
    r = runner.invoke(app, ["coordinate", request])
    assert r.exit_code == 0, r.output
    assert "low (priority 0): scheduled, delay 0, replanned, lost to high" in r.output
    assert "use(high, hammer)" in r.output and "use(low, saw)" in r.output


async def test_bt_and_repair_through_the_gateway(gateway, tmp_path) -> None:
    state = write(tmp_path, "state.json", delivery.state())
    tree = write(tmp_path, "tree.json", {"sequence": [{"task": ["deliver", "p1", "c"]}]})
    refused = write(tmp_path, "fail.json", [["drive", "a", "c"]])
    r = runner.invoke(app, ["bt", "delivery", tree, "--state", state, "--fail", refused])
    assert r.exit_code == 0, r.output
    assert "walk(a, c)" in r.output and "1 repairs" in r.output
    r = runner.invoke(app, ["bt", "delivery", write(tmp_path, "bad.json", {"action": ["teleport"]}), "--state", state])
    assert r.exit_code == 1 and "teleport" in r.output
    tasks, plan = write(tmp_path, "tasks.json", delivery.TODO), write(tmp_path, "plan.json", delivery.PLAN)
    r = runner.invoke(app, ["repair", "delivery", "--state", state, "--tasks", tasks, "--plan", plan, "--failed", "2"])
    assert r.exit_code == 0, r.output
    assert "*   3  walk(a, c)" in r.output and "re-refined task ['goto', 'c']" in r.output
    r = runner.invoke(app, ["repair", "delivery", "--state", state, "--tasks", tasks, "--plan", plan, "--failed", "1"])
    assert r.exit_code == 1 and "no repair" in r.output
    r = runner.invoke(app, ["repair", "delivery", "--state", state, "--tasks", tasks, "--plan", plan,
                            "--failed", "1", "--strategy", "bfs"])
    assert r.exit_code == 2


async def test_learn_stats_and_clear_through_the_gateway(gateway, tmp_path) -> None:
    state, tasks = write(tmp_path, "state.json", delivery.state()), write(tmp_path, "tasks.json", delivery.TODO)
    r = runner.invoke(app, ["learn", "delivery", "--state", state, "--tasks", tasks])
    assert r.exit_code == 0 and "0/6 method lookups hit" in r.output, r.output
    r = runner.invoke(app, ["learn", "delivery", "--state", state, "--tasks", tasks])
    assert "6/6 method lookups hit" in r.output, r.output
    r = runner.invoke(app, ["learn", "--stats"])
    assert r.exit_code == 0 and "delivery  6 entries, 6/12 lookups hit" in r.output, r.output
    r = runner.invoke(app, ["learn", "delivery", "--clear"])
    assert r.exit_code == 0 and "cleared: delivery" in r.output
    assert runner.invoke(app, ["learn", "--stats", "--clear"]).exit_code == 2
    assert runner.invoke(app, ["learn", "delivery"]).exit_code == 2
    r = runner.invoke(app, ["learn", "chess", "--problem", "p1"])
    assert r.exit_code == 1 and "chess" in r.output


def test_goap_and_bt_locally(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARIA_HOME", str(tmp_path))
    monkeypatch.setenv("ARIA_ENGINE_DOMAINS", json.dumps({"delivery": "python:tests.unit.engine.delivery:make_domain"}))
    monkeypatch.setenv("ARIA_ENGINE_GTPYHOP_EXAMPLES", "false")
    problem = write(tmp_path, "fire.json", {"state": CAMP, "goal": {"world": {"fire": True}}, "actions": FIRE})
    r = runner.invoke(app, ["goap", problem, "--local"])
    assert r.exit_code == 0 and "make_fire" in r.output, r.output
    r = runner.invoke(app, ["bt", "delivery", write(tmp_path, "tree.json", {"task": ["goto", "a"]}),
                            "--state", write(tmp_path, "state.json", delivery.state()), "--local"])
    assert r.exit_code == 0 and "drive(depot, a)" in r.output, r.output
