"""aria_monitor's built features through the gateway of a running `aria up` (the shared one): the
one scrape of every service's metrics, PromQL over their history, targets, the generated
Prometheus config, and an alert that fires when a service is killed and resolves once it is back,
from REST, the SDK and `aria monitor`. Also who may read them, and bad queries.

The shared `aria up` collects every second and evaluates tests/fixtures/monitor_rules.yaml."""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Any

import httpx
import yaml

from aria_actors.monitor.exposition import parse
from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e monitor passphrase"
SERVICES = {s.name for s in all_specs()}
KILLED = "aria_tune"  # nothing depends on it: killing it disturbs no other test


def test_one_scrape_carries_every_service(http: httpx.Client) -> None:
    def scraped() -> dict[str, Any] | None:
        r = http.get("/v1/monitor/metrics")
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        fams = {f.name: f for f in parse(r.text)}
        up = {dict(s.labels)["service"]: s.value for s in fams["aria_scrape_up"].samples}
        calls = {(dict(s.labels)["service"], dict(s.labels)["method"]) for s in fams["aria_rpc_calls_total"].samples}
        # aria_monitor's count of this test's scrape call shows from the next collection on (other
        # modules' calls of aria_monitor may show before it); the gateway's request counts from
        # its next push on (a pushed text is up to one interval old: runtime/metrics_push.py)
        requests = fams.get("aria_http_requests_total")
        return fams if (up == dict.fromkeys(SERVICES, 1.0) and ("aria_monitor", "scrape") in calls
                        and requests is not None and requests.samples) else None

    fams = _until(scraped, "scrape with all fourteen services up")
    # every service's own process series, each labelled with its service
    cpu = {dict(s.labels)["service"] for s in fams["process_cpu_seconds_total"].samples}
    assert cpu == SERVICES
    calls = {(dict(s.labels)["service"], dict(s.labels)["method"]) for s in fams["aria_rpc_calls_total"].samples}
    assert ("aria_monitor", "scrape") in calls  # RED series of the calls the gateway made for this test
    # the gateway's own request series, and a service's own (aria_queue's job counts)
    assert {dict(s.labels)["service"] for s in fams["aria_http_requests_total"].samples} == {"aria_coordinate"}
    assert "aria_queue_jobs" in fams
    assert "aria_monitor_series_dropped_total" in fams


def test_promql_over_the_history_and_the_targets(http: httpx.Client, aria: AriaClient) -> None:
    body = _until(lambda: (b := http.get("/v1/monitor/query", params={"query": "count(aria_scrape_up == 1)"})
                           .raise_for_status().json())["data"]["result"] and b["data"]["result"][0]["value"][1]
                  == str(len(SERVICES)) and b, "query counting every service up")
    assert body["status"] == "success" and body["data"]["resultType"] == "vector"
    now = time.time()
    rng = http.get("/v1/monitor/query_range", params={"query": 'aria_scrape_up{service="aria_data"}',
                                                      "start": now - 5, "end": now, "step": 1})
    assert rng.status_code == 200, rng.text
    assert rng.json()["data"]["resultType"] == "matrix"
    targets = aria.monitor.targets()
    assert {t["service"] for t in targets["targets"]} == SERVICES
    # every other process pushes its text each interval (runtime/metrics_push.py); aria_monitor reads its own
    pushed = _until(lambda: {t["service"] for t in aria.monitor.targets()["targets"] if t["pushed"]}
                    >= SERVICES - {"aria_monitor"} or None, "every service pushing its metrics")
    assert pushed
    got = aria.monitor.query("sum by (service) (aria_rpc_calls_total)")
    assert got["data"]["result"], got
    rules = http.get("/v1/monitor/rules").raise_for_status().json()
    assert {g["name"] for g in rules} >= {"aria-services", "e2e"}
    assert all(r["health"] == "ok" for g in rules for r in g["rules"] if r["last_eval"]), rules


def test_bad_queries_are_clear_400s(http: httpx.Client) -> None:
    _problem(http.get("/v1/monitor/query", params={"query": "sum(up"}), 400, "monitor-invalid-query")
    _problem(http.get("/v1/monitor/query", params={"query": "up", "time": "soon"}), 422, "validation")
    _problem(http.get("/v1/monitor/query", params={"query": "x" * 5000}), 422, "validation")
    _problem(http.get("/v1/monitor/query_range", params={"query": "up", "start": 10, "end": 5, "step": 1}),
             400, "bad-request")
    _problem(http.get("/v1/monitor/query_range", params={"query": "up", "start": 0, "end": 1e9, "step": 1}),
             400, "bad-request")


def test_only_operators_and_admins_read_metrics(shared_aria: RunningAria, aria: AriaClient) -> None:
    user = f"mon-viewer-{RUN}"
    aria.auth.create_user(user, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/monitor/metrics").status_code == 401
        token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        for path in ("/v1/monitor/metrics", "/v1/monitor/alerts", "/v1/monitor/query?query=up"):
            assert anon.get(path, headers=headers).status_code == 403, path
        # the gateway's own /metrics stays public, and carries no other service's series; with a
        # token it is the full scrape, for those who may read it
        public = anon.get("/metrics")
        assert public.status_code == 200 and "aria_rpc_calls_total" not in public.text
        assert anon.get("/metrics", headers=headers).status_code == 403
        assert anon.get("/metrics", headers={"authorization": "Bearer not-a-token"}).status_code == 401


def test_the_gateways_metrics_with_a_token_carry_all_fourteen_services(http: httpx.Client) -> None:
    """What a Prometheus server with a bearer token scrapes at the gateway's /metrics."""
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.text[:300]
    fams = {f.name: f for f in parse(r.text)}
    assert {dict(s.labels)["service"] for s in fams["aria_scrape_up"].samples} == SERVICES
    assert {dict(s.labels)["service"] for s in fams["process_cpu_seconds_total"].samples} == SERVICES


def test_the_prometheus_config_points_at_the_scrape(http: httpx.Client) -> None:
    r = http.get("/v1/monitor/prometheus-config")
    assert r.status_code == 200, r.text
    [job] = yaml.safe_load(r.text)["scrape_configs"]
    assert job["metrics_path"] == "/v1/monitor/metrics"


def test_an_alert_fires_when_a_service_is_killed_and_resolves_when_it_is_back(
        shared_aria: RunningAria, http: httpx.Client) -> None:
    def mine(state: str) -> dict[str, Any] | None:
        for a in http.get("/v1/monitor/alerts").raise_for_status().json():
            if a["labels"].get("alertname") == "E2eTuneUnreadable" and a["state"] == state \
                    and a["active_at"] >= killed_at - 1:
                return a
        return None

    killed_at = time.time()
    os.kill(shared_aria.service_pid(KILLED), signal.SIGKILL)
    fired = _until(lambda: mine("firing"), "firing alert for the killed service")
    assert fired["labels"]["service"] == KILLED and fired["annotations"]["summary"].startswith(KILLED)
    resolved = _until(lambda: mine("inactive"), "resolution after the restart", timeout=180)
    assert resolved["resolved_at"] > fired["fired_at"]


def test_the_cli_reads_targets_queries_alerts_and_rules(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    targets = shared_aria.aria("monitor", "targets", env=env)
    assert targets.returncode == 0, targets.stderr
    assert all(name in targets.stdout for name in SERVICES)
    query = shared_aria.aria("monitor", "query", "count(aria_scrape_up)", env=env)
    assert query.returncode == 0 and query.stdout.strip() == str(len(SERVICES)), query.stdout + query.stderr
    bad = shared_aria.aria("monitor", "query", "sum(", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    for args in (("alerts",), ("rules",), ("prometheus-config",), ("range", "aria_scrape_up", "--minutes", "1")):
        out = shared_aria.aria("monitor", *args, env=env)
        assert out.returncode == 0, (args, out.stderr)
    metrics = shared_aria.aria("monitor", "metrics", env=env)
    assert metrics.returncode == 0 and "aria_scrape_up" in metrics.stdout
