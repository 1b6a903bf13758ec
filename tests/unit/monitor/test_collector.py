"""aria_monitor's collector and service core, Ray-free: every service read at once, merged, kept,
rules evaluated on the history, alerts sent to a real webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from aria_actors.monitor import promql
from aria_actors.monitor.collector import Collector
from aria_actors.monitor.errors import InvalidQuery
from aria_actors.monitor.exposition import parse
from aria_actors.monitor.series import SeriesStore
from aria_actors.monitor.service import MonitorService, promql_value
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.telemetry import ServiceMetrics, outcome_of
from tests.fixtures.ports import free_port

OPERATOR = Principal(subject="op", roles=("operator",))
TEXT = ("# HELP aria_thing_total Things\n# TYPE aria_thing_total counter\n"
        'aria_thing_total{kind="a"} 3\naria_thing_total{kind="b"} 4\n')


class Services:
    """Services whose metrics doors answer, fail or hang, as the test says."""

    def __init__(self, names: list[str]) -> None:
        self.texts: dict[str, str | BaseException | None] = dict.fromkeys(names, TEXT)

    async def fetch(self, name: str, timeout_s: float) -> str:
        got = self.texts[name]
        if got is None:
            await asyncio.sleep(3600)  # hangs: the collector's timeout ends it
        if isinstance(got, BaseException):
            raise got
        assert isinstance(got, str)
        return got


def test_one_collection_merges_every_service_and_writes_their_targets() -> None:
    svc = Services(["aria_a", "aria_b", "aria_c"])
    svc.texts["aria_b"] = ServiceUnavailable("aria_b is down")
    svc.texts["aria_c"] = None
    store = SeriesStore()
    got = asyncio.run(Collector(list(svc.texts), svc.fetch, store, timeout_s=0.05).collect(1000.0))
    fams = {f.name: f for f in parse(got.text)}
    things = {(dict(s.labels)["service"], dict(s.labels)["kind"]): s.value for s in fams["aria_thing_total"].samples}
    assert things == {("aria_a", "a"): 3, ("aria_a", "b"): 4}
    up = {dict(s.labels)["service"]: s.value for s in fams["aria_scrape_up"].samples}
    assert up == {"aria_a": 1, "aria_b": 0, "aria_c": 0}
    assert got.errors == {"aria_b": "aria_b is down", "aria_c": "TimeoutError"}
    assert got.seconds["aria_c"] >= 0.05
    ev = promql.Evaluator(store)
    assert ev('sum(aria_thing_total{service="aria_a"})', 1000.0) == [((), 7.0)]
    assert ev("count(aria_scrape_up == 0)", 1000.0) == [((), 2.0)]


def test_a_service_that_stops_answering_has_its_series_marked_stale() -> None:
    svc = Services(["aria_a"])
    store = SeriesStore()
    collector = Collector(["aria_a"], svc.fetch, store, timeout_s=0.05)
    asyncio.run(collector.collect(1000.0))
    svc.texts["aria_a"] = ServiceUnavailable("gone")
    asyncio.run(collector.collect(1010.0))
    ev = promql.Evaluator(store)
    assert ev("aria_thing_total", 1005.0) != []
    assert ev("aria_thing_total", 1011.0) == []  # stale at once, not after the 5 min lookback
    assert ev("aria_scrape_up", 1011.0) == [((("__name__", "aria_scrape_up"), ("service", "aria_a")), 0.0)]


def test_a_malformed_exposition_is_that_service_down_and_named() -> None:
    svc = Services(["aria_a", "aria_b"])
    svc.texts["aria_b"] = "this is { not prometheus"
    got = asyncio.run(Collector(list(svc.texts), svc.fetch, SeriesStore()).collect(1.0))
    assert got.up == {"aria_a": True, "aria_b": False}
    assert "aria_b" in got.errors and "line 1" in got.errors["aria_b"]


def test_label_explosions_are_capped_and_counted() -> None:
    many = "# TYPE aria_x gauge\n" + "".join(f'aria_x{{id="{i}"}} 1\n' for i in range(50))
    svc = Services(["aria_a"])
    svc.texts["aria_a"] = many
    collector = Collector(["aria_a"], svc.fetch, SeriesStore(), series_cap=10)
    got = asyncio.run(collector.collect(1.0))
    fams = {f.name: f for f in parse(got.text)}
    assert len(fams["aria_x"].samples) == 10
    assert [s.value for s in fams["aria_monitor_series_dropped_total"].samples] == [40.0]


# -- the shell's own series --------------------------------------------------------------------------
def test_service_metrics_bound_their_labels_by_code() -> None:
    m = ServiceMetrics(["put", "get"])
    m.observe("put", None, 0.002)
    m.observe("made-up-by-a-caller", BadRequest("no"), 0.001)
    m.observe("get", RuntimeError("boom"), 0.5)
    fams = {f.name: f for f in parse(m.render())}
    calls = {(dict(s.labels)["method"], dict(s.labels)["outcome"]): s.value
             for s in fams["aria_rpc_calls_total"].samples if s.name == "aria_rpc_calls_total"}
    assert calls == {("put", "ok"): 1, ("other", "bad-request"): 1, ("get", "internal"): 1}
    assert "process_cpu_seconds" in fams or "process_cpu_seconds_total" in {s.name for f in fams.values()
                                                                          for s in f.samples}
    assert outcome_of(None) == "ok"


# -- the service core ----------------------------------------------------------------------------
RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: ThingUnreadable
        expr: aria_scrape_up{service="aria_b"} == 0
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.service }} cannot be read"}
"""


class Hook(BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Hook.got.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.got = []
    server = HTTPServer(("127.0.0.1", free_port()), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def _monitor(tmp_path: Path, hook_url: str, svc: Services) -> MonitorService:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    settings = AriaSettings(monitor={"interval_s": 1.0, "builtin_rules": False, "rule_files": [str(rules)],
                                     "webhooks": {"ops": hook_url}})
    service = MonitorService(settings)

    async def start() -> None:
        await service.start(Deps({}, exposition_of=svc.fetch))
        await service.stop()  # the test drives the rounds itself
    asyncio.run(start())
    assert service.collector is not None
    service.collector.services = tuple(svc.texts)
    return service


def test_an_alert_fires_on_the_next_evaluation_and_resolves_to_the_webhook(tmp_path: Path, hook: str) -> None:
    svc = Services(["aria_a", "aria_b"])
    monitor = _monitor(tmp_path, hook, svc)

    async def scenario() -> None:
        await monitor.collect_once(1000.0)
        assert await monitor.alerts(OPERATOR) == []
        svc.texts["aria_b"] = ServiceUnavailable("killed")
        await monitor.collect_once(1001.0)
        [alert] = await monitor.alerts(OPERATOR)
        assert alert["state"] == "firing" and alert["labels"]["service"] == "aria_b"
        svc.texts["aria_b"] = TEXT
        await monitor.collect_once(1002.0)
        [alert] = await monitor.alerts(OPERATOR)
        assert alert["state"] == "inactive" and alert["resolved_at"] == 1002.0 and alert["value"] == "0"
        await asyncio.gather(*monitor._notifying)  # delivered in the background
        await monitor.notifier.close()

    asyncio.run(scenario())
    assert [p["status"] for p in Hook.got] == ["firing", "resolved"]
    first = Hook.got[0]
    assert first["version"] == "4" and first["receiver"] == "ops"
    assert first["alerts"][0]["labels"] == {"alertname": "ThingUnreadable", "service": "aria_b",
                                            "severity": "critical"}
    assert first["alerts"][0]["annotations"]["summary"] == "aria_b cannot be read"
    assert monitor.notifier.status() == {"ops": {"sent": 2, "failed": 0, "last_error": None}}


def test_queries_answer_as_prometheus_does_and_refuse_bad_input(tmp_path: Path, hook: str) -> None:
    svc = Services(["aria_a"])
    monitor = _monitor(tmp_path, hook, svc)

    async def scenario() -> None:
        await monitor.collect_once(1000.0)
        await monitor.collect_once(1010.0)
        got = await monitor.query(OPERATOR, 'aria_thing_total{kind="a"}', 1010.0)
        assert got == {"resultType": "vector", "result": [
            {"metric": {"__name__": "aria_thing_total", "kind": "a", "service": "aria_a"}, "value": [1010.0, "3"]}]}
        assert (await monitor.query(OPERATOR, "1 + 1", 5.0)) == {"resultType": "scalar", "result": [5.0, "2"]}
        rng = await monitor.query_range(OPERATOR, "sum(aria_thing_total)", 1000.0, 1010.0, 5.0)
        assert rng["resultType"] == "matrix" and rng["result"][0]["values"] == [[1000.0, "7"], [1005.0, "7"],
                                                                                  [1010.0, "7"]]
        for bad in ("", "sum(", "x" * 5000, 12):
            with pytest.raises(InvalidQuery):
                await monitor.query(OPERATOR, bad)  # type: ignore[arg-type]
        with pytest.raises(BadRequest):
            await monitor.query(OPERATOR, "up", float("nan"))
        with pytest.raises(BadRequest):
            await monitor.query_range(OPERATOR, "up", 10.0, 0.0, 1.0)
        with pytest.raises(BadRequest):
            await monitor.query_range(OPERATOR, "up", 0.0, 1e9, 1.0)
        rules = await monitor.rules(OPERATOR)
        assert rules[0]["rules"][0]["health"] == "ok"
        targets = await monitor.targets(OPERATOR)
        assert [t["service"] for t in targets["targets"]] == ["aria_a"]
        await monitor.notifier.close()

    asyncio.run(scenario())
    assert promql_value(float("inf")) == "+Inf" and promql_value(0.25) == "0.25"


def test_the_generated_prometheus_config_scrapes_the_gateway_with_a_token(tmp_path: Path, hook: str) -> None:
    import yaml

    monitor = _monitor(tmp_path, hook, Services(["aria_a"]))
    config = yaml.safe_load(asyncio.run(monitor.prometheus_config(OPERATOR)))
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/v1/monitor/metrics"
    assert job["authorization"]["credentials_file"] == "aria.token"
    assert Path(config["rule_files"][0]).name == "aria.yaml"


def test_hostile_queries_are_400s_not_a_stalled_loop(tmp_path: Path, hook: str) -> None:
    from aria_actors.monitor import service as monitor_service

    svc = Services(["aria_a"])
    svc.texts["aria_a"] = "# TYPE aria_x gauge\n" + "".join(f'aria_x{{id="{i}"}} 1\n' for i in range(200))
    monitor = _monitor(tmp_path, hook, svc)

    async def scenario() -> None:
        for t in range(1000, 1100, 10):
            await monitor.collect_once(float(t))
        for bad in ('aria_x{id=~"(.*.*)*X"}', 'aria_x{id=~"(a+)+"}', "(" * 2000 + "1" + ")" * 2000,
                    "1" + "+1" * 5000):
            with pytest.raises(InvalidQuery):
                await monitor.query(OPERATOR, bad, 1090.0)
        with pytest.raises(InvalidQuery, match="string"):
            await monitor.query_range(OPERATOR, '"ab"', 1000.0, 1090.0, 10.0)
        monitor_service.QUERY_SAMPLES, saved = 500, monitor_service.QUERY_SAMPLES
        try:
            with pytest.raises(InvalidQuery, match="too many samples"):
                await monitor.query(OPERATOR, "count_over_time(aria_x[1m])", 1090.0)
            with pytest.raises(InvalidQuery, match="too many samples"):  # the budget spans every step
                await monitor.query_range(OPERATOR, "aria_x", 1000.0, 1090.0, 10.0)
        finally:
            monitor_service.QUERY_SAMPLES = saved
        assert len((await monitor.query(OPERATOR, "aria_x", 1090.0))["result"]) == 200
        await monitor.notifier.close()

    asyncio.run(scenario())


def test_concurrent_scrapes_share_one_collection(tmp_path: Path, hook: str) -> None:
    svc = Services(["aria_a"])
    reads = []
    fetch = svc.fetch

    async def counted(name: str, timeout_s: float) -> str:
        reads.append(name)
        await asyncio.sleep(0.01)
        return await fetch(name, timeout_s)

    monitor = _monitor(tmp_path, hook, svc)
    assert monitor.collector is not None
    monitor.collector.fetch = counted

    async def scenario() -> None:
        texts = await asyncio.gather(*(monitor.scrape(OPERATOR) for _ in range(20)))
        assert len(set(texts)) == 1
        await monitor.notifier.close()

    asyncio.run(scenario())
    assert reads == ["aria_a"]


def test_a_failed_webhook_keeps_neither_its_url_nor_its_secret(tmp_path: Path) -> None:
    from aria_actors.monitor.notify import Notifier
    from aria_actors.monitor.rules import Alert

    secret = "s3cret-token-in-the-path"
    port = free_port()  # nothing listens there
    notifier = Notifier({"ops": f"http://user:{secret}@127.0.0.1:{port}/hooks/{secret}"}, 1.0, "http://aria")
    alert = Alert(labels=(("alertname", "X"),), annotations={}, state="firing", active_at=1.0, value=1.0,
                  last_seen=1.0, fired_at=1.0)

    async def scenario() -> None:
        await notifier.notify([alert])
        await notifier.close()

    asyncio.run(scenario())
    status = notifier.status()["ops"]
    assert status["failed"] == 1 and status["last_error"] == "ConnectError"
    assert secret not in json.dumps(status)


def test_a_cancelled_call_is_not_counted_as_the_services_error() -> None:
    assert outcome_of(asyncio.CancelledError()) == "cancelled"
    assert outcome_of(RuntimeError()) == "internal"


def test_only_the_monitor_and_the_debugger_read_metrics_doors() -> None:
    from aria_actors.runtime import introspect
    from aria_actors.runtime.errors import Forbidden

    introspect.check_door("aria_monitor", "exposition")
    introspect.check_door("aria_debugger", "exposition")
    for reader, door in (("aria_storage", "exposition"), ("aria_monitor", "profile"), ("aria_queue", "inspect")):
        with pytest.raises(Forbidden):
            introspect.check_door(reader, door)


def test_a_failing_own_series_read_is_counted_and_the_shell_series_stay() -> None:
    m = ServiceMetrics(["put"])
    m.own_series_failed(TimeoutError())
    m.own_series_failed(ServiceUnavailable("db down"))
    fams = {f.name: f for f in parse(m.render())}
    errors = {dict(s.labels)["error"]: s.value for s in fams["aria_own_series_errors_total"].samples
              if s.name == "aria_own_series_errors_total"}
    assert errors == {"timeout": 1.0, "service-unavailable": 1.0}
    assert "aria_rpc_calls_total" in fams
