"""aria_monitor's health history and live dependency graph through the gateway of a running `aria
up` (the shared one), from REST, the SDK and `aria monitor`: every service with the status the
gateway's own ``GET /v1/services`` reports, the specs' edges, bad input and who may read them.
Nothing is killed here (test_features_monitor.py kills aria_tune for its alert)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e monitor health passphrase"
SPECS = {s.name: s for s in all_specs()}
UP = {"ready", "not_implemented"}


def _services(http: httpx.Client) -> dict[str, str]:
    return {s["name"]: s["status"] for s in http.get("/v1/services").raise_for_status().json()["services"]}


def _agreeing(http: httpx.Client, read: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str] | None]:
    """A check: ``read()``'s statuses when they equal what /v1/services says just before and just
    after (a service may change status between two reads: the caller retries)."""
    def check() -> dict[str, str] | None:
        before = _services(http)
        got = read()
        after = _services(http)
        return got if got == before == after else None
    return check


def test_the_dependency_graph_has_every_service_with_the_gateways_status(http: httpx.Client) -> None:
    graphs: list[dict[str, Any]] = []

    def read() -> dict[str, str]:
        r = http.get("/v1/monitor/dependencies")
        assert r.status_code == 200, r.text[:500]
        graphs.append(r.json())
        return {n["name"]: n["status"] for n in graphs[-1]["nodes"]}

    statuses = _until(_agreeing(http, read), "graph agreeing with GET /v1/services")
    graph = graphs[-1]
    assert set(statuses) == set(SPECS) and "unknown" not in statuses.values()
    nodes = {n["name"]: n for n in graph["nodes"]}
    for name, spec in SPECS.items():
        assert (nodes[name]["layer"], nodes[name]["kind"]) == (spec.layer, spec.kind)
        assert nodes[name]["depends_on"] == list(spec.depends_on)
        assert nodes[name]["up"] == (statuses[name] in UP)
    edges = {(e["service"], e["dependency"]): e for e in graph["edges"]}
    assert set(edges) == {(s.name, d) for s in SPECS.values() for d in s.depends_on}
    for (_, dep), edge in edges.items():
        assert edge["state"] == ("ok" if statuses[dep] in UP else "down"), edge
    assert set(graph["blast_radius"]) == {n for n, st in statuses.items() if st not in UP}
    assert set(graph["degraded"]) == {n for n, st in statuses.items() if st == "degraded"}
    assert graph["at"] <= time.time()


def test_the_health_history_covers_every_service(http: httpx.Client, aria: AriaClient) -> None:
    def read() -> dict[str, str]:
        r = http.get("/v1/monitor/health/history", params={"window_s": 600})
        assert r.status_code == 200, r.text[:500]
        body = r.json()
        assert body["window_s"] == 600
        return {s["service"]: s["current"] for s in body["services"]}

    statuses = _until(_agreeing(http, read), "health history agreeing with GET /v1/services")
    assert set(statuses) == set(SPECS)
    # a few collections later (one a second): time covered, the gateway read, shares that add up
    def covered() -> dict[str, Any] | None:
        body = aria.monitor.health_history("aria_data", 600)
        return body if body["services"][0]["observed_s"] >= 3 else None

    [data] = _until(covered, "three seconds of history")["services"]
    assert data["service"] == "aria_data" and data["scrapes"] >= 3
    assert 0 < data["scrape_availability"] <= 1
    known = sum(s for st, s in data["seconds"].items() if st != "unknown")
    assert sum(data["seconds"].values()) == pytest.approx(data["observed_s"])
    assert data["up_share"] == pytest.approx(data["up_s"] / known)
    assert data["restarts"] >= 0 and all(m["from"] != m["to"] for m in data["transitions"])


def test_bad_input_is_a_clear_problem(http: httpx.Client) -> None:
    _problem(http.get("/v1/monitor/health/history", params={"service": "aria_nothing"}), 404, "not-found")
    _problem(http.get("/v1/monitor/health/history", params={"window_s": 1}), 422, "validation")
    _problem(http.get("/v1/monitor/health/history", params={"window_s": "soon"}), 422, "validation")
    _problem(http.get("/v1/monitor/health/history", params={"window_s": 86400}), 400, "bad-request")  # > retention


def test_a_viewer_may_not_read_them(shared_aria: RunningAria, aria: AriaClient) -> None:
    user = f"mon-health-viewer-{RUN}"
    aria.auth.create_user(user, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/monitor/dependencies").status_code == 401
        token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        for path in ("/v1/monitor/dependencies", "/v1/monitor/health/history"):
            r = anon.get(path, headers=headers)
            assert r.status_code == 403, (path, r.text[:300])


def test_the_cli_prints_the_history_and_the_graph(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    table = shared_aria.aria("monitor", "health-history", "--minutes", "5", env=env)
    assert table.returncode == 0, table.stderr
    assert all(name in table.stdout for name in SPECS)
    one = shared_aria.aria("monitor", "health-history", "--service", "aria_queue", "--json", env=env)
    assert one.returncode == 0, one.stderr
    assert [s["service"] for s in json.loads(one.stdout)["services"]] == ["aria_queue"]
    bad = shared_aria.aria("monitor", "health-history", "--service", "aria_nothing", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "aria_nothing" in bad.stdout + bad.stderr
    deps = shared_aria.aria("monitor", "deps", env=env)
    assert deps.returncode == 0, deps.stderr
    assert all(name in deps.stdout for name in SPECS) and "root causes:" in deps.stdout
    graph = shared_aria.aria("monitor", "deps", "--json", env=env)
    assert graph.returncode == 0 and {n["name"] for n in json.loads(graph.stdout)["nodes"]} == set(SPECS)
