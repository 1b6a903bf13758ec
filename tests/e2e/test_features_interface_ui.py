"""aria_interface's web UI manifest, the caller's API budget and presence through the gateway of a
running `aria up` (the shared one): ``GET /v1/interface/ui`` names only routes the running gateway
documents; ``GET /v1/interface/limits`` shows an editor's remaining budget go down as it makes
requests (the admin is not limited); two connections present on one character see each other by
name and see one leave, and a user who may not read the character is refused; the CLI
prints the manifest and the budget.

Names carry a run id so a rerun on the same `aria up` does not meet an earlier run's users."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e interface ui passphrase"
RECV_S = 120


@pytest.fixture(scope="module")
def admin(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=120) as client:
        yield client


def login(shared_aria: RunningAria, username: str) -> str:
    with httpx.Client(base_url=shared_aria.url, timeout=120) as c:
        got = c.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert got.status_code == 200, got.text
        return str(got.json()["access_token"])


@pytest.fixture(scope="module")
def users(shared_aria: RunningAria, admin: AriaClient) -> dict[str, str]:
    """An editor and a plain user (who may read no character), and their access tokens."""
    out = {}
    for who, role in (("ann", "editor"), ("ben", "user")):
        name = f"ui-{who}-{RUN}"
        admin.auth.create_user(name, PASSWORD, roles=[role])
        out[name] = login(shared_aria, name)
    return out


def ws_base(running: RunningAria) -> str:
    return "ws://" + running.url.removeprefix("http://")


def until(ws: ClientConnection, done: Any) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=RECV_S))
        if done(frame):
            return frame


def test_the_ui_manifest_names_only_routes_the_gateway_serves(shared_aria: RunningAria, users: dict[str, str]) -> None:
    token = next(iter(users.values()))
    with httpx.Client(base_url=shared_aria.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        assert http.get("/v1/interface/ui", headers={"Authorization": ""}).status_code == 401
        got = http.get("/v1/interface/ui")
        assert got.status_code == 200, got.text
        manifest = got.json()
        documented = http.get("/openapi.json").json()["paths"]
        page = http.get(manifest["page"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert {v["view"] for v in manifest["views"]} >= {"characters", "character", "dashboard", "docs"}
    assert set(manifest["features"]) == {"web-ui", "character-ui", "monitoring-dashboard", "collaboration", "rest"}
    for view in [manifest["shell"], *manifest["views"]]:
        for route in view["rest"]:
            method, path = route.split(" ", 1)
            if path == "/openapi.json":
                continue
            assert path in documented and method.lower() in documented[path], f"{route} is not served"
    character = next(v for v in manifest["views"] if v["view"] == "character")
    assert "presence:character:<id>" in character["topics"]
    assert "GET /v1/engine/characters/{character}/decision" in character["rest"]


def test_the_budget_goes_down_with_each_request(shared_aria: RunningAria, users: dict[str, str]) -> None:
    token = next(iter(users.values()))
    with httpx.Client(base_url=shared_aria.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        def left() -> dict[str, Any]:
            got = http.get("/v1/interface/limits")
            assert got.status_code == 200, got.text
            return {r["route"]: r for r in got.json()["routes"]}

        http.get("/v1/interface/topics").raise_for_status()
        before = left()["GET /v1/interface/topics"]
        for _ in range(3):
            http.get("/v1/interface/topics").raise_for_status()
        after = left()
        header = http.get("/v1/interface/topics")
    row = after["GET /v1/interface/topics"]
    assert row["limit"] == before["limit"] and row["limit"] > 0
    # three requests spent (all of this route's were made within this test: none has left the window)
    assert row["remaining"] == before["remaining"] - 3 and row["used"] == before["used"] + 3, (before, row)
    assert after["GET /v1/interface/limits"]["used"] == 2
    # the same figure as the limiter's own header, one request later
    assert int(header.headers["ratelimit-remaining"]) == row["remaining"] - 1
    assert int(header.headers["ratelimit-limit"]) == row["limit"]


def test_the_admin_is_not_limited(shared_aria: RunningAria) -> None:
    with httpx.Client(base_url=shared_aria.url, headers={"Authorization": f"Bearer {shared_aria.token()}"},
                      timeout=120) as http:
        got = http.get("/v1/interface/limits").json()
    assert got["enabled"] is True and got["limited"] is False


def test_two_users_are_present_on_a_character_and_a_stranger_is_refused(
        shared_aria: RunningAria, users: dict[str, str], admin: AriaClient) -> None:
    (ann, ann_token), (ben, ben_token) = users.items()
    made = httpx.post(f"{shared_aria.url}/v1/shape/characters", headers={"Authorization": f"Bearer {ann_token}"},
                      json={"template": "fantasy", "name": f"Present {RUN}", "describe": False}, timeout=120)
    assert made.status_code == 201, made.text
    topic = f"presence:character:{made.json()['id']}"
    url = f"{ws_base(shared_aria)}/v1/interface/ws"
    with connect(url, subprotocols=["bearer", ann_token], open_timeout=60) as one, \
            connect(url, subprotocols=["bearer", ann_token], open_timeout=60) as two, \
            connect(url, additional_headers={"Authorization": f"Bearer {ben_token}"}, open_timeout=60) as other:
        one.send(json.dumps({"op": "here", "topic": topic, "id": 1}))
        first = until(one, lambda f: f.get("id") == 1)
        assert first["type"] == "presence" and [m["name"] for m in first["members"]] == [ann]
        two.send(json.dumps({"op": "here", "topic": topic, "id": 2}))
        second = until(two, lambda f: f.get("id") == 2)
        assert [m["name"] for m in second["members"]] == [ann, ann] and second["you"] != first["you"]
        joined = until(one, lambda f: f["type"] == "presence" and "joined" in f["change"])
        assert joined["change"]["joined"] == second["you"]
        # Ben (role "user") may read no character: not Ann's to be present on, and nobody is told of him
        other.send(json.dumps({"op": "here", "topic": topic, "id": 3}))
        refused = until(other, lambda f: f.get("id") == 3)
        assert refused["type"] == "error" and refused["status"] in (403, 404), refused
        two.close()
        left = until(one, lambda f: f["type"] == "presence" and "left" in f["change"])
    assert left["change"] == {"left": second["you"], "reason": "disconnected"}
    assert [m["member"] for m in left["members"]] == [first["you"]]
    assert ben != ann


def test_the_cli_prints_the_manifest_and_the_budget(shared_aria: RunningAria) -> None:
    ui = shared_aria.aria("interface", "ui", timeout=300)
    assert ui.returncode == 0, ui.stderr
    assert "#/dashboard" in ui.stdout and "GET /v1/interface/limits" in ui.stdout
    budget = shared_aria.aria("interface", "limits", timeout=300)
    assert budget.returncode == 0, budget.stderr
    assert "not rate limited" in budget.stdout  # the CLI runs as the operator (admin)
