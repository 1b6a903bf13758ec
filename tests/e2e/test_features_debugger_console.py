"""aria_debugger's debug console, hot reload and live dependency graph through the gateway of the
shared `aria up` (FEATURE_SETTINGS turn the console on): an administrator runs Python in aria_tune's
own process, audited before it runs; an operator's and a viewer's console commands are refused by
the gateway and the refusals are in the audit log; aria_tune is reloaded (a new pid, every other
service's pid unchanged, ready again); the graph as JSON and SVG, from REST and `aria debugger`."""

from __future__ import annotations

import base64
import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem, until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e console passphrase"
TARGET = "aria_tune"  # a leaf: nothing depends on it, so its reload disturbs no other service
CSP = "default-src 'none'; style-src 'unsafe-inline'"
RUN_ROUTE = "/v1/debugger/console/{session}/run"


def _sub(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


@pytest.fixture(scope="module")
def accounts(shared_aria: RunningAria, aria: AriaClient) -> dict[str, dict[str, Any]]:
    """An operator's and a viewer's bearer headers and token subjects (logged in through aria_auth)."""
    out = {}
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        for role in ("operator", "viewer"):
            name = f"console-{role}-{RUN}"
            aria.auth.create_user(name, PASSWORD, roles=[role])
            token = anon.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
            access = token.raise_for_status().json()["access_token"]
            out[role] = {"headers": {"authorization": f"Bearer {access}"}, "sub": _sub(access)}
    return out


def _pids(http: httpx.Client) -> dict[str, int]:
    return {s["name"]: s["pid"] for s in http.get("/v1/services").raise_for_status().json()["services"]}


def test_an_administrator_runs_python_in_a_services_process(http: httpx.Client, aria: AriaClient) -> None:
    opened = http.post("/v1/debugger/console", json={"service": TARGET})
    assert opened.status_code == 200, opened.text[:500]
    sid, pid = opened.json()["session"], opened.json()["pid"]
    assert pid == _pids(http)[TARGET] and {"service", "spec", "settings"} <= set(opened.json()["names"])
    got = http.post(f"/v1/debugger/console/{sid}/run",
                    json={"source": "import os\nprint(spec.name, type(service).__name__)\nos.getpid()"})
    assert got.status_code == 200, got.text[:500]
    answer = got.json()
    assert answer["result"] == str(pid) and answer["stdout"] == "aria_tune TuneService\n", answer
    assert answer["error"] is None and answer["timed_out"] is False and answer["service"] == TARGET
    # interactive semantics and errors as text, the process unharmed
    assert http.post(f"/v1/debugger/console/{sid}/run", json={"source": "for i in range(2):"}).json()["incomplete"]
    http.post(f"/v1/debugger/console/{sid}/run", json={"source": "    print(i)"})
    assert http.post(f"/v1/debugger/console/{sid}/run", json={"source": ""}).json()["stdout"] == "0\n1\n"
    boom = http.post(f"/v1/debugger/console/{sid}/run", json={"source": "1/0"}).json()
    assert "ZeroDivisionError" in boom["error"]
    assert http.get(f"/v1/debugger/services/{TARGET}/inspect").json()["pid"] == pid
    # audited before it ran, as the debugger for the caller
    events = aria.security.audit(op="debugger.console.run", actor="svc:aria_debugger", limit=50)
    assert [e for e in events if e["outcome"] == "ok" and e["target"].startswith(f"{TARGET} session={sid[:8]}")
            and "os.getpid()" in e["target"]], events
    closed = http.delete(f"/v1/debugger/console/{sid}")
    assert closed.status_code == 200 and closed.json()["closed"] is True
    assert_problem(http.post(f"/v1/debugger/console/{sid}/run", json={"source": "1"}), 404, "not-found")
    assert aria.security.audit(op="debugger.console.close", limit=20)


def test_a_non_administrators_console_command_is_refused_and_audited(
        shared_aria: RunningAria, http: httpx.Client, aria: AriaClient, accounts: dict[str, dict[str, Any]]) -> None:
    sid = http.post("/v1/debugger/console", json={"service": TARGET}).raise_for_status().json()["session"]
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        for role in ("operator", "viewer"):
            headers = accounts[role]["headers"]
            assert_problem(anon.post(f"/v1/debugger/console/{sid}/run", json={"source": "service.settings"},
                                     headers=headers), 403, "forbidden")
            assert_problem(anon.post("/v1/debugger/console", json={"service": TARGET}, headers=headers),
                           403, "forbidden")
            assert_problem(anon.post(f"/v1/debugger/services/{TARGET}/reload", headers=headers), 403, "forbidden")

    def refusals() -> list[dict[str, Any]]:
        events = aria.security.audit(op="gateway_denial", limit=500)
        return [e for e in events if RUN_ROUTE in e["target"] and e["outcome"] == "denied"
                and e.get("subject") in {f"sub:{accounts[r]['sub']}" for r in ("operator", "viewer")}]

    found = until(lambda: len(refusals()) >= 2 and refusals(), "the console refusals in the audit log", 60)
    assert {e.get("subject") for e in found} == {f"sub:{accounts[r]['sub']}" for r in ("operator", "viewer")}
    assert all(e["target"].startswith("forbidden 403 POST") for e in found), found
    # nothing ran for them: the session's commands are the administrator's alone
    ran = aria.security.audit(op="debugger.console.run", limit=100)
    assert not [e for e in ran if e["target"].startswith(f"{TARGET} session={sid[:8]}")]
    http.delete(f"/v1/debugger/console/{sid}")


def test_reload_replaces_one_service_and_no_other(http: httpx.Client, aria: AriaClient) -> None:
    before = _pids(http)
    got = http.post(f"/v1/debugger/services/{TARGET}/reload")
    assert got.status_code == 200, got.text[:500]
    answer = got.json()
    assert answer["old_pid"] == before[TARGET] and answer["new_pid"] != before[TARGET] and answer["up"] is True
    assert answer["package"] == "aria_actors.tune" and len(answer["new_code"]) == 64
    assert answer["code_changed"] is False  # the same sources on disk
    after = until(lambda: (p := _pids(http)) and p.get(TARGET) == answer["new_pid"] and p, "the new pid listed")
    assert {n: p for n, p in after.items() if n != TARGET} == {n: p for n, p in before.items() if n != TARGET}
    services = {s["name"]: s for s in http.get("/v1/services").json()["services"]}
    assert services[TARGET]["status"] in ("ready", "not_implemented", "degraded")
    assert http.get(f"/v1/debugger/services/{TARGET}/inspect").json()["code"]["sha256"] == answer["new_code"]
    assert [e for e in aria.security.audit(op="debugger.reload", limit=20)
            if e["target"] == TARGET and e["actor"] == "svc:aria_debugger" and e["outcome"] == "ok"]
    # the debugger and the gateway are not reloaded through themselves; unknown services are 404
    assert_problem(http.post("/v1/debugger/services/aria_debugger/reload"), 409, "conflict")
    assert_problem(http.post("/v1/debugger/services/aria_coordinate/reload"), 409, "conflict")
    assert_problem(http.post("/v1/debugger/services/aria_nope/reload"), 404, "not-found")


def test_the_live_dependency_graph(shared_aria: RunningAria, http: httpx.Client,
                                   accounts: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    got = http.get("/v1/debugger/graph")
    assert got.status_code == 200, got.text[:500]
    graph = got.json()
    nodes = {n["name"]: n for n in graph["nodes"]}
    specs = {s.name: s for s in all_specs()}
    assert set(nodes) == set(specs)
    pids = _pids(http)
    for name, node in nodes.items():
        assert node["layer"] == specs[name].layer and node["depends_on"] == list(specs[name].depends_on)
        assert node["pid"] == pids[name] and node["status"] and node["node_id"]
    assert {(e["from"], e["to"]) for e in graph["edges"]} == {(n, d) for n, s in specs.items() for d in s.depends_on}
    assert all(e["state"] == ("up" if nodes[e["to"]]["up"] else "down") for e in graph["edges"])
    ET.fromstring(graph["svg"])
    svg = http.get("/v1/debugger/graph.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-security-policy"] == CSP and svg.headers["x-content-type-options"] == "nosniff"
    assert "aria_tune" in svg.text and "<script" not in svg.text
    # operators read it, viewers do not
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/debugger/graph", headers=accounts["operator"]["headers"]).status_code == 200
        assert_problem(anon.get("/v1/debugger/graph.svg", headers=accounts["viewer"]["headers"]), 403, "forbidden")
    # and the CLI
    env = {"ARIA_TOKEN": shared_aria.token()}
    out = shared_aria.aria("debugger", "graph", "--svg", str(tmp_path / "graph.svg"), env=env)
    assert out.returncode == 0, out.stderr
    assert "aria_tune" in out.stdout and (tmp_path / "graph.svg").read_text().startswith("<svg")


def test_the_cli_console_runs_a_command(shared_aria: RunningAria, http: httpx.Client) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    out = shared_aria.aria("debugger", "console", TARGET, "--command", "import os; os.getpid()", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(_pids(http)[TARGET])
    failed = shared_aria.aria("debugger", "console", TARGET, "--command", "1/0", env=env)
    assert failed.returncode == 1 and "ZeroDivisionError" in failed.stderr
