"""The auto-tuner over a simulated queue (no Ray, no database): a saturated queue is found, raised,
measured better and kept; a change that measures worse is rolled back to the old value; bad
input is refused with the field or change named; a stop or a crash mid-measurement leaves the
old value in place; the automatic loop keeps to its targets and its cooldown; every change is
audited with who approved it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import BadRequest, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import invoke
from aria_actors.runtime.service import Deps
from aria_actors.tune.autotune_core import Limits, Sample, check_value, decide, proposed_value, window
from aria_actors.tune.autotune_knobs import QUEUE_CONCURRENCY, saturated, wait_sums
from aria_actors.tune.autotune_store import MemoryChanges
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ChangeConflict, UnknownChange, UnknownKnob, UnknownTarget
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

EDITOR = Principal("ed", roles=("editor",))
TENANT_EDITOR = Principal("te", roles=("editor",), tenant="acme")
VIEWER = Principal("vera", roles=("viewer",))
STEP_S = 10.0  # simulated seconds between two samples


class SimulatedQueues:
    """Queues of I/O-bound jobs arriving at a steady rate: each slot completes ``per_slot`` jobs a
    second, so throughput is min(arrival, per_slot x concurrency) and the oldest wait grows while
    the queue is short of slots. Time moves STEP_S per sample: a window measures whole seconds."""

    name = QUEUE_CONCURRENCY
    description = "simulated"
    limits = Limits(low=1, high=16, max_step=8)

    def __init__(self, **queues: tuple[int, float]) -> None:  # name -> (concurrency, arrivals a second)
        self.values = {n: c for n, (c, _) in queues.items()}
        self.arrival = {n: a for n, (_, a) in queues.items()}
        self.per_slot = 9.0
        self.clock = 0.0
        self.completed = dict.fromkeys(queues, 0.0)
        self.oldest = dict.fromkeys(queues, 0.0)
        self.writes: list[tuple[str, int]] = []

    def _capacity(self, name: str) -> float:
        return self.per_slot * self.values[name]

    async def targets(self) -> list[dict[str, Any]]:
        return [{"target": n, "value": c, "saturated": self._capacity(n) < self.arrival[n], "executors": 1,
                 "waiting": 5 if self._capacity(n) < self.arrival[n] else 0, "executing": c}
                for n, c in self.values.items()]

    async def read(self, target: str) -> int:
        if target not in self.values:
            raise UnknownTarget(f"no queue {target!r}", target=target)
        return self.values[target]

    async def write(self, target: str, value: int) -> None:
        self.values[target] = value
        self.writes.append((target, value))

    async def sample(self, target: str) -> Sample:
        self.clock += STEP_S
        for n in self.values:
            cap, arrive = self._capacity(n), self.arrival[n]
            self.completed[n] += min(cap, arrive) * STEP_S
            self.oldest[n] = max(0.0, self.oldest[n] + (1 - cap / arrive) * STEP_S) if arrive else 0.0
        return Sample(at=self.clock, completed=int(self.completed[target]), waiting=0,
                      oldest_wait_s=self.oldest[target])


def _config(**over: Any) -> TuneSettings:
    return TuneSettings(**{"autotune_window_s": 0.01, "autotune_settle_s": 0.0, "autotune_cooldown_s": 0.0,
                           "sweep_interval_s": 3600, **over})


async def _service(knob: SimulatedQueues, config: TuneSettings) -> tuple[TuneService, list[dict[str, Any]]]:
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), config, store=MemoryStore(), queue=FakeQueue())
    audited: list[dict[str, Any]] = []

    async def audit(**event: Any) -> None:
        audited.append(event)

    service.at_knobs = {knob.name: knob}
    service.at_store = MemoryChanges()
    service.at_audit = audit
    await service.start(Deps())
    return service, audited


@pytest.fixture
async def tuned() -> AsyncIterator[tuple[TuneService, SimulatedQueues, list[dict[str, Any]]]]:
    knob = SimulatedQueues(slow=(1, 20.0), idle=(4, 0.0), fine=(4, 10.0))
    service, audited = await _service(knob, _config())
    yield service, knob, audited
    await service.stop()


async def _settled(service: TuneService, change_id: int) -> dict[str, Any]:
    await asyncio.gather(*list(service._autotune_tasks.values()))
    return await service.autotune_change(EDITOR, change_id)


# -- the rules ------------------------------------------------------------------------------------
def test_a_window_measures_throughput_and_the_oldest_waits_trend() -> None:
    m = window(Sample(0.0, 100, 3, 1.0, 2.0, 4), Sample(10.0, 190, 8, 6.0, 12.0, 14))
    assert m == {"window_s": 10.0, "completed": 90, "waiting": 8, "wait_oldest_s": 6.0, "valid": True,
                 "throughput": 9.0, "wait_trend": 0.5, "wait_mean_s": 1.0}
    pruned = window(Sample(0.0, 100, 0, 0.0), Sample(10.0, 50, 0, 0.0))
    assert pruned["valid"] is False and "backwards" in pruned["why"]
    assert window(Sample(5.0, 1, 0, 0.0), Sample(5.0, 1, 0, 0.0))["valid"] is False


def test_better_means_more_throughput_without_the_wait_growing_faster() -> None:
    def m(throughput: float, trend: float) -> dict[str, Any]:
        return {"valid": True, "throughput": throughput, "wait_trend": trend}

    assert decide(m(9, 0.55), m(18, 0.1), 0.1, 0.1)[0] == "kept"
    assert decide(m(9, 0.55), m(9.5, 0.5), 0.1, 0.1)[0] == "rolled_back"  # +5.6 %: not enough
    assert decide(m(18, 0.0), m(9, 0.55), 0.1, 0.1)[0] == "rolled_back"
    worse_wait = decide(m(10, 0.0), m(20, 0.5), 0.1, 0.1)
    assert worse_wait[0] == "rolled_back" and "oldest wait grows faster" in worse_wait[1]
    assert decide(m(0, 0), m(5, 0), 0.1, 0.1)[0] == "kept"
    assert decide({"valid": False, "why": "x"}, m(5, 0), 0.1, 0.1)[0] == "rolled_back"


def test_proposals_double_within_the_step_and_the_limits() -> None:
    limits = Limits(low=1, high=20, max_step=8)
    assert [proposed_value(v, limits) for v in (1, 2, 8, 12, 16, 20)] == [2, 4, 16, 20, 20, None]
    assert check_value(4, 6, limits) == 6
    for bad in (0, 21, 13, 4, "5", True):
        with pytest.raises(BadRequest) as err:
            check_value(4, bad, limits)
        assert err.value.fields["field"] == "value"


def test_a_queue_is_saturated_when_jobs_wait_and_every_slot_is_busy() -> None:
    row = {"name": "q", "concurrency": 2, "executors": 1, "paused": False, "jobs": {"available": 3, "executing": 2}}
    assert saturated(row)
    assert not saturated({**row, "paused": True}) and not saturated({**row, "executors": 0})
    assert not saturated({**row, "jobs": {"available": 0, "executing": 2}})
    assert not saturated({**row, "jobs": {"available": 3, "executing": 1}})
    text = ('aria_queue_wait_seconds_bucket{le="+Inf",queue="q"} 4.0\naria_queue_wait_seconds_count{queue="q"} 4.0\n'
            'aria_queue_wait_seconds_sum{queue="q"} 2.5\naria_queue_wait_seconds_count{queue="r"} 9.0\n')
    assert wait_sums("# TYPE aria_queue_wait_seconds histogram\n" + text, "q") == (2.5, 4)


# -- the service ----------------------------------------------------------------------------------
async def test_a_saturated_queue_is_found_raised_measured_better_and_kept(tuned: Any) -> None:
    service, knob, audited = tuned
    scanned = await service.autotune_scan(EDITOR)
    assert [(c["target"], c["old_value"], c["new_value"], c["status"]) for c in scanned["proposed"]] == [
        ("slow", 1, 2, "proposed")]
    change = scanned["proposed"][0]
    assert knob.values["slow"] == 1  # a proposal changes nothing
    started = await service.autotune_apply(EDITOR, change["id"])
    assert started["status"] == "measuring" and started["approved_by"] == "ed"
    done = await _settled(service, change["id"])
    assert done["status"] == "kept", done
    assert done["before"]["throughput"] == 9.0 and done["after"]["throughput"] == 18.0
    assert done["after"]["wait_trend"] < done["before"]["wait_trend"]
    assert knob.values["slow"] == 2 and knob.writes == [("slow", 2)]
    assert [(e["op"], e["subject"]) for e in audited] == [("tune.autotune.apply", "ed"), ("tune.autotune.set", "ed")]
    listed = await service.autotune_changes(VIEWER, status="kept")
    assert [c["id"] for c in listed] == [change["id"]]


async def test_a_change_that_measures_worse_is_rolled_back_to_the_old_value(tuned: Any) -> None:
    service, knob, audited = tuned
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "fine", 1, reason="fewer slots")
    done = await _settled(service, (await service.autotune_apply(EDITOR, change["id"]))["id"])
    assert done["status"] == "rolled_back" and "throughput 10 -> 9" in done["decision_reason"], done
    assert knob.values["fine"] == 4 and knob.writes == [("fine", 1), ("fine", 4)]
    assert audited[-1]["op"] == "tune.autotune.rollback"


async def test_no_workload_rejects_the_change_unapplied(tuned: Any) -> None:
    service, knob, _ = tuned
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "idle", 8)
    done = await _settled(service, (await service.autotune_apply(EDITOR, change["id"]))["id"])
    assert done["status"] == "rejected" and "no workload" in done["decision_reason"]
    assert knob.writes == []


async def test_bad_input_names_the_field_or_the_change(tuned: Any) -> None:
    service, _, _ = tuned
    with pytest.raises(UnknownKnob):
        await service.autotune_propose(EDITOR, "queue.nope", "slow", 2)
    with pytest.raises(UnknownTarget):
        await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "no-such-queue", 2)
    for value in (0, 17, 12, 1):  # below min, above max, a step over 8, the value it has
        with pytest.raises(BadRequest) as err:
            await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", value)
        assert err.value.fields["field"] == "value"
    with pytest.raises(BadRequest) as err:
        await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "", 2)
    assert err.value.fields["field"] == "target"
    with pytest.raises(BadRequest) as err:
        await service.autotune_changes(EDITOR, status="maybe")
    assert err.value.fields["field"] == "status"
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 3)
    with pytest.raises(ChangeConflict):  # one open change per knob and target
        await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 2)
    await service.autotune_apply(EDITOR, change["id"])
    with pytest.raises(ChangeConflict):  # a second apply while it is measured
        await service.autotune_apply(EDITOR, change["id"])
    with pytest.raises(ChangeConflict):
        await service.autotune_reject(EDITOR, change["id"])
    await _settled(service, change["id"])
    with pytest.raises(UnknownChange):
        await service.autotune_apply(EDITOR, 999)
    with pytest.raises(UnknownChange):
        await service.autotune_change(EDITOR, 999)


async def test_a_proposal_rejected_or_overtaken_changes_nothing(tuned: Any) -> None:
    service, knob, _ = tuned
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "fine", 8)
    rejected = await service.autotune_reject(EDITOR, change["id"], reason="not now")
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "ed"
    again = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "fine", 8)
    knob.values["fine"] = 5  # set by hand since the proposal
    with pytest.raises(ChangeConflict) as err:
        await service.autotune_apply(EDITOR, again["id"])
    assert err.value.fields["current"] == 5 and knob.writes == []


async def test_only_administrators_and_operators_tune_the_system(tuned: Any) -> None:
    # system-wide knobs and every tenant's queues: @any grants only (an editor's tune:*:* is its tenant's)
    service, _, _ = tuned
    operator = Principal("op", roles=("operator",))
    assert (await invoke(service, "autotune_knobs", (operator,), {}))["knobs"][0]["name"] == QUEUE_CONCURRENCY
    for who in (VIEWER, EDITOR, TENANT_EDITOR):
        with pytest.raises(Forbidden):
            await invoke(service, "autotune_knobs", (who,), {}) if who is VIEWER else \
                await invoke(service, "autotune_propose", (who, QUEUE_CONCURRENCY, "slow", 2), {})
        with pytest.raises(Forbidden):
            await invoke(service, "autotune_scan", (who,), {})
    made = await invoke(service, "autotune_propose", (Principal("root", roles=("admin",), tenant="acme"),
                                                      QUEUE_CONCURRENCY, "slow", 2), {})
    assert made["proposed_by"] == "root"
    changes = await invoke(service, "autotune_changes", (operator,), {})
    assert [c["id"] for c in changes] == [made["id"]]


async def test_a_knob_left_out_of_the_settings_is_refused() -> None:
    knob = SimulatedQueues(slow=(1, 20.0))
    service, _ = await _service(knob, _config(autotune_knobs=[]))
    try:
        with pytest.raises(BadRequest) as err:
            await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 2)
        assert err.value.fields["field"] == "knob"
        assert (await service.autotune_scan(EDITOR))["proposed"] == []
    finally:
        await service.stop()


async def test_settings_narrow_the_limits() -> None:
    knob = SimulatedQueues(slow=(1, 20.0))
    service, _ = await _service(knob, _config(autotune_limits={QUEUE_CONCURRENCY: {"max": 3, "max_step": 1}}))
    try:
        with pytest.raises(BadRequest):
            await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 3)  # a step of 2
        assert [c["new_value"] for c in (await service.autotune_scan(EDITOR))["proposed"]] == [2]
    finally:
        await service.stop()


async def test_the_automatic_loop_changes_only_its_targets_one_at_a_time_then_cools_down() -> None:
    knob = SimulatedQueues(**{"auto-a": (1, 20.0), "other": (1, 20.0)})
    service, audited = await _service(knob, _config(autotune_targets=["auto-*"], autotune_cooldown_s=600))
    try:
        (started,) = await service.autotune_cycle()
        assert await service.autotune_cycle() == []  # one change measured at a time
        done = await _settled(service, started)
        assert done["target"] == "auto-a" and done["status"] == "kept" and done["source"] == "auto"
        assert done["approved_by"] == "aria_tune (automatic)" and audited[0]["subject"] == "aria_tune (automatic)"
        assert await service.autotune_cycle() == []  # auto-a cools down; `other` is not a target
        assert knob.values == {"auto-a": 2, "other": 1}
    finally:
        await service.stop()


async def test_a_stop_mid_measurement_sets_the_old_value_again() -> None:
    knob = SimulatedQueues(slow=(1, 20.0))
    service, _ = await _service(knob, _config(autotune_window_s=0.01, autotune_settle_s=600))
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 2)
    await service.autotune_apply(EDITOR, change["id"])
    while knob.values["slow"] != 2:  # applied; now settling for ten minutes
        await asyncio.sleep(0.005)
    store = service.at_store
    await service.stop()
    assert knob.values["slow"] == 1
    row = await store.get(change["id"])  # type: ignore[union-attr]
    assert row["status"] == "rolled_back" and "interrupted" in row["decision_reason"]


async def test_a_change_left_measuring_by_a_crash_is_rolled_back_at_the_next_start() -> None:
    knob = SimulatedQueues(slow=(1, 20.0))
    store = MemoryChanges()
    made = await store.create({"knob": QUEUE_CONCURRENCY, "target": "slow", "old_value": 1, "new_value": 2,
                               "source": "operator", "proposed_by": "ed"})
    await store.start(made["id"], "ed")  # type: ignore[index]
    knob.values["slow"] = 2  # applied, then the process died
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), _config(), store=MemoryStore(), queue=FakeQueue())
    service.at_knobs, service.at_store = {knob.name: knob}, store

    async def audit(**_: Any) -> None:
        return None

    service.at_audit = audit
    await service.start(Deps())
    try:
        assert knob.values["slow"] == 1
        row = await service.autotune_change(EDITOR, made["id"])  # type: ignore[index]
        assert row["status"] == "rolled_back" and "next start" in row["decision_reason"]
    finally:
        await service.stop()


async def test_an_apply_that_cannot_be_audited_is_not_done(tuned: Any) -> None:
    service, knob, _ = tuned

    async def down(**_: Any) -> None:
        raise ConnectionError("aria_security is down")

    service.at_audit = down
    change = await service.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 2)
    with pytest.raises(Exception) as err:
        await service.autotune_apply(EDITOR, change["id"])
    assert getattr(err.value, "status", None) == 503
    assert knob.writes == [] and (await service.autotune_change(EDITOR, change["id"]))["status"] == "proposed"


class _QueueClient:
    """aria_queue's queues / scale / metrics as the knobs call them (as aria_tune itself)."""

    def __init__(self) -> None:
        self.rows = [{"name": "q", "concurrency": 1, "replicas": 1, "paused": False, "executors": 1,
                      "jobs": {"available": 7, "executing": 1, "completed": 40}, "oldest_available_s": 2.5},
                     {"name": "bare", "concurrency": None, "replicas": None, "paused": False, "executors": 0,
                      "jobs": {"available": 0, "executing": 0, "completed": 0}, "oldest_available_s": None}]
        self.scaled: list[tuple[str, dict[str, int]]] = []
        self.callers: set[str] = set()

    async def queues(self, caller: Principal) -> list[dict[str, Any]]:
        self.callers.add(caller.subject)
        return self.rows

    async def scale(self, caller: Principal, queue: str, **values: int) -> dict[str, Any]:
        self.scaled.append((queue, values))
        return {}

    async def metrics(self, caller: Principal) -> str:
        return ('# TYPE aria_queue_wait_seconds histogram\naria_queue_wait_seconds_count{queue="q"} 12.0\n'
                'aria_queue_wait_seconds_sum{queue="q"} 6.0\n')


async def test_the_queue_knobs_read_set_and_sample_through_aria_queue_as_aria_tune() -> None:
    from aria_actors.tune.autotune_knobs import QUEUE_REPLICAS, default_knobs

    client = _QueueClient()
    knobs = default_knobs(client)
    concurrency, replicas = knobs[QUEUE_CONCURRENCY], knobs[QUEUE_REPLICAS]
    (target,) = await concurrency.targets()
    assert target["target"] == "q" and target["value"] == 1 and target["saturated"] is True
    assert await replicas.read("q") == 1
    with pytest.raises(UnknownTarget):
        await concurrency.read("bare")  # no setting stored: nothing to change
    await concurrency.write("q", 2)
    await replicas.write("q", 3)
    assert client.scaled == [("q", {"concurrency": 2}), ("q", {"replicas": 3})]
    sample = await concurrency.sample("q")
    assert (sample.completed, sample.waiting, sample.oldest_wait_s, sample.wait_sum_s, sample.wait_count) == (
        40, 7, 2.5, 6.0, 12)
    assert client.callers == {"svc:aria_tune"} and default_knobs(None) == {}
