"""aria_coordinate's built features through the gateway of a running `aria up` (the shared one):
correlation ids echoed and quoted in problems, the access log's route analytics, the API versions,
each service's load-balancing policy, the partial health page, and the CORS policy (off: the shared
`aria up` configures no origins, so a preflight gets no CORS header; preflights with origins
configured, and a deprecated version's headers, are tested in-process in tests/unit/coordinate,
as configuring them here would need an `aria up` of their own)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.aria_up import RunningAria

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def http(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shared_aria.token()}"}
    with httpx.Client(base_url=shared_aria.url, headers=headers, timeout=60) as client:
        yield client


def test_a_request_id_is_echoed_and_quoted_in_problems(http: httpx.Client) -> None:
    mine = f"e2e-{RUN}"
    ok = http.get("/v1/services", headers={"X-Request-ID": mine})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == mine  # one header, not two
    fresh = http.get("/v1/services/no_such_service")
    assert fresh.status_code == 404 and fresh.headers["x-request-id"] not in ("", mine)
    assert fresh.json()["request_id"] == fresh.headers["x-request-id"]  # the proxy's id is the gateway's
    missing = http.get("/v1/services/no_such_service", headers={"X-Request-ID": f"{mine}-404"})
    assert missing.status_code == 404 and missing.json()["request_id"] == f"{mine}-404"
    # An id unfit for logs is replaced in the gateway's log and problems (Serve's proxy echoes it as sent).
    bad = http.get("/v1/services/no_such_service", headers={"X-Request-ID": "not a safe id"})
    assert bad.json()["request_id"] != "not a safe id" and len(bad.json()["request_id"]) == 32


def test_route_analytics_count_what_the_gateway_served(http: httpx.Client, shared_aria: RunningAria) -> None:
    for _ in range(3):
        assert http.get("/v1/services/aria_storage").status_code == 200
    assert http.get("/v1/services/no_such_service").status_code == 404
    body = http.get("/v1/gateway/routes").json()
    by_route = {(r["method"], r["route"]): r for r in body["routes"]}
    one = by_route[("GET", "/v1/services/{name}")]
    assert one["count"] >= 4 and one["errors_4xx"] >= 1
    assert one["window"]["count"] >= 4 and 0 < one["window"]["p50_ms"] <= one["window"]["p99_ms"]
    assert body["access_log"] is True
    assert httpx.get(f"{shared_aria.url}/v1/gateway/routes").status_code == 401  # needs a token


def test_the_versions_served(http: httpx.Client) -> None:
    body = http.get("/versions").json()
    assert [v["version"] for v in body["versions"]] == ["v1"] and body["latest"] == "v1"
    assert body["versions"][0]["status"] == "current" and body["versions"][0]["routes"] > 40
    assert "deprecation" not in http.get("/v1/services").headers


def test_each_service_names_its_load_balancing_policy(http: httpx.Client) -> None:
    storage = http.get("/v1/services/aria_storage").json()["load_balancing"]
    assert storage["policy"] == "single-actor" and storage["replicas"] == 1
    gateway = http.get("/v1/services/aria_coordinate").json()["load_balancing"]
    assert gateway["policy"] == "power-of-two-choices" and gateway["balanced_by"] == "ray-serve"
    assert gateway["replicas"] == 1  # Ray Serve reports the gateway's one replica running


def test_health_and_services_say_what_is_down(http: httpx.Client) -> None:
    health = http.get("/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["gateway"] == "up" and isinstance(body["down"], list) and isinstance(body["circuits_open"], list)
    services = http.get("/v1/services").json()
    assert {s["name"] for s in services["down"]} == {s["name"] for s in body["down"]}
    assert "stale" not in services


def test_cors_is_off_without_origins(http: httpx.Client) -> None:
    policy = http.get("/v1/gateway/cors").json()
    assert policy["enabled"] is False and policy["origins"] == []
    pre = http.options("/v1/services", headers={"Origin": "https://studio.example",
                                                "Access-Control-Request-Method": "GET"})
    assert not any(h.startswith("access-control-") for h in pre.headers)


def test_the_cli_reads_the_same_pages(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    routes = shared_aria.aria("coordinate", "routes", "--json", env=env)
    assert routes.returncode == 0, routes.stderr
    assert any(r["route"] == "/v1/services/{name}" for r in json.loads(routes.stdout)["routes"])
    balancing = shared_aria.aria("coordinate", "balancing", "aria_storage", "--json", env=env)
    assert balancing.returncode == 0, balancing.stderr
    assert json.loads(balancing.stdout)["aria_storage"]["load_balancing"]["policy"] == "single-actor"
    versions = shared_aria.aria("coordinate", "versions", env=env)
    assert versions.returncode == 0 and "v1" in versions.stdout
