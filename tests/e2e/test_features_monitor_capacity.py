"""aria_monitor's cost insights and capacity planning through the gateway of a running `aria up`
(the shared one, collecting every second): every service's CPU and memory against its spec's
reservation, projections from the recorded history, from REST, the SDK and `aria monitor`; bad
windows and horizons, and a viewer refused."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e capacity passphrase"
SPECS = {s.name: s for s in all_specs()}


def _costs(http: httpx.Client) -> dict[str, Any] | None:
    r = http.get("/v1/monitor/costs", params={"window_s": 600})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    rows = body["services"]
    # every service read at least three times: CPU has two intervals, memory three points
    return body if len(rows) == len(SPECS) and all(s["cpu"]["points"] >= 3 for s in rows) else None


def test_costs_show_every_service_against_its_reservation(http: httpx.Client) -> None:
    def counted() -> dict[str, Any] | None:
        body = _costs(http)
        mine = body and next(s for s in body["services"] if s["service"] == "aria_monitor")
        return body if mine and mine["calls"] else None

    # this test's own calls to aria_monitor show from its next collection on
    body = _until(counted, "costs with every service read three times and aria_monitor's calls counted")
    assert body["window_s"] == 600 and body["at"] <= time.time() + 1
    node = body["node"]
    assert node["cpus"] >= 1 and node["memory_bytes"] > node["memory_available_bytes"] > 0
    assert "psutil" in node["measured"]
    rows = {s["service"]: s for s in body["services"]}
    assert set(rows) == set(SPECS)
    for name, s in rows.items():
        spec = SPECS[name]
        assert s["reservation"] == {"cpus": spec.num_cpus, "gpus": spec.num_gpus}, name
        assert s["cpu"]["mean_cores"] >= 0 and s["cpu"]["peak_cores"] >= s["cpu"]["mean_cores"] - 1e-9, s
        assert s["memory"]["mean_bytes"] > 0 and s["memory"]["peak_bytes"] >= s["memory"]["mean_bytes"], s
        assert 0 < s["share"]["memory_peak"] < 1, s
        assert s["calls"] is not None and s["calls"] >= 0
    kinds = {"over-reserved", "under-reserved", "idle"}
    assert all(f["finding"] in kinds and f["service"] in SPECS for f in body["findings"])
    # the findings are the numbers' own consequence
    idle = {f["service"] for f in body["findings"] if f["finding"] == "idle"}
    assert idle == {n for n, s in rows.items() if s["calls"] == 0}
    total = sum(s["memory"]["mean_bytes"] for s in rows.values())
    assert body["totals"]["memory_mean_bytes"] == pytest.approx(total)


def test_capacity_projects_from_the_history(http: httpx.Client, aria: AriaClient) -> None:
    _until(lambda: _costs(http), "every service read three times")
    r = http.get("/v1/monitor/capacity", params={"horizon_s": 7200, "window_s": 600})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["horizon_s"] == 7200 and body["window_s"] == 600
    assert set(body["memory"]) == set(SPECS)
    for name, p in body["memory"].items():
        assert p["points"] >= 3 and p["last"] > 0, (name, p)
        assert p["intercept"] is not None and p["slope_per_hour"] is not None, (name, p)
        assert p["projected"] == pytest.approx(p["intercept"] + p["slope_per_hour"] * 2, rel=1e-6, abs=1.0)
        assert (p["exhausted_in_s"] is None) == (p["reason"] is not None), (name, p)
        if p["slope_per_hour"] <= 0:
            assert p["exhausted_in_s"] is None and p["reason"].startswith(("flat", "falling")), (name, p)
        else:
            assert p["exhausted_in_s"] > 0
    cpu = body["cpu"]
    assert cpu["points"] >= 2 and cpu["limit"] == body["node"]["cpus"]
    series = body["series"]
    assert series["now"] > 0 and series["limit"] > series["now"]
    for queue, p in body["queues"].items():  # a backlog has no limit to exhaust
        assert p["limit"] is None and p["exhausted_in_s"] is None and p["reason"], (queue, p)
    sdk = aria.monitor.capacity(3600, 300)
    assert sdk["horizon_s"] == 3600 and set(sdk["memory"]) == set(SPECS)
    assert aria.monitor.costs(300)["window_s"] == 300


def test_bad_windows_and_horizons_are_clear_problems(http: httpx.Client) -> None:
    _problem(http.get("/v1/monitor/costs", params={"window_s": 1}), 422, "validation")
    _problem(http.get("/v1/monitor/costs", params={"window_s": "an hour"}), 422, "validation")
    _problem(http.get("/v1/monitor/capacity", params={"horizon_s": 0}), 422, "validation")
    _problem(http.get("/v1/monitor/capacity", params={"horizon_s": 1e12}), 422, "validation")
    _problem(http.get("/v1/monitor/capacity", params={"window_s": 5}), 422, "validation")
    # within the route's bounds, past the history this monitor keeps: the service's 400, by field
    r = http.get("/v1/monitor/capacity", params={"window_s": 6 * 86400})
    _problem(r, 400, "bad-request")
    assert "window_s" in r.text


def test_a_viewer_may_not_read_costs_or_capacity(shared_aria: RunningAria, aria: AriaClient) -> None:
    user = f"cap-viewer-{RUN}"
    aria.auth.create_user(user, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/monitor/costs").status_code == 401
        token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        for path in ("/v1/monitor/costs", "/v1/monitor/capacity"):
            r = anon.get(path, headers=headers)
            assert r.status_code == 403, (path, r.text)


def test_the_cli_prints_costs_and_capacity(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    costs = shared_aria.aria("monitor", "costs", "--minutes", "10", env=env)
    assert costs.returncode == 0, costs.stderr
    assert all(name in costs.stdout for name in SPECS) and "psutil" in costs.stdout
    as_json = shared_aria.aria("monitor", "costs", "--minutes", "5", "--json", env=env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["window_s"] == 300, as_json.stderr
    cap = shared_aria.aria("monitor", "capacity", "--hours", "2", env=env)
    assert cap.returncode == 0, cap.stderr
    assert "history series" in cap.stdout and "all services cores" in cap.stdout
    cap_json = shared_aria.aria("monitor", "capacity", "--hours", "2", "--json", env=env)
    assert cap_json.returncode == 0 and json.loads(cap_json.stdout)["horizon_s"] == 7200, cap_json.stderr
    bad = shared_aria.aria("monitor", "capacity", "--hours", "0", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
