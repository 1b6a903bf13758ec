"""aria_monitor's dashboards, business metrics and usage analytics through the gateway of a running
`aria up` (the shared one): a tenant's editor creates a character (aria_shape) and makes a plan
(aria_engine), and the tenant's business metrics and usage for today go up; the built-in
dashboards are served from memory and, after some flushes, from PostgreSQL's rollups; their
Grafana JSON; who may read which tenant; bad input as 400/404 problems.

The shared `aria up` samples the panels and reads the usage doors each second and writes to
PostgreSQL every 2 s (tests/fixtures/aria_up.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
TENANT = f"mon-{RUN}"
PASSWORD = "e2e dashboards passphrase"


def _login(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    token = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD, "tenant": TENANT})
    client.headers["authorization"] = f"Bearer {token.raise_for_status().json()['access_token']}"
    return client


@pytest.fixture(scope="module")
def editor(shared_aria: RunningAria, aria: AriaClient) -> Iterator[httpx.Client]:
    aria.auth.create_user(f"mon-editor-{RUN}", PASSWORD, tenant=TENANT, roles=["editor"])
    client = _login(shared_aria.url, f"mon-editor-{RUN}")
    yield client
    client.close()


def _business(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/v1/monitor/business", params={"days": 1, "tenant": TENANT})
    assert r.status_code == 200, r.text
    return r.json()


def test_business_metrics_and_usage_of_a_tenant_go_up(editor: httpx.Client, http: httpx.Client,
                                                       aria: AriaClient) -> None:
    before = _business(http)["totals"]
    assert before == {"characters_created": 0, "plans_made": 0, "jobs_run": 0, "models_trained": 0}  # a new tenant
    made = editor.post("/v1/shape/characters", json={"template": "fantasy", "name": "Mo", "seed": 3,
                                                     "describe": False})
    assert made.status_code == 201, made.text
    planned = editor.post("/v1/engine/plan", json={"domain": "gtpyhop-blocksworld-gtohp", "problem": "BW_rand_11"})
    assert planned.status_code == 200, planned.text

    def counted() -> dict[str, Any] | None:
        got = _business(http)
        t = got["totals"]
        return got if t["characters_created"] >= 1 and t["plans_made"] >= 1 else None

    got = _until(counted, "the tenant's character and plan in its business metrics")
    assert got["tenant"] == TENANT and [d["tenant"] for d in got["daily"]] == [TENANT]
    assert got["source"] == "postgres"
    # usage: the calls per method, and one active user, for today (UTC)
    usage = aria.monitor.usage(1, TENANT)
    methods = {(r["service"], r["method"]): r for r in usage["rows"]}
    assert methods[("aria_shape", "create_character")]["calls"] >= 1
    assert methods[("aria_engine", "plan")]["calls"] >= 1
    [today] = usage["daily"]
    assert today["tenant"] == TENANT and today["active_users"] == 1 and today["day"] == got["since"]
    # one service's rows only
    shape = http.get("/v1/monitor/usage", params={"days": 1, "tenant": TENANT, "service": "aria_shape"}).json()
    assert {r["service"] for r in shape["rows"]} == {"aria_shape"}
    # an unknown tenant has nothing
    assert aria.monitor.business(7, f"nobody-{RUN}")["daily"] == []


def test_a_tenants_viewer_reads_only_its_own_tenant(shared_aria: RunningAria, aria: AriaClient) -> None:
    aria.auth.create_user(f"mon-viewer-{RUN}", PASSWORD, tenant=TENANT, roles=["viewer"])
    viewer = _login(shared_aria.url, f"mon-viewer-{RUN}")
    try:
        own = viewer.get("/v1/monitor/usage", params={"days": 1})
        assert own.status_code == 200, own.text
        assert own.json()["tenant"] == TENANT
        assert all(d["tenant"] == TENANT for d in own.json()["daily"])
        _problem(viewer.get("/v1/monitor/business", params={"tenant": "someone-else"}), 403, "forbidden")
        assert viewer.get("/v1/monitor/dashboards").status_code == 403  # metrics span tenants: @any only
    finally:
        viewer.close()


def test_dashboards_from_memory_and_from_postgres(http: httpx.Client, aria: AriaClient) -> None:
    listed = http.get("/v1/monitor/dashboards")
    assert listed.status_code == 200, listed.text
    assert {d["name"] for d in listed.json()} >= {"overview", "queue", "resources"}
    # the last minute from the in-memory history (auto picks it too once the monitor has run a minute)
    recent = http.get("/v1/monitor/dashboards/overview", params={"window": "1m", "source": "memory"}).json()
    panels = {p["name"]: p for p in recent["panels"]}
    assert set(panels) >= {"services_up", "rpc_rate", "rpc_errors", "rpc_p99"}
    assert recent["source"] == "memory" and recent["step_s"] >= 1
    assert panels["services_up"]["series"][0]["points"][-1][1] >= 13
    # the same panels' history, written to PostgreSQL's minute rollups in batches
    def stored() -> dict[str, Any] | None:
        got = aria.monitor.dashboard("resources", "15m", "postgres")
        series = {s["labels"].get("service") for p in got["panels"] if p["name"] == "memory" for s in p["series"]}
        return got if got["source"] == "postgres" and "aria_monitor" in series else None

    got = _until(stored, "the resources dashboard's rows in PostgreSQL")
    assert got["resolution_s"] == 60 and got["step_s"] >= 60
    # a window older than the in-memory history comes from PostgreSQL by itself
    old = http.get("/v1/monitor/dashboards/resources", params={"window": "30d"}).json()
    assert old["source"] == "postgres" and old["resolution_s"] == 3600


def test_grafana_json(http: httpx.Client) -> None:
    r = http.get("/v1/monitor/dashboards/overview/grafana")
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["uid"] == "aria-overview" and g["panels"]
    for p in g["panels"]:
        assert p["type"] == "timeseries" and p["datasource"]["type"] == "prometheus"
        assert p["targets"][0]["expr"] and "[1m]" not in p["targets"][0]["expr"]


def test_bad_input_is_a_clear_problem(http: httpx.Client) -> None:
    _problem(http.get("/v1/monitor/dashboards/nope"), 404, "monitor-unknown-dashboard")
    _problem(http.get("/v1/monitor/dashboards/nope/grafana"), 404, "monitor-unknown-dashboard")
    for window in ("10s", "soon", "1000d"):
        _problem(http.get("/v1/monitor/dashboards/overview", params={"window": window}), 400, "bad-request")
    _problem(http.get("/v1/monitor/dashboards/overview", params={"source": "disk"}), 422, "validation")
    for days in (0, 367):
        _problem(http.get("/v1/monitor/usage", params={"days": days}), 400, "bad-request")
        _problem(http.get("/v1/monitor/business", params={"days": days}), 400, "bad-request")
    _problem(http.get("/v1/monitor/usage", params={"days": "many"}), 422, "validation")
    _problem(http.get("/v1/monitor/usage", params={"service": "aria_nothing"}), 400, "bad-request")
