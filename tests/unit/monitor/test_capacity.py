"""aria_monitor's cost insights and capacity planning, Ray-free: fake metrics doors whose CPU
counters, memory, calls, series and queue backlog move at known rates between collections at
chosen times; the answers must recover those rates (exactly without noise, within stated
tolerances with it) and name the over-reserved, under-reserved and idle services exactly."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from aria_actors.monitor import capacity
from aria_actors.monitor.capacity import (
    OVER_RESERVED_FACTOR,
    calls_in,
    counter_deltas,
    counts_at,
    cpu_usage,
    findings,
    fit_line,
    project,
)
from aria_actors.monitor.service import MonitorService
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import ServiceSpec

OPERATOR = Principal(subject="op", roles=("operator",))
MIB = 1024.0 * 1024.0
GIB = 1024.0 * MIB
NODE = {"host": "test-node", "cpus": 8, "memory_bytes": int(16 * GIB), "memory_available_bytes": int(8 * GIB),
        "measured": "fixed by the test"}
SPECS = [ServiceSpec(name="aria_a", layer=1, num_cpus=4.0, num_gpus=1.0),
         ServiceSpec(name="aria_b", layer=1, num_cpus=0.5),
         ServiceSpec(name="aria_queue", layer=1)]


def door(cpu: float, mem: float, calls: dict[str, float] | None = None, extra: str = "") -> str:
    """One service's exposition, as its shell writes it (the values chosen by the test)."""
    text = ("# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {cpu!r}\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            f"process_resident_memory_bytes {mem!r}\n")
    if calls:
        text += "# TYPE aria_rpc_calls_total counter\n" + "".join(
            f'aria_rpc_calls_total{{method="{m}",outcome="ok"}} {v!r}\n' for m, v in calls.items())
    return text + extra


class Doors:
    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    async def fetch(self, name: str, timeout_s: float) -> str:
        return self.texts[name]


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> tuple[MonitorService, Doors]:
    monkeypatch.setattr(capacity, "all_specs", lambda: SPECS)
    monkeypatch.setattr(capacity, "node_resources", lambda: dict(NODE))
    doors = Doors()
    service = MonitorService(AriaSettings(monitor={"interval_s": 1.0, "builtin_rules": False, "max_series": 1000}))

    async def start() -> None:
        await service.start(Deps({}, exposition_of=doors.fetch))
        await service.stop()  # the test drives the rounds itself
    asyncio.run(start())
    assert service.collector is not None
    service.collector.services = tuple(s.name for s in SPECS)
    return service, doors


def _collect(service: MonitorService, t: float) -> None:
    asyncio.run(service.collect_once(t))


# -- pure pieces -----------------------------------------------------------------------------------
def test_counter_deltas_treat_a_drop_as_a_restart() -> None:
    assert counter_deltas([(0.0, 5.0), (10.0, 7.0), (20.0, 2.0), (30.0, 2.0)]) == [
        (10.0, 10.0, 2.0), (20.0, 10.0, 2.0), (30.0, 10.0, 0.0)]
    assert cpu_usage([(0.0, 5.0), (10.0, 7.0), (20.0, 2.0)]) == {"mean_cores": 0.2, "peak_cores": 0.2, "points": 3}
    assert cpu_usage([(0.0, 5.0)]) == {"mean_cores": None, "peak_cores": None, "points": 1}
    # a call series born after the service's first point counts from zero; one present from the start does not
    assert calls_in([[(10.0, 3.0), (20.0, 4.0)], [(0.0, 9.0), (20.0, 9.0)]], first_seen=0.0) == 4.0
    assert calls_in([[(0.0, 9.0), (20.0, 9.0)]], first_seen=0.0) == 0.0


def test_the_fit_recovers_a_noiseless_line_exactly() -> None:
    points = [(1000.0 + 10 * i, 5.0 + 0.25 * 10 * i) for i in range(20)]
    fit = fit_line(points, ref=1190.0)
    assert fit is not None and fit.points == 20
    assert fit.slope == pytest.approx(0.25, rel=1e-12)
    assert fit.intercept == pytest.approx(5.0 + 0.25 * 190, rel=1e-12)  # the value at ref
    assert fit.r2 == pytest.approx(1.0, rel=1e-12)
    flat = fit_line([(0.0, 3.0), (1.0, 3.0), (2.0, 3.0)], ref=2.0)
    assert flat is not None and flat.slope == 0.0 and flat.intercept == 3.0 and flat.r2 is None
    assert fit_line([(0.0, 1.0)], ref=0.0) is None
    assert fit_line([(5.0, 1.0), (5.0, 2.0)], ref=0.0) is None


def test_projections_say_why_there_is_no_time_to_exhaustion() -> None:
    rising = [(0.0, 10.0), (3600.0, 20.0), (7200.0, 30.0)]
    got = project(rising, 7200.0, 3600.0, limit=100.0)
    assert got["slope_per_hour"] == pytest.approx(10.0) and got["intercept"] == pytest.approx(30.0)
    assert got["projected"] == pytest.approx(40.0)
    assert got["exhausted_in_s"] == pytest.approx(7 * 3600.0) and got["reason"] is None
    headroom = project(rising, 7200.0, 3600.0, headroom=5.0)
    assert headroom["limit"] == pytest.approx(35.0) and headroom["exhausted_in_s"] == pytest.approx(1800.0)
    assert project(rising, 7200.0, 60.0, limit=30.0)["exhausted_in_s"] == 0.0
    assert project(rising[:2], 3600.0, 60.0, limit=100.0)["reason"] == "too few points: 2 in the window, 3 needed"
    falling = project([(t, -v) for t, v in rising], 7200.0, 60.0, limit=100.0)
    assert falling["exhausted_in_s"] is None and falling["reason"].startswith("falling")
    flat = project([(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)], 2.0, 60.0, limit=100.0)
    assert flat["exhausted_in_s"] is None and flat["reason"].startswith("flat")
    unbounded = project(rising, 7200.0, 60.0)
    assert unbounded["exhausted_in_s"] is None and unbounded["reason"] == "no limit to exhaust"


def test_series_counts_from_lifetimes() -> None:
    assert counts_at([(0.0, 10.0), (5.0, 10.0), (0.0, 4.0)], [0.0, 4.0, 4.5, 5.0, 10.0, 11.0]) == [
        (0.0, 2.0), (4.0, 2.0), (4.5, 1.0), (5.0, 2.0), (10.0, 2.0), (11.0, 0.0)]


def test_findings_name_over_under_reserved_and_idle_services() -> None:
    def row(name: str, cpus: float, peak: float | None, calls: float | None) -> dict[str, Any]:
        return {"service": name, "reservation": {"cpus": cpus, "gpus": 0.0}, "cpu": {"peak_cores": peak},
                "calls": calls}

    rows = [row("big", 2.0, 0.9, 5), row("edge", 2.0, 1.0, 5), row("tight", 0.5, 0.75, 5), row("free", 0.0, 3.0, 5),
            row("quiet", 0.0, 0.0, 0), row("unseen", 1.0, None, None)]
    got = {(f["service"], f["finding"]) for f in findings(rows, factor=2.0)}
    assert got == {("big", "over-reserved"), ("tight", "under-reserved"), ("quiet", "idle")}


# -- through the service ---------------------------------------------------------------------------
def test_costs_measure_each_service_against_its_reservation_and_the_node(
        monitor: tuple[MonitorService, Doors]) -> None:
    service, doors = monitor
    cpu_b = 0.0
    for i in range(7):  # collections at 1000, 1010, ..., 1060
        t = 1000.0 + 10 * i
        if i:
            cpu_b += 10.0 if i % 2 else 5.0  # intervals at 1.0 and 0.5 cores
        b_calls = {"get": 3.0 + (i - 3)} if i >= 3 else None  # its first call's series appears at 1030
        doors.texts = {
            "aria_a": door(100.0 + 0.5 * 10 * i, (100 + i) * MIB, {"put": 2.0 * i + 7}),
            "aria_b": door(cpu_b, 300 * MIB, b_calls),
            "aria_queue": door(0.1 * 10 * i, 50 * MIB),
        }
        _collect(service, t)

    got = asyncio.run(service.costs(OPERATOR, 60.0))
    assert got["at"] == 1060.0 and got["window_s"] == 60.0 and got["node"] == NODE
    rows = {r["service"]: r for r in got["services"]}
    assert list(rows) == ["aria_a", "aria_b", "aria_queue"]
    a, b, q = rows["aria_a"], rows["aria_b"], rows["aria_queue"]
    assert a["reservation"] == {"cpus": 4.0, "gpus": 1.0}
    assert a["cpu"] == {"mean_cores": pytest.approx(0.5), "peak_cores": pytest.approx(0.5), "points": 7}
    assert b["cpu"] == {"mean_cores": pytest.approx(0.75), "peak_cores": pytest.approx(1.0), "points": 7}
    assert q["cpu"]["mean_cores"] == pytest.approx(0.1)
    assert a["memory"] == {"mean_bytes": pytest.approx(103 * MIB), "peak_bytes": 106 * MIB, "points": 7}
    assert a["calls"] == 12.0 and b["calls"] == 6.0 and q["calls"] == 0.0  # b's 3 first calls count
    assert a["share"]["cpu_reserved"] == 0.5 and a["share"]["cpu_mean"] == pytest.approx(0.5 / 8)
    assert b["share"]["cpu_peak"] == pytest.approx(1.0 / 8)
    assert a["share"]["memory_mean"] == pytest.approx(103 * MIB / (16 * GIB))
    assert got["totals"]["cpus_reserved"] == 4.5 and got["totals"]["gpus_reserved"] == 1.0
    assert got["totals"]["cpu_mean_cores"] == pytest.approx(1.35)
    assert got["totals"]["memory_mean_bytes"] == pytest.approx((103 + 300 + 50) * MIB)
    assert {(f["service"], f["finding"]) for f in got["findings"]} == {
        ("aria_a", "over-reserved"), ("aria_b", "under-reserved"), ("aria_queue", "idle")}
    assert got["over_reserved_factor"] == OVER_RESERVED_FACTOR

    # a shorter window: only what happened in it (b's series was there at its start: 3 calls since)
    short = {r["service"]: r for r in asyncio.run(service.costs(OPERATOR, 30.0))["services"]}
    assert short["aria_b"]["calls"] == 3.0 and short["aria_a"]["calls"] == 6.0
    assert short["aria_a"]["memory"]["points"] == 4 and short["aria_a"]["memory"]["mean_bytes"] == 104.5 * MIB


def test_a_service_never_read_has_no_numbers_and_no_findings(monitor: tuple[MonitorService, Doors]) -> None:
    service, doors = monitor
    doors.texts = {"aria_a": door(1.0, MIB), "aria_b": door(1.0, MIB), "aria_queue": "not { prometheus"}
    _collect(service, 1000.0)
    _collect(service, 1010.0)
    rows = {r["service"]: r for r in asyncio.run(service.costs(OPERATOR, 60.0))["services"]}
    assert rows["aria_queue"]["cpu"]["mean_cores"] is None and rows["aria_queue"]["memory"]["mean_bytes"] is None
    assert rows["aria_queue"]["calls"] is None
    got = asyncio.run(service.costs(OPERATOR, 60.0))["findings"]
    assert all(f["service"] != "aria_queue" for f in got)


def test_capacity_recovers_known_growth_rates(monitor: tuple[MonitorService, Doors]) -> None:
    service, doors = monitor
    rng = random.Random(7)
    cpu_a = 0.0
    for i in range(121):  # every 10 s from 1000 to 2200
        t = 1000.0 + 10 * i
        if i:
            cpu_a += (1.0 + (t - 1000.0) / 3600.0) * 10  # its rate grows by one core per hour
        noise = rng.uniform(-1.0, 1.0) * MIB
        new_series = "# TYPE aria_thing gauge\n" + "".join(f'aria_thing{{n="{k}"}} 1\n' for k in range(i + 1))
        jobs = ("# TYPE aria_queue_jobs gauge\n"
                f'aria_queue_jobs{{queue="mail",state="available"}} {1000.0 - 0.5 * 10 * i!r}\n'
                'aria_queue_jobs{queue="mail",state="running"} 3.0\n')
        doors.texts = {
            "aria_a": door(cpu_a, 100 * MIB + 0.1 * MIB * (t - 1000.0), extra=new_series),  # 360 MiB/h
            "aria_b": door(0.25 * (t - 1000.0), 200 * MIB + 0.05 * MIB * (t - 1000.0) + noise),  # 180 MiB/h
            "aria_queue": door(0.0, 50 * MIB, extra=jobs),
        }
        _collect(service, t)

    got = asyncio.run(service.capacity(OPERATOR, 3600.0, 1200.0))
    assert got["at"] == 2200.0 and got["horizon_s"] == 3600.0 and got["node"] == NODE
    a = got["memory"]["aria_a"]
    assert a["points"] == 121
    assert a["slope_per_hour"] == pytest.approx(360 * MIB, rel=1e-9)
    assert a["intercept"] == pytest.approx(220 * MIB, rel=1e-9)
    assert a["r2"] == pytest.approx(1.0, rel=1e-9)
    assert a["projected"] == pytest.approx(580 * MIB, rel=1e-9)
    assert a["exhausted_in_s"] == pytest.approx(8 * GIB / (0.1 * MIB), rel=1e-9)  # 81920 s
    # with noise of +-1 MiB: the slope within 2 %, the value now within 0.5 MiB
    b = got["memory"]["aria_b"]
    assert b["slope_per_hour"] == pytest.approx(180 * MIB, rel=0.02)
    assert b["intercept"] == pytest.approx(260 * MIB, abs=0.5 * MIB)
    assert 0.99 < b["r2"] < 1.0
    assert got["memory"]["aria_queue"]["reason"].startswith("flat")
    assert got["total_memory"]["slope_per_hour"] == pytest.approx(540 * MIB, rel=0.02)
    # total CPU: 1.25 cores at 1000 s, one more per hour; the node's 8 cores are reached 6.4167 h after 2200
    cpu = got["cpu"]
    assert cpu["points"] == 120
    assert cpu["slope_per_hour"] == pytest.approx(1.0, rel=1e-6)
    assert cpu["intercept"] == pytest.approx(1.25 + 1200 / 3600, rel=1e-6)
    assert cpu["exhausted_in_s"] == pytest.approx((8 - 1.25 - 1200 / 3600) * 3600, rel=1e-6)
    # one new series per collection: 360 an hour, up to the history's max_series
    series = got["series"]
    assert series["slope_per_hour"] == pytest.approx(360.0, rel=1e-9)
    assert series["last"] == series["now"] == len(service.store)
    assert series["intercept"] == pytest.approx(len(service.store), rel=1e-9)
    assert series["exhausted_in_s"] == pytest.approx((1000 - len(service.store)) * 10, rel=1e-9)
    # a queue draining at 0.5 jobs/s: no limit to exhaust; the running jobs are not counted
    assert list(got["queues"]) == ["mail"]
    mail = got["queues"]["mail"]
    assert mail["slope_per_hour"] == pytest.approx(-1800.0, rel=1e-9) and mail["last"] == 400.0
    assert mail["exhausted_in_s"] is None and mail["reason"] == "no limit to exhaust"

    few = asyncio.run(service.capacity(OPERATOR, 3600.0, 15.0))
    assert few["memory"]["aria_a"]["points"] == 2 and few["memory"]["aria_a"]["exhausted_in_s"] is None
    assert few["memory"]["aria_a"]["reason"] == "too few points: 2 in the window, 3 needed"


def test_bad_windows_and_horizons_are_refused_by_field(monitor: tuple[MonitorService, Doors]) -> None:
    service, _ = monitor
    for bad in (5.0, 86401.0, float("nan"), True, "60"):
        with pytest.raises(BadRequest) as err:
            asyncio.run(service.costs(OPERATOR, bad))  # type: ignore[arg-type]
        assert err.value.fields["field"] == "window_s"
    for bad in (30.0, 91 * 86400.0, float("inf"), None):
        with pytest.raises(BadRequest) as err:
            asyncio.run(service.capacity(OPERATOR, bad))  # type: ignore[arg-type]
        assert err.value.fields["field"] == "horizon_s"
    with pytest.raises(BadRequest):
        asyncio.run(service.capacity(OPERATOR, 3600.0, 1.0))
