"""aria_monitor's health history and dependency graph, Ray-free: a MonitorService whose fake gateway
door writes the statuses the test sets between collections (as the real gateway's exposition
writes the boot actor's), read back as transitions, time shares, restarts and the live graph."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.monitor import health
from aria_actors.monitor.service import MonitorService
from aria_actors.runtime.errors import BadRequest, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import ServiceSpec, Status

OPERATOR = Principal(subject="op", roles=("operator",))
NAMES = [s.name for s in all_specs()]
OWN = "# TYPE aria_thing_total counter\naria_thing_total 1\n"


class Aria:
    """Fourteen metrics doors; the gateway's carries every service's status and restart count
    (``aria_service_status{service,status}``, as GatewayMetrics renders it)."""

    def __init__(self) -> None:
        self.status = dict.fromkeys(NAMES, "ready")
        self.restarts = dict.fromkeys(NAMES, 0)
        self.down: set[str] = set()  # doors that fail

    def gateway_text(self) -> str:
        lines = ["# TYPE aria_service_status gauge"]
        lines += [f'aria_service_status{{service="{n}",status="{st.value}"}} {int(self.status[n] == st.value)}'
                  for n in NAMES for st in Status]
        lines += ["# TYPE aria_service_restarts gauge"]
        lines += [f'aria_service_restarts{{service="{n}"}} {self.restarts[n]}' for n in NAMES]
        return "\n".join(lines) + "\n"

    async def fetch(self, name: str, timeout_s: float) -> str:
        if name in self.down:
            raise ServiceUnavailable(f"{name} is down")
        return self.gateway_text() if name == "aria_coordinate" else OWN


def _monitor(aria: Aria) -> MonitorService:
    service = MonitorService(AriaSettings(monitor={"interval_s": 10.0, "builtin_rules": False}))

    async def start() -> None:
        await service.start(Deps({}, exposition_of=aria.fetch))
        await service.stop()  # the test drives the rounds itself
    asyncio.run(start())
    return service


def _by_name(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["service"]: s for s in got["services"]}


def test_a_service_that_fails_and_comes_back_has_its_transitions_shares_and_restarts() -> None:
    aria = Aria()
    monitor = _monitor(aria)
    aria.status["aria_monitor"] = "not_implemented"

    async def at(t: float) -> None:
        await monitor.collect_once(t)

    async def scenario() -> None:
        await at(1000.0)
        aria.status["aria_data"], aria.status["aria_auth"] = "failed", "degraded"
        aria.down.add("aria_data")
        await at(1010.0)
        aria.status["aria_data"], aria.restarts["aria_data"] = "starting", 1
        await at(1020.0)
        aria.status["aria_data"] = aria.status["aria_auth"] = "ready"
        aria.down.clear()
        await at(1030.0)
        await at(1060.0)

        got = await monitor.health_history(OPERATOR, window_s=60)
        assert got["at"] == 1060.0 and got["window_s"] == 60.0
        hist = _by_name(got)
        assert list(hist) == NAMES
        data = hist["aria_data"]
        assert data["transitions"] == [{"at": 1010.0, "from": "ready", "to": "failed"},
                                       {"at": 1020.0, "from": "failed", "to": "starting"},
                                       {"at": 1030.0, "from": "starting", "to": "ready"}]
        assert data["current"] == "ready"
        assert data["seconds"] == {"failed": 10.0, "ready": 40.0, "starting": 10.0}
        assert data["observed_s"] == 60.0 and data["up_s"] == 40.0
        assert data["up_share"] == pytest.approx(40 / 60) and data["degraded_share"] == 0.0
        assert data["restarts"] == 1
        assert data["scrape_availability"] == pytest.approx(3 / 5) and data["scrapes"] == 5
        auth = hist["aria_auth"]
        assert auth["seconds"] == {"degraded": 20.0, "ready": 40.0}
        assert auth["up_share"] == pytest.approx(40 / 60) and auth["degraded_share"] == pytest.approx(20 / 60)
        assert auth["restarts"] == 0 and auth["scrape_availability"] == 1.0
        mon = hist["aria_monitor"]  # not_implemented runs: it counts as up
        assert mon["up_share"] == 1.0 and mon["transitions"] == [] and mon["current"] == "not_implemented"

        # a window opening mid-way: the status it opens with is the last collection before it, and the
        # restart that happened between that collection and the next counts
        [data] = (await monitor.health_history(OPERATOR, "aria_data", window_s=45))["services"]
        assert data["seconds"] == {"ready": 30.0, "starting": 10.0, "failed": 5.0}
        assert [m["at"] for m in data["transitions"]] == [1020.0, 1030.0]
        assert data["restarts"] == 1
        [data] = (await monitor.health_history(OPERATOR, "aria_data", window_s=30))["services"]
        assert data["seconds"] == {"ready": 30.0} and data["restarts"] == 0
        assert data["transitions"] == [{"at": 1030.0, "from": "starting", "to": "ready"}]  # at the window's start

        # the gateway unreadable: every status unknown for that while, left out of the shares
        aria.down.add("aria_coordinate")
        await at(1070.0)
        assert _by_name(await monitor.health_history(OPERATOR, window_s=60))["aria_data"]["current"] == "unknown"
        aria.down.clear()
        await at(1080.0)
        data = _by_name(await monitor.health_history(OPERATOR, window_s=80))["aria_data"]
        assert data["seconds"] == {"failed": 10.0, "ready": 50.0, "starting": 10.0, "unknown": 10.0}
        assert data["up_share"] == pytest.approx(50 / 70) and data["observed_s"] == 80.0
        assert data["transitions"][-2:] == [{"at": 1070.0, "from": "ready", "to": "unknown"},
                                            {"at": 1080.0, "from": "unknown", "to": "ready"}]

    asyncio.run(scenario())


def test_history_refuses_bad_input() -> None:
    monitor = _monitor(Aria())

    async def scenario() -> None:
        await monitor.collect_once(1000.0)
        with pytest.raises(NotFound):
            await monitor.health_history(OPERATOR, "aria_nothing")
        for bad in (5, 0, float("nan"), float("inf"), 3601, True, "60"):
            with pytest.raises(BadRequest) as err:
                await monitor.health_history(OPERATOR, window_s=bad)  # type: ignore[arg-type]
            assert err.value.fields == {"field": "window_s"}
        with pytest.raises(BadRequest):
            await monitor.health_history(OPERATOR, 12)  # type: ignore[arg-type]
        # a young history: the window is covered from the first collection only, and says so
        [data] = (await monitor.health_history(OPERATOR, "aria_data", window_s=600))["services"]
        assert data["observed_s"] == 0.0 and data["up_share"] is None and data["current"] == "ready"

    asyncio.run(scenario())


def test_the_live_graph_has_every_edge_and_the_blast_radius_of_what_is_down() -> None:
    aria = Aria()
    monitor = _monitor(aria)
    aria.status.update(aria_data="failed", aria_auth="degraded", aria_storage="degraded", aria_tune="stopped",
                       aria_debugger="degraded")
    aria.down.add("aria_tune")

    async def scenario() -> dict[str, Any]:
        await monitor.collect_once(1000.0)
        return await monitor.dependencies(OPERATOR)

    got = asyncio.run(scenario())
    assert got["at"] == 1000.0
    nodes = {n["name"]: n for n in got["nodes"]}
    assert list(nodes) == NAMES
    assert {n: v["status"] for n, v in nodes.items()} == aria.status
    assert nodes["aria_tune"]["scrape_up"] is False and nodes["aria_data"]["scrape_up"] is True
    assert nodes["aria_auth"] | {"dependents": None} == {
        "name": "aria_auth", "layer": 2, "kind": "actor", "status": "degraded", "up": False, "scrape_up": True,
        "depends_on": ["aria_security", "aria_data"], "dependents": None}
    assert nodes["aria_data"]["dependents"] == sorted(s.name for s in all_specs() if "aria_data" in s.depends_on)
    assert {"aria_auth", "aria_monitor", "aria_tune"} <= set(nodes["aria_data"]["dependents"])
    edges = {(e["service"], e["dependency"]): e["state"] for e in got["edges"]}
    assert len(edges) == sum(len(s.depends_on) for s in all_specs())
    assert edges[("aria_auth", "aria_data")] == "down" and edges[("aria_auth", "aria_security")] == "ok"
    assert edges[("aria_storage", "aria_auth")] == "down"  # a degraded dependency is not up
    assert edges[("aria_tune", "aria_monitor")] == "ok"
    assert got["down"] == ["aria_data", "aria_auth", "aria_storage", "aria_debugger", "aria_tune"]
    assert got["root_causes"] == ["aria_data"]  # aria_tune is stopped, but aria_data is under it
    everything_on_data = ["aria_auth", "aria_coordinate", "aria_debugger", "aria_engine", "aria_interface",
                          "aria_interpret", "aria_monitor", "aria_queue", "aria_shape", "aria_storage", "aria_tune",
                          "aria_workflow"]
    assert got["blast_radius"] == {
        "aria_data": everything_on_data,
        "aria_auth": ["aria_coordinate", "aria_debugger", "aria_interface", "aria_interpret", "aria_shape",
                      "aria_storage", "aria_tune", "aria_workflow"],
        "aria_storage": ["aria_interface", "aria_interpret", "aria_shape", "aria_tune", "aria_workflow"],
        "aria_debugger": [], "aria_tune": []}
    assert got["degraded"] == {"aria_auth": {"explained_by": ["aria_data"]},
                               "aria_storage": {"explained_by": ["aria_data"]},
                               "aria_debugger": {"explained_by": ["aria_data"]}}


def test_a_gateway_that_cannot_be_read_leaves_every_status_unknown_and_no_blast_radius() -> None:
    aria = Aria()
    aria.down.add("aria_coordinate")
    monitor = _monitor(aria)
    got = asyncio.run(monitor.dependencies(OPERATOR))  # no collection yet: it makes one
    assert {n["status"] for n in got["nodes"]} == {"unknown"}
    assert {e["state"] for e in got["edges"]} == {"unknown"}
    assert got["down"] == [] and got["blast_radius"] == {} and got["degraded"] == {}


# -- the pure parts, on a small graph ------------------------------------------------------------
def spec(name: str, *deps: str) -> ServiceSpec:
    return ServiceSpec(name=name, layer=1 + len(deps), depends_on=deps)


def test_root_causes_explain_a_chain_of_degraded_services() -> None:
    specs = [spec("a"), spec("b", "a"), spec("c", "b"), spec("d"), spec("e", "c", "d")]
    got = health.dependency_graph(specs, {"a": "failed", "b": "degraded", "c": "degraded", "d": "degraded",
                                          "e": "degraded"}, {})
    assert got["root_causes"] == ["a", "d"]
    assert got["degraded"] == {"b": {"explained_by": ["a"]}, "c": {"explained_by": ["a"]},
                               "d": {"explained_by": []}, "e": {"explained_by": ["a", "d"]}}
    assert got["blast_radius"] == {"a": ["b", "c", "e"], "b": ["c", "e"], "c": ["e"], "d": ["e"], "e": []}


def test_summarize_and_increase_on_points() -> None:
    got = health.summarize([(90.0, "failed"), (100.0, "ready"), (130.0, "degraded")], 95.0, 160.0)
    assert got["seconds"] == {"degraded": 30.0, "failed": 5.0, "ready": 30.0}
    assert got["up_share"] == pytest.approx(30 / 65) and got["degraded_share"] == pytest.approx(30 / 65)
    assert got["transitions"] == [{"at": 100.0, "from": "failed", "to": "ready"},
                                  {"at": 130.0, "from": "ready", "to": "degraded"}]
    assert health.summarize([], 0.0, 10.0)["current"] == "unknown"
    assert health.increase([(0, 2.0), (1, 3.0), (2, 1.0), (3, 4.0)]) == 1 + 1 + 3  # a drop is a reset
    assert health.increase([(0, 5.0)]) == 0.0


def test_a_monitor_that_has_not_started_says_so() -> None:
    monitor = MonitorService(AriaSettings())
    with pytest.raises(ServiceUnavailable):
        asyncio.run(monitor.dependencies(OPERATOR))
