"""``aria coordinate routes|versions|balancing|cors`` against the in-process gateway."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.coordinate.cli import app
from aria_actors.sdk import AriaClient
from tests.unit.coordinate.apps import build, directory

runner = CliRunner(env={"COLUMNS": "200"})  # tables unfolded


@pytest.fixture
async def gateway(monkeypatch):
    gw = build(await directory(), cors_origins=["https://studio.example"])
    # A client per command: the command closes the SDK client it was given.
    monkeypatch.setattr(support, "make_client",
                        lambda token, timeout: AriaClient("http://testserver", http=TestClient(gw)))
    return TestClient(gw)


async def test_routes_lists_what_the_gateway_served(gateway) -> None:
    for _ in range(3):
        gateway.get("/v1/t/t_left/pid")
    r = runner.invoke(app, ["routes", "--json"])
    assert r.exit_code == 0, r.output
    by_route = {x["route"]: x for x in json.loads(r.output)["routes"]}
    assert by_route["/v1/t/{service}/pid"]["count"] == 3
    table = runner.invoke(app, ["routes"])
    assert table.exit_code == 0 and "/v1/t/{service}/pid" in table.output and "p95 ms" in table.output


async def test_versions_and_cors(gateway) -> None:
    r = runner.invoke(app, ["versions"])
    assert r.exit_code == 0 and "v1" in r.output and "current" in r.output
    r = runner.invoke(app, ["cors"])
    assert r.exit_code == 0 and "origins: https://studio.example" in r.output


async def test_balancing_names_each_services_policy(gateway) -> None:
    r = runner.invoke(app, ["balancing", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert set(body) == {"t_base", "t_left", "t_right", "t_lone", "t_top", "t_broken"}
    assert body["t_left"]["load_balancing"]["policy"] == "single-actor"
    one = runner.invoke(app, ["balancing", "t_top"])
    assert one.exit_code == 0 and "single-actor" in one.output and "t_left" not in one.output
    missing = runner.invoke(app, ["balancing", "nope"])
    assert missing.exit_code == 1 and "nope" in missing.output
