"""aria_monitor's dashboards, Ray-free: the built-in panels parse, their series drawn from memory
over collections of fake metrics doors, sampled into rollups, the Grafana JSON's shape, and bad
arguments (window bounds, unknown dashboard, source)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.monitor.dashboards import (
    DASHBOARDS,
    PARSED,
    check_source,
    check_window,
    grafana,
    rows_to_series,
    sample,
    step_for,
)
from aria_actors.monitor.errors import UnknownDashboard
from aria_actors.monitor.rollup import HOUR, MINUTE, Rollups
from aria_actors.monitor.service import MonitorService
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings

OPERATOR = Principal(subject="op", roles=("operator",))


class Doors:
    n = 0

    async def door(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        if door != "exposition":
            raise TimeoutError
        n = self.n
        return "\n".join([
            "# TYPE aria_rpc_calls_total counter",
            f'aria_rpc_calls_total{{method="get",outcome="ok"}} {10 * n}',
            f'aria_rpc_calls_total{{method="get",outcome="internal"}} {n}',
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {2**20 * (100 + n)}",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {0.5 * n}",
        ]) + "\n"


def _collected(times: list[float]) -> MonitorService:
    doors = Doors()
    service = MonitorService(AriaSettings(monitor={"interval_s": 10.0, "dashboard_sample_s": 10.0,
                                                   "builtin_rules": False}))

    async def run() -> None:
        await service.start(Deps({}, door_of=doors.door))
        await service.stop()  # the test drives the collections itself
        assert service.collector is not None
        service.collector.services = ("aria_a", "aria_b")
        for i, t in enumerate(times):
            doors.n = i
            await service.collect_once(t)
            await service.sample_panels()
    asyncio.run(run())
    return service


def test_every_panel_parses_and_every_dashboard_has_panels() -> None:
    assert set(DASHBOARDS) == {"overview", "queue", "resources"}
    assert len(PARSED) == sum(len(d.panels) for d in DASHBOARDS.values())
    assert all(d.panels for d in DASHBOARDS.values())


def test_a_dashboard_drawn_from_memory_and_sampled_into_rollups() -> None:
    t0 = 1_700_000_000.0
    times = [t0 + 10 * i for i in range(13)]
    monitor = _collected(times)
    assert monitor.panel_history.oldest == t0
    got = asyncio.run(monitor.dashboard(OPERATOR, "resources", "60", "memory"))
    assert got["source"] == "memory" and got["window_s"] == 60 and got["end"] == times[-1] and got["step_s"] == 10
    panels = {p["name"]: p for p in got["panels"]}
    mem = {s["labels"]["service"]: s["points"] for s in panels["memory"]["series"]}
    assert set(mem) == {"aria_a", "aria_b"}
    assert mem["aria_a"][-1] == [times[-1], 2**20 * 112.0] and len(mem["aria_a"]) == 7
    cpu = {s["labels"]["service"]: s["points"] for s in panels["cpu"]["series"]}
    assert cpu["aria_a"][-1][1] == pytest.approx(0.05)  # 0.5 s of CPU per 10 s
    overview = asyncio.run(monitor.dashboard(OPERATOR, "overview", "1m"))
    assert overview["source"] == "memory"  # auto: the window lies inside what memory holds
    rates = {p["name"]: p for p in overview["panels"]}
    [up] = rates["services_up"]["series"]
    assert up["labels"] == {} and up["points"][-1][1] == 2.0
    err = {s["labels"]["service"]: s["points"][-1][1] for s in rates["rpc_errors"]["series"]}
    assert err["aria_a"] == pytest.approx(0.1)
    # every collection's panels went into the rollups, a minute and an hour row per series and bucket
    rows = monitor.rollups.take()
    minute = [(k, a) for k, a in rows if k[0] == MINUTE and k[1] == "resources/memory" and '"aria_a"' in k[2]]
    assert sum(a.count for _, a in minute) == 13
    hour = [a for k, a in rows if k[0] == HOUR and k[1] == "resources/memory" and '"aria_a"' in k[2]]
    assert [a.count for a in hour] == [13] and hour[0].last == 2**20 * 112.0 and hour[0].lo == 2**20 * 100.0


def test_an_old_window_without_postgres_is_drawn_from_memory_and_says_why() -> None:
    monitor = _collected([1_700_000_000.0 + 10 * i for i in range(3)])
    got = asyncio.run(monitor.dashboard(OPERATOR, "overview", "7d"))
    assert got["source"] == "memory" and "PostgreSQL unavailable" in got["note"]
    assert got["step_s"] == step_for(7 * 86400, 10.0) == 2520


def test_rollup_rows_become_series_at_the_step() -> None:
    rows = [{"labels": '{"service":"a"}', "t": 0.0, "avg": 1.0}, {"labels": '{"service":"a"}', "t": 60.0, "avg": 3.0},
            {"labels": '{"service":"b"}', "t": 0.0, "avg": 5.0}]
    assert rows_to_series(rows, 120) == [{"labels": {"service": "a"}, "points": [[0.0, 2.0]]},
                                         {"labels": {"service": "b"}, "points": [[0.0, 5.0]]}]


def test_sample_skips_a_failing_panel_only() -> None:
    from aria_actors.monitor.series import SeriesStore

    store = SeriesStore()
    store.add({"__name__": "aria_scrape_up", "service": "aria_a"}, 100.0, 1.0)
    r = Rollups()
    assert sample(store, 100.0, r) >= 1  # services_up at least; panels over absent series add nothing
    assert any(k[1] == "overview/services_up" for k, _ in r.take())


def test_grafana_json_shape() -> None:
    g = grafana(DASHBOARDS["overview"])
    assert g["uid"] == "aria-overview" and g["schemaVersion"] >= 30 and g["tags"] == ["aria"]
    assert g["templating"]["list"][0]["type"] == "datasource" and g["templating"]["list"][0]["query"] == "prometheus"
    assert [p["id"] for p in g["panels"]] == list(range(1, len(DASHBOARDS["overview"].panels) + 1))
    for p in g["panels"]:
        assert p["type"] == "timeseries" and p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert set(p["gridPos"]) == {"x", "y", "w", "h"}
        [target] = p["targets"]
        assert target["refId"] == "A" and "[1m]" not in target["expr"]
    rate = next(p for p in g["panels"] if p["title"].startswith("RPC calls"))
    assert rate["targets"][0]["expr"] == "sum by (service) (rate(aria_rpc_calls_total[$__rate_interval]))"
    assert rate["targets"][0]["legendFormat"] == "{{service}}"


def test_bad_arguments() -> None:
    assert check_window("15m", 86400) == 900 and check_window("7d", 90 * 86400) == 7 * 86400
    assert check_window("120", 86400) == 120 and check_window(60, 86400) == 60
    for bad in ("30s", "59", "abc", "", "-5m", "1y", True, None, "8d"):
        with pytest.raises(BadRequest):
            check_window(bad, 7 * 86400)
    with pytest.raises(BadRequest):
        check_source("disk")
    monitor = _collected([1_700_000_000.0])
    with pytest.raises(UnknownDashboard) as err:
        asyncio.run(monitor.dashboard(OPERATOR, "nope"))
    assert err.value.status == 404
    with pytest.raises(UnknownDashboard):
        asyncio.run(monitor.grafana_dashboard(OPERATOR, "nope"))
    assert [d["name"] for d in asyncio.run(monitor.dashboards(OPERATOR))] == list(DASHBOARDS)
