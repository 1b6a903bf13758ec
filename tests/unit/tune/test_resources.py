"""aria_tune's resource proposals: the rule on synthetic histories (idle, steady, spiky, saturated,
no data), and the RPCs over a fake aria_monitor and in-memory proposals (every service listed, bad
windows and unknown services refused, proposals recorded with evidence, decisions audited and final,
non-administrators refused)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import AriaError, BadRequest, Forbidden, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import invoke
from aria_actors.runtime.service import Deps
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ProposalDecided, UnknownProposal, UnknownService
from aria_actors.tune.resources import Rule, percentile, propose, round_up
from aria_actors.tune.resources_store import MemoryProposals
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

RULE = Rule()
MIB = 2**20
ADMIN = Principal("ada", roles=("admin",))
OPERATOR = Principal("otto", roles=("operator",))
EDITOR = Principal("eve", roles=("editor",), tenant="acme")
VIEWER = Principal("vera", roles=("viewer",), tenant="acme")


# -- the rule --------------------------------------------------------------------------------------
def test_percentile_interpolates_between_ranks_and_round_up_keeps_multiples() -> None:
    assert percentile([], 95) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([float(i) for i in range(101)], 95) == pytest.approx(95.0)
    assert percentile([0.0, 1.0], 50) == pytest.approx(0.5)
    assert round_up(0.125, 0.05) == pytest.approx(0.15)
    assert round_up(0.15, 0.05) == pytest.approx(0.15)  # a multiple stays (float noise ignored)
    assert round_up(0.30000000000000004, 0.05) == pytest.approx(0.3)


def test_an_idle_service_with_a_reservation_is_over_reserved_down_to_the_floor() -> None:
    got = propose(RULE, 1.0, [0.0] * 50, [200 * MIB] * 50, node_cpus=8)
    assert got["verdict"] == "over-reserved"
    assert got["cpus"] == RULE.cpu_floor
    assert got["memory_bytes"] == 256 * MIB  # 200 MiB + 20 % = 240 MiB, rounded up to 64 MiB steps
    assert got["flags"] == []
    assert "sit idle" in got["reason"]


def test_a_steady_service_gets_its_percentile_plus_headroom_and_fits_a_matching_reservation() -> None:
    got = propose(RULE, 0.0, [0.2] * 60, [100 * MIB] * 60, node_cpus=8)
    assert got["verdict"] == "under-reserved"  # any use above a 0 reservation contends
    assert got["cpus"] == pytest.approx(0.25)  # 0.2 x 1.25
    again = propose(RULE, got["cpus"], [0.2] * 60, [100 * MIB] * 60, node_cpus=8)
    assert again["verdict"] == "fit" and again["cpus"] == pytest.approx(0.25)


def test_a_spiky_service_is_sized_to_its_percentile_not_its_spikes() -> None:
    cpu = [0.1] * 97 + [1.5] * 3  # 3 % of the samples: above the 95th percentile
    mem = [150 * MIB] * 99 + [700 * MIB]
    got = propose(RULE, 0.5, cpu, mem, node_cpus=8)
    assert got["cpu"]["percentile"] == pytest.approx(0.1)
    assert got["cpu"]["peak"] == pytest.approx(1.5)
    assert got["cpus"] == pytest.approx(0.15)  # 0.1 x 1.25 = 0.125 -> 0.15
    assert got["verdict"] == "over-reserved"
    assert "spiky" in got["flags"]
    # memory cannot be throttled: never below the window's peak
    assert got["memory_bytes"] == 704 * MIB


def test_a_saturated_service_is_under_reserved_and_capped_at_the_node() -> None:
    got = propose(RULE, 0.5, [1.95, 2.0, 1.98, 2.0, 2.0, 1.99] * 10, [1024 * MIB] * 60, node_cpus=2)
    assert got["verdict"] == "under-reserved"
    assert got["cpus"] == 2
    assert set(got["flags"]) == {"saturated", "capped"}
    assert "contends" in got["reason"]


@pytest.mark.parametrize("cpu", [[], [0.3], [0.3] * 4])
def test_too_few_samples_give_no_proposal(cpu: list[float]) -> None:
    got = propose(RULE, 0.5, cpu, [100 * MIB] * len(cpu), node_cpus=8)
    assert got["verdict"] == "no-data"
    assert got["cpus"] is None and got["memory_bytes"] is None
    assert f"{len(cpu)} CPU samples" in got["reason"]


def test_the_rule_follows_the_settings() -> None:
    rule = Rule.of(TuneSettings(resources_percentile=50, resources_cpu_headroom=0, resources_cpu_step=0.1,
                                resources_cpu_floor=0.5, resources_min_samples=2))
    assert propose(rule, 0, [0.1, 0.2, 0.3], [], 8)["cpus"] == pytest.approx(0.5)  # the floor
    got = propose(rule, 0, [1.0, 1.2, 1.4], [], 8)
    assert got["cpus"] == pytest.approx(1.2) and got["memory_bytes"] is None


# -- the RPCs --------------------------------------------------------------------------------------
class FakeMonitor:
    """Answers range queries with each service's synthetic samples, one per step."""

    def __init__(self, cpu: dict[str, float], memory_bytes: float = 300 * MIB) -> None:
        self.cpu, self.memory_bytes = cpu, memory_bytes
        self.asked: list[tuple[str, float, float, float, str]] = []

    async def query_range(self, caller: Principal, expr: str, start: float, end: float,
                          step: float) -> dict[str, Any]:
        self.asked.append((expr, start, end, step, caller.subject))
        n = int((end - start) // step) + 1
        result = []
        for name, cores in self.cpu.items():
            value = cores if expr.startswith("rate(") else self.memory_bytes
            values = [[start + i * step, str(value)] for i in range(n)]
            result.append({"metric": {"service": name}, "values": values})
            # a shorter series of the same service (another process) is ignored: the longest counts
            result.append({"metric": {"service": name, "pid": "2"}, "values": values[:2]})
        return {"resultType": "matrix", "result": result}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    settings = SimpleNamespace(health_timeout_s=5.0, num_cpus=4,
                               monitor=SimpleNamespace(interval_s=1.0, retention_s=3600.0))
    service = TuneService(settings, TuneSettings(sweep_interval_s=3600), store=MemoryStore(), queue=FakeQueue())
    service._resource_monitor = FakeMonitor({"aria_data": 0.4, "aria_monitor": 0.02})
    service._resource_proposals = MemoryProposals()
    service.audited = []  # type: ignore[attr-defined]

    async def audit(event: dict[str, Any]) -> None:
        service.audited.append(event)  # type: ignore[attr-defined]

    service._resource_audit = audit
    await service.start(Deps())
    yield service
    await service.stop()


async def test_every_service_is_listed_with_use_reservation_and_proposal(tune: TuneService) -> None:
    got = await invoke(tune, "resources", (OPERATOR,), {"window_s": 600})
    names = [s["service"] for s in got["services"]]
    assert names == [s.name for s in all_specs()]
    rows = {s["service"]: s for s in got["services"]}
    data = rows["aria_data"]
    assert data["running"] and data["verdict"] == "under-reserved"
    assert data["use"]["cpu_cores"]["percentile"] == pytest.approx(0.4)
    assert data["use"]["cpu_cores"]["samples"] == 241  # both ends of the window
    assert data["proposal"]["cpus"] == pytest.approx(0.5)
    assert data["proposal"]["memory_bytes"] == 384 * MIB
    assert data["proposal"]["applied_live"] is False
    change = data["proposal"]["changes"][0]
    assert change["key"] == "SPEC.num_cpus in aria_actors/data/spec.py" and change["to"] == pytest.approx(0.5)
    assert data["proposal"]["changes"][1]["key"] is None  # no memory reservation to set today
    assert rows["aria_monitor"]["proposal"]["cpus"] == RULE.cpu_floor
    assert rows["aria_queue"]["verdict"] == "no-data" and rows["aria_queue"]["proposal"] is None
    assert got["step_s"] == pytest.approx(2.5) and got["node"]["cpus"] == 4
    assert "Ray cannot change" in got["applied"]
    monitor: FakeMonitor = tune._resource_monitor
    assert {who for *_, who in monitor.asked} == {"svc:aria_tune"}  # read as aria_tune itself
    assert monitor.asked[0][0] == "rate(process_cpu_seconds_total[2500ms])"


async def test_one_service_and_bad_input(tune: TuneService) -> None:
    got = await invoke(tune, "resources", (ADMIN,), {"window_s": 600, "service": "aria_data"})
    assert [s["service"] for s in got["services"]] == ["aria_data"]
    for service in ("aria_nope", "../etc", 7):
        with pytest.raises(UnknownService) as exc:
            await invoke(tune, "resources", (ADMIN,), {"service": service})
        assert exc.value.status == 404
    for window in (59, 86401, math.inf, math.nan, "600", True):
        with pytest.raises(BadRequest) as bad:
            await invoke(tune, "resources", (ADMIN,), {"window_s": window})
        assert bad.value.status == 400 and bad.value.fields["field"] == "window_s"


async def test_proposals_are_recorded_listed_and_decided_once_audited(tune: TuneService) -> None:
    made = await invoke(tune, "propose_resources", (ADMIN,), {"window_s": 600})
    assert {p["service"] for p in made["proposals"]} == {"aria_data", "aria_monitor"}
    assert {s["service"] for s in made["skipped"]} == {s.name for s in all_specs()} - {"aria_data", "aria_monitor"}
    data = next(p for p in made["proposals"] if p["service"] == "aria_data")
    assert data["status"] == "proposed" and data["proposed_by"] == "ada"
    assert data["evidence"]["percentile"] == 95 and data["evidence"]["window_s"] == 600
    assert len(data["evidence"]["samples"]["cpu_cores"]) == 241
    listed = await invoke(tune, "list_resource_proposals", (OPERATOR,), {"service": "aria_data"})
    assert [p["id"] for p in listed] == [data["id"]]
    assert await invoke(tune, "list_resource_proposals", (OPERATOR,), {"status": "accepted"}) == []
    with pytest.raises(BadRequest):
        await invoke(tune, "list_resource_proposals", (OPERATOR,), {"status": "maybe"})
    with pytest.raises(UnknownService):
        await invoke(tune, "list_resource_proposals", (OPERATOR,), {"service": "aria_nope"})

    decided = await invoke(tune, "decide_resource_proposal", (ADMIN, data["id"], "accepted"), {"note": "next up"})
    assert decided["status"] == "accepted" and decided["decided_by"] == "ada" and decided["decision_note"] == "next up"
    assert tune.audited == [{"op": "tune.resources.decide", "outcome": "ok", "subject": "ada",  # type: ignore[attr-defined]
                             "target": f"proposal={data['id']} service=aria_data decision=accepted"}]
    with pytest.raises(ProposalDecided) as again:
        await invoke(tune, "decide_resource_proposal", (ADMIN, data["id"], "rejected"), {})
    assert again.value.status == 409
    assert (await invoke(tune, "get_resource_proposal", (OPERATOR, data["id"]), {}))["status"] == "accepted"
    with pytest.raises(UnknownProposal):
        await invoke(tune, "get_resource_proposal", (OPERATOR, 9999), {})
    with pytest.raises(BadRequest) as bad:
        await invoke(tune, "decide_resource_proposal", (ADMIN, data["id"], "maybe"), {})
    assert bad.value.fields["field"] == "decision"


async def test_a_decision_that_cannot_be_audited_is_not_taken(tune: TuneService) -> None:
    made = await invoke(tune, "propose_resources", (ADMIN,), {"window_s": 600, "service": "aria_data"})

    async def down(event: dict[str, Any]) -> None:
        raise ConnectionError("aria_security is down")

    tune._resource_audit = down
    with pytest.raises(ServiceUnavailable):
        await invoke(tune, "decide_resource_proposal", (ADMIN, made["proposals"][0]["id"], "rejected"), {})
    assert (await tune._proposal_records().get(made["proposals"][0]["id"]))["status"] == "proposed"


@pytest.mark.parametrize(("caller", "method", "args"), [
    (EDITOR, "resources", ()), (VIEWER, "resources", ()), (EDITOR, "propose_resources", ()),
    (OPERATOR, "propose_resources", ()), (OPERATOR, "decide_resource_proposal", (1, "accepted")),
    (EDITOR, "decide_resource_proposal", (1, "accepted")), (VIEWER, "list_resource_proposals", ()),
])
async def test_who_may_do_what(tune: TuneService, caller: Principal, method: str, args: tuple[Any, ...]) -> None:
    """Reading is for administrators and operators (system-wide: @any); recording for administrators
    (and services); deciding for administrators only. An editor's tune:*:* is its tenant's."""
    with pytest.raises(Forbidden):
        await invoke(tune, method, (caller, *args), {})


async def test_without_a_monitor_or_database_the_answer_is_503() -> None:
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), TuneSettings(), store=MemoryStore(),
                          queue=FakeQueue())
    await service.start(Deps())
    try:
        with pytest.raises(AriaError) as exc:
            await service.resources(ADMIN, 600)
        assert exc.value.status == 503
        with pytest.raises(AriaError) as exc:
            await service.list_resource_proposals(ADMIN)
        assert exc.value.status == 503
    finally:
        await service.stop()
