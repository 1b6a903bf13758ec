"""aria_monitor's performance and bottleneck views, Ray-free: histogram quantiles as Prometheus
computes them (hand-computed, its documented edge cases, and ``promtool`` as the oracle where
installed), then the service over fake metrics doors whose buckets advance between collections."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aria_actors.monitor.performance import check_limit, check_window
from aria_actors.monitor.promql import Evaluator, bucket_quantile, parse, parse_bound
from aria_actors.monitor.series import SeriesStore
from aria_actors.monitor.service import MonitorService
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from tests.unit.monitor.test_promtool import PROMTOOL, _expand, _labels, needs_promtool

OPERATOR = Principal(subject="op", roles=("operator",))
INF = math.inf
TYPICAL = [(0.01, 20.0), (0.1, 60.0), (1.0, 95.0), (INF, 100.0)]


# -- the quantile ---------------------------------------------------------------------------------
def test_bucket_quantile_interpolates_inside_the_bucket() -> None:
    assert bucket_quantile(0.5, TYPICAL) == 0.01 + (0.1 - 0.01) * (30 / 40)  # rank 50: 30 of the 40 in (0.01, 0.1]
    assert bucket_quantile(0.9, TYPICAL) == 0.1 + (1.0 - 0.1) * (30 / 35)
    assert bucket_quantile(0.1, TYPICAL) == 0.0 + 0.01 * (10 / 20)  # the lowest bucket starts at 0
    assert bucket_quantile(0.0, TYPICAL) == 0.0
    assert bucket_quantile(0.5, list(reversed(TYPICAL))) == bucket_quantile(0.5, TYPICAL)  # any order


def test_bucket_quantile_edge_cases_as_prometheus_documents_them() -> None:
    # A rank in the +Inf bucket answers the highest finite bound (q = 1 too: no bucket below +Inf holds 100).
    assert bucket_quantile(0.99, TYPICAL) == 1.0
    assert bucket_quantile(1.0, TYPICAL) == 1.0
    assert bucket_quantile(-0.1, TYPICAL) == -INF and bucket_quantile(1.5, TYPICAL) == INF
    assert math.isnan(bucket_quantile(math.nan, TYPICAL))
    assert math.isnan(bucket_quantile(0.5, TYPICAL[:-1]))  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, [(INF, 10.0)]))  # fewer than two buckets
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]))  # no observation
    assert math.isnan(bucket_quantile(0.0, [(0.1, 0.0), (INF, 3.0)]))  # rank 0 in an empty bucket: 0/0
    assert math.isnan(bucket_quantile(0.5, []))
    # A lowest bound at or below 0 is answered as is (no interpolation from 0).
    assert bucket_quantile(0.2, [(-1.0, 5.0), (0.0, 8.0), (1.0, 10.0), (INF, 10.0)]) == -1.0
    assert bucket_quantile(0.7, [(-1.0, 5.0), (0.0, 8.0), (1.0, 10.0), (INF, 10.0)]) == -1.0 + 1.0 * (2 / 3)


def test_bucket_quantile_coalesces_forces_monotonicity_and_ignores_float_noise() -> None:
    # Two buckets with one bound are one (le="1" and le="1.0" from two series): 5 at 1, not 3 then 2.
    assert bucket_quantile(0.5, [(1.0, 3.0), (1.0, 2.0), (2.0, 10.0), (INF, 10.0)]) == 1.0
    # A count below the bucket before it is raised to it: [10, 10, 12, 12], so rank 10.8 is in (0.5, 1]
    # with 2 observations (without the envelope it would be 4 observations and 0.85).
    bumpy = [(0.1, 10.0), (0.5, 8.0), (1.0, 12.0), (INF, 12.0)]
    assert bucket_quantile(0.9, bumpy) == 0.5 + 0.5 * ((0.9 * 12 - 10) / 2)
    assert bucket_quantile(0.5, bumpy) == 0.1 * (6 / 10)
    # Differences below 1e-12 relative are float noise: all three buckets hold 1, so q=1 is in the first.
    noisy = [(0.1, 1.0), (1.0, 1.0 + 1e-15), (INF, 1.0 + 1e-15)]
    assert bucket_quantile(1.0, noisy) == 0.1
    assert bucket_quantile(1.0, [(0.1, 1.0), (1.0, 1.0 + 1e-9), (INF, 1.0 + 1e-9)]) == 1.0  # 1e-9 is not noise


def test_le_labels_read_as_go_parses_floats() -> None:
    assert parse_bound("+Inf") == INF and parse_bound("0.25") == 0.25 and parse_bound("1e-3") == 0.001
    assert parse_bound("0x1p-2") == 0.25
    for bad in (None, "", "fast", "1_000", " 1"):
        assert parse_bound(bad) is None


def test_histogram_quantile_in_promql_groups_by_everything_but_le() -> None:
    store = SeriesStore()
    for route, counts in (("/a", (20, 60, 95, 100)), ("/b", (0, 0, 30, 60))):
        for le, n in zip(("0.01", "0.1", "1", "+Inf"), counts, strict=True):
            store.add({"__name__": "h_bucket", "route": route, "le": le}, 0.0, 0.0)
            store.add({"__name__": "h_bucket", "route": route, "le": le}, 60.0, float(n))
    store.add({"__name__": "h_bucket", "route": "/a", "le": "fast"}, 60.0, 1e9)  # not a bound: skipped
    got = dict(Evaluator(store)('histogram_quantile(0.5, sum by (le, route) (increase(h_bucket[1m])))', 60.0))
    assert got == {(("route", "/a"),): 0.01 + (0.1 - 0.01) * (30 / 40), (("route", "/b"),): 0.1 + 0.9 * (30 / 30)}
    assert parse("histogram_quantile(0.9, rate(h_bucket[5m]))").type == "vector"  # type: ignore[union-attr]


# The promtool oracle: the same series through promtool's evaluator and ours must agree exactly.
ORACLE_SERIES = {
    'h_bucket{route="/a",le="0.01"}': "0+20x10",
    'h_bucket{route="/a",le="0.1"}': "0+60x10",
    'h_bucket{route="/a",le="1"}': "0+95x10",
    'h_bucket{route="/a",le="+Inf"}': "0+100x10",
    'h_bucket{route="/b",le="0.01"}': "0+1x10",
    'h_bucket{route="/b",le="0.1"}': "0+1x10",
    'h_bucket{route="/b",le="1"}': "0+7x10",
    'h_bucket{route="/b",le="+Inf"}': "0+13x4 52+3x5",
    'n_bucket{le="0.1"}': "10x10",  # not monotonic
    'n_bucket{le="0.5"}': "8x10",
    'n_bucket{le="1"}': "12x10",
    'n_bucket{le="+Inf"}': "12x10",
    'c_bucket{x="1",le="1"}': "3x10",  # two series with one bound once `x` is summed away
    'c_bucket{x="2",le="1.0"}': "2x10",
    'c_bucket{x="1",le="2"}': "6x10",
    'c_bucket{x="2",le="2"}': "4x10",
    'c_bucket{x="1",le="+Inf"}': "6x10",
    'c_bucket{x="2",le="+Inf"}': "4x10",
    'c_bucket{x="1",le="slow"}': "99x10",
    'm_bucket{le="-1"}': "5x10",
    'm_bucket{le="0"}': "8x10",
    'm_bucket{le="1"}': "10x10",
    'm_bucket{le="+Inf"}': "10x10",
}
ORACLE_EXPRS = [
    *(f"histogram_quantile({q}, sum by (le, route) (increase(h_bucket[5m])))" for q in (0, 0.5, 0.9, 0.99, 1, -1, 2)),
    "histogram_quantile(0.75, rate(h_bucket[3m]))",  # extrapolated, and the counter reset of /b
    "histogram_quantile(0.3, sum by (le) (rate(h_bucket[10m])))",
    *(f"histogram_quantile({q}, n_bucket)" for q in (0.5, 0.9)),
    *(f"histogram_quantile({q}, sum without (x) (c_bucket))" for q in (0.5, 0.8)),
    *(f"histogram_quantile({q}, m_bucket)" for q in (0.2, 0.7, 0.95)),
]


def _yaml_float(v: float) -> float | str:
    return v if math.isfinite(v) else (".inf" if v > 0 else "-.inf")


@needs_promtool
def test_histogram_quantile_agrees_with_promtool(tmp_path: Path) -> None:
    store = SeriesStore()
    for series, values in ORACLE_SERIES.items():
        for i, v in enumerate(_expand(values)):
            if v is not None:
                store.add(_labels(series), i * 60.0, v)
    at = "9m30s"
    cases, ours = [], []
    for expr in ORACLE_EXPRS:
        got = Evaluator(store)(expr, 570.0)
        assert isinstance(got, list) and got, expr
        assert all(not math.isnan(v) for _, v in got), expr  # promtool cannot expect NaN
        ours += [v for _, v in got]
        cases.append({"expr": expr, "eval_time": at, "exp_samples": [
            {"labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}", "value": _yaml_float(v)}
            for labels, v in got]})
    test = {"evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": [{"series": s, "values": v} for s, v in ORACLE_SERIES.items()],
        "promql_expr_test": cases}]}
    (tmp_path / "quantiles.yml").write_text(yaml.safe_dump(test, sort_keys=False).replace("'.inf'", ".inf")
                                            .replace("'-.inf'", "-.inf"))
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "test", "rules", "quantiles.yml"], capture_output=True, text=True, check=False,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # and the oracle is not vacuous: it holds the hand-computed values and both infinities
    assert 0.01 + (0.1 - 0.01) * (30 / 40) in ours and 0.5 + 0.5 * ((0.9 * 12 - 10) / 2) in ours
    assert -INF in ours and INF in ours


@needs_promtool
def test_promtool_refutes_a_wrong_quantile(tmp_path: Path) -> None:
    """The oracle can fail: a value off by one ulp is refused."""
    test = {"evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": [{"series": 'h_bucket{le="0.1"}', "values": "0+6x5"},
                                           {"series": 'h_bucket{le="+Inf"}', "values": "0+10x5"}],
        "promql_expr_test": [{"expr": "histogram_quantile(0.5, increase(h_bucket[5m]))", "eval_time": "5m",
                              "exp_samples": [{"labels": "{}", "value": math.nextafter(0.1 * (5 / 6), 1)}]}]}]}
    (tmp_path / "wrong.yml").write_text(yaml.safe_dump(test))
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "test", "rules", "wrong.yml"], capture_output=True, text=True, check=False,
                         cwd=tmp_path)
    assert out.returncode != 0 and "histogram_quantile" in out.stdout + out.stderr


# -- the service ---------------------------------------------------------------------------------
GATEWAY_BOUNDS = ("0.01", "0.1", "1", "+Inf")
RPC_BOUNDS = ("0.001", "0.01", "0.1", "1", "+Inf")


def _histogram(name: str, labels: str, bounds: tuple[str, ...], counts: tuple[float, ...], total: float) -> list[str]:
    lines = [f'{name}_bucket{{{labels},le="{b}"}} {n}' for b, n in zip(bounds, counts, strict=True)]
    return [*lines, f"{name}_sum{{{labels}}} {total}", f"{name}_count{{{labels}}} {counts[-1]}"]


class Doors:
    """Each service's metrics text at the n-th collection: counters grow by ``n`` times their step."""

    def __init__(self) -> None:
        self.n = 0
        self.rss: dict[str, list[float]] = {"aria_a": [100e6, 300e6, 200e6, 150e6], "aria_b": [50e6] * 4,
                                            "aria_coordinate": [80e6] * 4}

    def _process(self, name: str, cpu_per_step: float) -> list[str]:
        return ["# TYPE process_cpu_seconds_total counter", f"process_cpu_seconds_total {10 + cpu_per_step * self.n}",
                "# TYPE process_resident_memory_bytes gauge",
                f"process_resident_memory_bytes {self.rss[name][min(self.n, 3)]}"]

    def text(self, name: str) -> str:
        n = self.n
        if name == "aria_coordinate":  # the gateway: two busy routes, one idle; its own RPC series too
            lines = ["# TYPE aria_http_requests_total counter",
                     f'aria_http_requests_total{{method="GET",route="/v1/a",code="200"}} {90 * n}',
                     f'aria_http_requests_total{{method="GET",route="/v1/a",code="500"}} {10 * n}',
                     f'aria_http_requests_total{{method="POST",route="/v1/b",code="201"}} {18 * n}',
                     f'aria_http_requests_total{{method="POST",route="/v1/b",code="404"}} {2 * n}',
                     'aria_http_requests_total{method="GET",route="/v1/idle",code="200"} 5',
                     "# TYPE aria_http_request_seconds histogram",
                     *_histogram("aria_http_request_seconds", 'method="GET",route="/v1/a"', GATEWAY_BOUNDS,
                                 (20 * n, 60 * n, 95 * n, 100 * n), 15.0 * n),
                     *_histogram("aria_http_request_seconds", 'method="POST",route="/v1/b"', GATEWAY_BOUNDS,
                                 (0, 0, 10 * n, 20 * n), 30.0 * n),
                     *_histogram("aria_http_request_seconds", 'method="GET",route="/v1/idle"', GATEWAY_BOUNDS,
                                 (5, 5, 5, 5), 0.01)]
            return "\n".join(lines + self._process(name, 20.0)) + "\n"
        if name == "aria_a":  # put: busy and quick; get: slow
            calls = {("put", "ok"): 200, ("put", "bad-request"): 20, ("put", "internal"): 2, ("get", "ok"): 10}
            hist = [*_histogram("aria_rpc_seconds", 'method="put"', RPC_BOUNDS,
                                (100 * n, 200 * n, 222 * n, 222 * n, 222 * n), 2.2 * n),
                    *_histogram("aria_rpc_seconds", 'method="get"', RPC_BOUNDS, (0, 0, 0, 8 * n, 10 * n), 9.0 * n)]
            cpu = 10.0
        else:  # aria_b: one method, unavailable a tenth of the time
            calls = {("find", "ok"): 9, ("find", "service-unavailable"): 1}
            hist = _histogram("aria_rpc_seconds", 'method="find"', RPC_BOUNDS, (0, 0, 5 * n, 10 * n, 10 * n), 4.0 * n)
            cpu = 50.0
        lines = ["# TYPE aria_rpc_calls_total counter",
                 *(f'aria_rpc_calls_total{{method="{m}",outcome="{o}"}} {k * n}' for (m, o), k in calls.items()),
                 "# TYPE aria_rpc_seconds histogram", *hist]
        return "\n".join(lines + self._process(name, cpu)) + "\n"

    async def fetch(self, name: str, timeout_s: float) -> str:
        return self.text(name)


def _monitor(doors: Doors) -> MonitorService:
    service = MonitorService(AriaSettings(monitor={"interval_s": 100.0, "builtin_rules": False}))

    async def start() -> None:
        await service.start(Deps({}, exposition_of=doors.fetch))
        await service.stop()  # the test drives the collections itself
    asyncio.run(start())
    assert service.collector is not None
    service.collector.services = ("aria_a", "aria_b", "aria_coordinate")
    return service


def _collected(doors: Doors, times: tuple[float, ...] = (1000.0, 1100.0, 1200.0, 1300.0)) -> MonitorService:
    monitor = _monitor(doors)

    async def rounds() -> None:
        for i, t in enumerate(times):
            doors.n = i
            await monitor.collect_once(t)
    asyncio.run(rounds())
    return monitor


def _call(coro: Any) -> Any:
    return asyncio.run(coro)


def test_performance_per_route_method_and_service() -> None:
    monitor = _collected(Doors())
    # window 300 s at the last collection (1300): the four collections span it exactly, so every
    # increase is 3 steps and no extrapolation happens.
    got = _call(monitor.performance(OPERATOR, 300))
    assert got["at"] == 1300.0 and got["window_s"] == 300.0
    routes = {(r["method"], r["route"]): r for r in got["routes"]}
    assert list(routes) == [("GET", "/v1/a"), ("POST", "/v1/b")]  # busiest first; /v1/idle had no request
    a, b = routes["GET", "/v1/a"], routes["POST", "/v1/b"]
    assert a["calls"] == 300 and a["rate"] == pytest.approx(1.0, rel=1e-12) and a["error_ratio"] == 30 / 300
    # buckets' increase over the window: 60, 180, 285, 300 -> rank 150 is 90 of the 120 in (0.01, 0.1]
    assert a["p50"] == 0.01 + (0.1 - 0.01) * (90 / 120)
    assert a["p90"] == 0.1 + (1 - 0.1) * (90 / 105)
    assert a["p99"] == 1.0  # rank 297 is in +Inf: the highest finite bound
    assert a["mean_s"] == 45.0 / 300
    assert b["calls"] == 60 and b["error_ratio"] == 0.0  # a 404 is the caller's, not an error
    assert b["p50"] == 0.1 + (1 - 0.1) * (30 / 30) and b["p90"] == 1.0
    methods = {(m["service"], m["method"]): m for m in got["methods"]}
    assert list(methods) == [("aria_a", "put"), ("aria_a", "get"), ("aria_b", "find")]  # equal rates: by name
    put, find, get = methods["aria_a", "put"], methods["aria_b", "find"], methods["aria_a", "get"]
    assert put["calls"] == 666 and put["error_ratio"] == 6 / 666  # internal counts, bad-request does not
    assert find["error_ratio"] == 3 / 30  # service-unavailable counts
    assert get["error_ratio"] == 0.0
    # put's buckets: 300, 600, 666, 666, 666 -> rank 333 is 33 of the 300 in (0.001, 0.01]
    assert put["p50"] == 0.001 + (0.01 - 0.001) * (33 / 300)
    assert put["p90"] == 0.001 + (0.01 - 0.001) * ((0.9 * 666 - 300) / 300)
    assert put["p99"] == 0.01 + (0.1 - 0.01) * ((0.99 * 666 - 600) / 66)
    assert get["p50"] == 0.1 + (1 - 0.1) * (15 / 24) and get["p99"] == 1.0
    assert find["p90"] == 0.1 + (1 - 0.1) * ((0.9 * 30 - 15) / 15)
    services = {s["service"]: s for s in got["services"]}
    assert set(services) == {"aria_a", "aria_b", "aria_coordinate"}
    assert services["aria_a"]["cpu_cores"] == pytest.approx(30 / 300, rel=1e-12)
    assert services["aria_b"]["cpu_cores"] == pytest.approx(150 / 300, rel=1e-12)
    assert services["aria_a"]["resident_memory_bytes"] == 150e6
    assert services["aria_a"]["resident_memory_max_bytes"] == 300e6


def test_quantiles_follow_the_window_not_the_whole_history() -> None:
    doors = Doors()
    monitor = _collected(doors)
    # Over the last 100 s only one step happened: the same shape, so the same p50, from 1/3 of the calls.
    got = _call(monitor.performance(OPERATOR, 100))
    a = next(r for r in got["routes"] if r["route"] == "/v1/a")
    assert a["calls"] == 100 and a["p50"] == 0.01 + (0.1 - 0.01) * (30 / 40)
    # A window that holds one collection has no increase: nothing is listed.
    assert _call(monitor.performance(OPERATOR, 50))["routes"] == []


def test_bottlenecks_rank_time_cpu_and_the_slowest() -> None:
    monitor = _collected(Doors())
    got = _call(monitor.bottlenecks(OPERATOR, 300, 2))
    # time spent over the window: put 6.6 s, get 27 s, find 12 s (of 45.6 s)
    assert got["methods_total_s"] == pytest.approx(45.6, rel=1e-12)
    assert [(m["service"], m["method"]) for m in got["methods"]] == [("aria_a", "get"), ("aria_b", "find")]
    get, find = got["methods"]
    assert get["seconds"] == pytest.approx(27.0, rel=1e-12) and get["calls"] == 30
    assert get["share"] == get["seconds"] / got["methods_total_s"] and get["share"] == pytest.approx(27 / 45.6)
    assert find["share"] == pytest.approx(12 / 45.6) and find["mean_s"] == pytest.approx(12 / 30)
    assert get["p99"] == 1.0
    # routes: /v1/b 90 s, /v1/a 45 s
    assert got["routes_total_s"] == 135.0
    assert [(r["route"], r["share"]) for r in got["routes"]] == [("/v1/b", 90 / 135), ("/v1/a", 45 / 135)]
    # CPU: aria_b 0.5, aria_coordinate 0.2, aria_a 0.1 cores (0.8 in all); the limit keeps two
    assert [s["service"] for s in got["services"]] == ["aria_b", "aria_coordinate"]
    assert got["cpu_total_cores"] == pytest.approx(0.8, rel=1e-12)
    assert got["services"][0]["share"] == pytest.approx(0.5 / 0.8, rel=1e-12)
    # slowest by p99: get (1.0: rank in +Inf), then find (0.1 + 0.9 * (14.7 / 15)); put is quick
    assert [(m["method"], m["p99"]) for m in got["slowest"]] == [
        ("get", 1.0), ("find", 0.1 + (1 - 0.1) * ((0.99 * 30 - 15) / 15))]
    everything = _call(monitor.bottlenecks(OPERATOR, 300, 100))
    assert sum(m["share"] for m in everything["methods"]) == pytest.approx(1.0)
    assert [m["method"] for m in everything["slowest"]] == ["get", "find", "put"]


def test_counter_resets_inside_the_window_are_corrected() -> None:
    doors = Doors()
    monitor = _monitor(doors)

    async def rounds() -> None:
        for i, t in enumerate((1000.0, 1100.0, 1200.0, 1300.0)):
            doors.n = (0, 1, 0, 1)[i]  # restarted before 1200: every counter from 0 again
            await monitor.collect_once(t)
    asyncio.run(rounds())
    # steps: 0 -> 1 (+1), then reset to 0 (+0), then 1 (+1): two steps' worth over the window
    a = next(r for r in _call(monitor.performance(OPERATOR, 300))["routes"] if r["route"] == "/v1/a")
    assert a["calls"] == 200 and a["p50"] == 0.01 + (0.1 - 0.01) * (60 / 80)


def test_nothing_before_the_first_collection_and_bad_arguments_are_named() -> None:
    monitor = _monitor(Doors())
    assert _call(monitor.performance(OPERATOR)) == {"at": None, "window_s": 300.0, "routes": [], "methods": [],
                                                    "services": []}
    assert _call(monitor.bottlenecks(OPERATOR))["methods"] == []
    for bad in (5, 0, -300, math.nan, math.inf, True, "300", None, 3601):
        with pytest.raises(BadRequest) as err:
            _call(monitor.performance(OPERATOR, bad))  # type: ignore[arg-type]
        assert err.value.fields["field"] == "window_s", bad
    for bad_limit in (0, 101, 2.5, True, "3"):
        with pytest.raises(BadRequest) as err:
            _call(monitor.bottlenecks(OPERATOR, 300, bad_limit))  # type: ignore[arg-type]
        assert err.value.fields["field"] == "limit", bad_limit
    assert check_window(10, 3600) == 10.0 and check_window(3600.0, 3600) == 3600.0 and check_limit(100) == 100


def test_the_cli_renders_both_views(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from aria_actors.monitor import cli_performance
    from aria_actors.monitor.cli import app

    monitor = _collected(Doors())
    answers = {"performance": _call(monitor.performance(OPERATOR, 300)),
               "bottlenecks": _call(monitor.bottlenecks(OPERATOR, 300, 10))}
    asked: list[tuple[str, tuple[Any, ...]]] = []

    class Section:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: asked.append((name, args)) or answers[name]

    class Client:
        monitor = Section()

    monkeypatch.setattr(cli_performance, "sdk_call", lambda token, use: use(Client()))
    out = CliRunner().invoke(app, ["performance", "--minutes", "5"])
    assert out.exit_code == 0, out.output
    assert "gateway routes" in out.output and "/v1/a" in out.output and "aria_coordinate" in out.output
    out = CliRunner().invoke(app, ["bottlenecks", "--limit", "2", "--json"])
    assert out.exit_code == 0 and json.loads(out.output) == answers["bottlenecks"]
    out = CliRunner().invoke(app, ["bottlenecks"])
    assert out.exit_code == 0 and "slowest RPC methods" in out.output and "45.600 s in all" in out.output
    assert asked == [("performance", (300.0,)), ("bottlenecks", (300.0, 2)), ("bottlenecks", (300.0, 10))]
