"""aria_monitor's performance and bottleneck views through the gateway of the shared `aria up`:
requests made here show up per route and per RPC method with a rate and ordered quantiles, the
time and CPU rankings add up, from REST, the SDK and `aria monitor`. Also bad windows and limits,
and a viewer being refused.

The shared `aria up` collects every second, so a 60 s window holds many collections."""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

import httpx

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e performance passphrase"
SERVICES = {s.name for s in all_specs()}
CALLED = ("GET", "/v1/monitor/targets")  # the route this module calls to make traffic
WINDOW = {"window_s": 60}


def _ordered(row: dict[str, Any]) -> None:
    """Quantiles of a row that was called: present, positive, ordered, within the finite buckets."""
    p50, p90, p99 = row["p50"], row["p90"], row["p99"]
    assert None not in (p50, p90, p99), row
    assert 0 < p50 <= p90 <= p99 <= 30, row  # 30 s: the highest finite bucket of any latency histogram


def _traffic(http: httpx.Client) -> dict[str, Any] | None:
    """Make requests, then read the performance view: the answer once a collection after the route's
    first one has counted them (the history then has two collections covering requests)."""
    for _ in range(5):
        http.get("/v1/monitor/targets").raise_for_status()
    body = http.get("/v1/monitor/performance", params=WINDOW).raise_for_status().json()
    routes = {(r["method"], r["route"]): r for r in body["routes"]}
    return body if routes.get(CALLED, {}).get("calls", 0) > 0 else None


def test_the_routes_and_methods_called_show_rate_errors_and_quantiles(http: httpx.Client) -> None:
    body = _until(lambda: _traffic(http), "performance row for the route called")
    assert body["window_s"] == 60 and body["at"] <= time.time()
    route = next(r for r in body["routes"] if (r["method"], r["route"]) == CALLED)
    assert route["rate"] > 0 and route["calls"] > 0 and route["error_ratio"] == 0.0, route
    _ordered(route)
    assert route["mean_s"] is not None and route["mean_s"] > 0
    rates = [r["rate"] for r in body["routes"]]
    assert rates == sorted(rates, reverse=True)  # busiest first
    # the gateway called aria_monitor's `targets` RPC for each request
    method = next(m for m in body["methods"] if (m["service"], m["method"]) == ("aria_monitor", "targets"))
    assert method["rate"] > 0 and method["error_ratio"] == 0.0
    _ordered(method)
    services = {s["service"]: s for s in body["services"]}
    assert set(services) == SERVICES
    for name, s in services.items():
        assert s["resident_memory_bytes"] > 0 and s["resident_memory_max_bytes"] >= s["resident_memory_bytes"], name
        assert s["cpu_cores"] is not None and s["cpu_cores"] >= 0, name
    assert any(s["cpu_cores"] > 0 for s in services.values())


def test_bottlenecks_rank_the_time_spent_and_the_cpu(http: httpx.Client, aria: AriaClient) -> None:
    _until(lambda: _traffic(http), "performance row for the route called")
    r = http.get("/v1/monitor/bottlenecks", params={**WINDOW, "limit": 100})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["limit"] == 100 and got["methods_total_s"] > 0 and got["routes_total_s"] > 0
    for kind in ("methods", "routes"):
        seconds = [m["seconds"] for m in got[kind]]
        assert seconds == sorted(seconds, reverse=True) and all(s > 0 for s in seconds), kind
        assert math.isclose(sum(m["share"] for m in got[kind]), 1.0, rel_tol=1e-9), kind  # every row: all the time
    assert CALLED in {(m["method"], m["route"]) for m in got["routes"]}
    cpu = [s["cpu_cores"] for s in got["services"]]
    assert cpu == sorted(cpu, reverse=True) and math.isclose(sum(cpu), got["cpu_total_cores"], rel_tol=1e-9)
    p99 = [m["p99"] for m in got["slowest"]]
    assert p99 and p99 == sorted(p99, reverse=True)
    # the limit cuts each ranking, not the totals; the SDK reads the same route
    top = aria.monitor.bottlenecks(60, 2)
    assert len(top["methods"]) <= 2 and len(top["services"]) <= 2 and len(top["slowest"]) <= 2
    assert top["methods"] and top["methods"][0]["share"] <= 1.0


def test_bad_windows_and_limits_are_clear_errors(http: httpx.Client) -> None:
    for path in ("/v1/monitor/performance", "/v1/monitor/bottlenecks"):
        for window in ("5", "1e9", "soon", "nan"):
            _problem(http.get(path, params={"window_s": window}), 422, "validation")
        # within what any configuration allows, beyond this one's raw history (3600 s): the service says so
        _problem(http.get(path, params={"window_s": 7200}), 400, "bad-request")
    for limit in ("0", "101", "2.5"):
        _problem(http.get("/v1/monitor/bottlenecks", params={"limit": limit}), 422, "validation")


def test_a_viewer_is_refused(shared_aria: RunningAria, aria: AriaClient) -> None:
    user = f"perf-viewer-{RUN}"
    aria.auth.create_user(user, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/monitor/performance").status_code == 401
        token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        for path in ("/v1/monitor/performance", "/v1/monitor/bottlenecks"):
            assert anon.get(path, headers=headers).status_code == 403, path


def test_the_cli_prints_both_views(shared_aria: RunningAria, http: httpx.Client) -> None:
    _until(lambda: _traffic(http), "performance row for the route called")
    env = {"ARIA_TOKEN": shared_aria.token()}
    out = shared_aria.aria("monitor", "performance", "--minutes", "1", "--json", env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["window_s"] == 60 and CALLED in {(r["method"], r["route"]) for r in got["routes"]}
    table = shared_aria.aria("monitor", "performance", env=env)
    assert table.returncode == 0 and "gateway routes" in table.stdout and "RPC methods" in table.stdout, table.stderr
    out = shared_aria.aria("monitor", "bottlenecks", "--minutes", "1", "--limit", "3", "--json", env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["limit"] == 3 and 0 < len(got["methods"]) <= 3
    table = shared_aria.aria("monitor", "bottlenecks", env=env)
    assert table.returncode == 0 and "slowest RPC methods" in table.stdout, table.stderr
    bad = shared_aria.aria("monitor", "bottlenecks", "--limit", "0", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
