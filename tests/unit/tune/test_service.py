"""Trial accounting of TuneService over the in-memory store and a fake queue: every trial is
recorded once, however often its job runs; failures and lost jobs leave failed trials and the
study goes on; the budget and the parallelism hold; pruning happens when a trial reports."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import invoke
from aria_actors.runtime.service import Deps
from aria_actors.runtime.spec import Status
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import InvalidSearchSpace, StudyExists, StudyStateConflict, UnknownObjective, UnknownStudy
from aria_actors.tune.service import WORKER, TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore
from tests.unit.tune.fixture_objectives import CONFIGURED

ALICE = Principal("alice", roles=("editor",), tenant="acme")
BOB = Principal("bob", roles=("editor",), tenant="acme")
VIEWER = Principal("vera", roles=("viewer",), tenant="acme")
OTHER = Principal("olga", roles=("admin",), tenant="globex")


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    config = TuneSettings(objectives=CONFIGURED, sweep_interval_s=3600, unqueued_grace_s=10)
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), config, store=MemoryStore(), queue=FakeQueue())
    await service.start(Deps())
    yield service
    await service.stop()


def _store(service: TuneService) -> MemoryStore:
    return service._store  # type: ignore[return-value]


def _queue(service: TuneService) -> FakeQueue:
    return service._queue  # type: ignore[no-any-return]


async def _drain(service: TuneService, rng: random.Random | None = None, limit: int = 1000) -> int:
    """Run available jobs (in a random order) as the queue would, until none is left."""
    ran = 0
    while (jobs := _queue(service).available()) and ran < limit:
        job = (rng or random.Random(0)).choice(jobs)
        job["state"] = "executing"
        await service.run_trial(job["caller"], **job["args"])
        job["state"] = "completed"
        ran += 1
    return ran


async def test_a_study_runs_its_budget_in_parallel_and_records_each_trial_once(tune: TuneService) -> None:
    made = await tune.create_study(ALICE, "br", "branin", budget=12, parallelism=3,
                                   sampler={"name": "tpe", "seed": 1, "n_startup_trials": 4})
    assert made["status"] == "created" and made["space"]["x1"]["low"] == -5.0
    started = await tune.optimize(ALICE, "br")
    assert started["enqueued"] == 3 and started["status"] == "running"
    jobs = _queue(tune).available()
    assert [j["worker"] for j in jobs] == [WORKER] * 3 and all(j["caller"] == ALICE for j in jobs)
    # no unique key another user could take first and so block the trial's job for ever
    assert all("unique" not in j["options"] for j in jobs)
    assert await _drain(tune, random.Random(3)) == 12
    study = await tune.get_study(ALICE, "br")
    assert study["status"] == "completed" and study["trials"] == {"running": 0, "complete": 12, "pruned": 0,
                                                                  "failed": 0, "total": 12}
    assert study["best"]["value"] == min(t["value"] for t in (await tune.list_trials(ALICE, "br"))["trials"])
    assert _store(tune).finishes == 12 and len(_queue(tune).jobs) == 12
    # a job delivered again after its trial was recorded answers from the record
    again = await tune.run_trial(ALICE, made["id"], 5)
    assert again["recorded"] is False and again["state"] == "complete" and _store(tune).finishes == 12
    with pytest.raises(StudyStateConflict):
        await tune.optimize(ALICE, "br")
    more = await tune.optimize(ALICE, "br", budget=14)
    assert more["enqueued"] == 2 and await _drain(tune) == 2
    assert (await tune.get_study(ALICE, "br"))["trials"]["complete"] == 14


async def test_parallelism_holds_while_trials_finish(tune: TuneService) -> None:
    await tune.create_study(ALICE, "par", "hartmann6", budget=9, parallelism=2)
    await tune.optimize(ALICE, "par")
    rng = random.Random(5)
    while jobs := _queue(tune).available():
        assert (await _store(tune).counts((await tune.get_study(ALICE, "par"))["id"])).get("running", 0) <= 2
        job = rng.choice(jobs)
        job["state"] = "completed"
        await tune.run_trial(job["caller"], **job["args"])
    assert (await tune.get_study(ALICE, "par"))["trials"]["complete"] == 9


async def test_raising_and_nan_objectives_fail_their_trials_and_the_study_goes_on(tune: TuneService) -> None:
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    await tune.create_study(ALICE, "faulty", "faulty", space, budget=30, parallelism=2,
                            sampler={"name": "random", "seed": 4})
    await tune.optimize(ALICE, "faulty")
    await _drain(tune)
    study = await tune.get_study(ALICE, "faulty")
    trials = (await tune.list_trials(ALICE, "faulty"))["trials"]
    assert study["status"] == "completed" and study["trials"]["total"] == 30
    raised = [t for t in trials if t["params"]["x"] > 0.8]
    nan = [t for t in trials if t["params"]["x"] < 0.2]
    assert raised and nan and all(t["state"] == "failed" for t in raised + nan)
    assert all("raised ValueError" in t["error"] for t in raised)
    assert all("not a finite number" in t["error"] for t in nan)
    assert study["trials"]["complete"] == 30 - len(raised) - len(nan) > 0


async def test_the_median_rule_prunes_a_reporting_trial(tune: TuneService) -> None:
    await tune.create_study(ALICE, "steps", "stepwise", budget=25, parallelism=1,
                            sampler={"name": "tpe", "seed": 2, "n_startup_trials": 5},
                            pruner={"name": "median", "n_startup_trials": 3, "n_warmup_steps": 1})
    await tune.optimize(ALICE, "steps")
    await _drain(tune)
    trials = (await tune.list_trials(ALICE, "steps"))["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["value"] is None and 2 <= len(t["intermediate"]) < 5 for t in pruned)
    complete = [t for t in trials if t["state"] == "complete"]
    assert all(len(t["intermediate"]) == 5 for t in complete)
    assert sum(len(t["intermediate"]) for t in trials) < 25 * 5  # pruning saved steps


async def test_the_sweep_fails_trials_of_dead_jobs_and_enqueues_lost_ones(tune: TuneService) -> None:
    made = await tune.create_study(ALICE, "lost", "branin", budget=4, parallelism=2)
    _queue(tune).fail_next = 1  # the first enqueue fails: a trial reserved without a job
    await tune.optimize(ALICE, "lost")
    trials = await _store(tune).all_trials(made["id"])
    assert [t["job_id"] is None for t in trials] == [True, False]
    assert await tune.sweep() == {"failed": 0, "requeued": 0, "enqueued": 0}  # inside the grace
    _store(tune).age(made["id"], 0, 60)
    assert (await tune.sweep())["requeued"] == 1
    # the job of trial 1 exhausted its attempts (a worker that kept dying): the sweep fails it
    job1 = next(j for j in _queue(tune).jobs.values() if j["args"]["number"] == 1)
    job1.update(state="discarded", errors=[{"error": "ActorDiedError"}])
    swept = await tune.sweep()
    assert swept["failed"] == 1 and swept["enqueued"] == 1  # the study goes on with a new trial
    await _drain(tune)
    study = await tune.get_study(ALICE, "lost")
    assert study["status"] == "completed" and study["trials"]["failed"] == 1 and study["trials"]["complete"] == 3
    failed = (await tune.list_trials(ALICE, "lost", state="failed"))["trials"][0]
    assert "ended discarded" in failed["error"] and "ActorDiedError" in failed["error"]
    # a late run of the failed trial's job changes nothing
    assert (await tune.run_trial(ALICE, made["id"], 1))["recorded"] is False
    assert _store(tune).finishes == 4


async def test_a_crash_mid_trial_reruns_it_with_the_same_params(tune: TuneService) -> None:
    made = await tune.create_study(ALICE, "crash", "branin", budget=3, parallelism=1)
    await tune.optimize(ALICE, "crash")
    # the process died after start_trial: the trial is running, attempt 1, nothing recorded
    started = await _store(tune).start_trial(made["id"], 0)
    assert started is not None and started["attempts"] == 1
    await _store(tune).report(made["id"], 0, 0, 123.0)
    restarted = TuneService(SimpleNamespace(health_timeout_s=5.0), tune.config, store=_store(tune),
                            queue=_queue(tune))
    await restarted.start(Deps())
    try:
        got = await restarted.run_trial(ALICE, made["id"], 0)  # the queue's retry of the same job
        trial = await _store(tune).trial(made["id"], 0)
        assert got["recorded"] and trial["attempts"] == 2 and trial["intermediate"] == {}
        assert trial["params"] == started["params"] and trial["state"] == "complete"
        await _drain(restarted)
        assert (await restarted.get_study(ALICE, "crash"))["trials"]["complete"] == 3
        assert _store(tune).finishes == 3
    finally:
        await restarted.stop()


async def test_stop_and_resume(tune: TuneService) -> None:
    await tune.create_study(ALICE, "halt", "branin", budget=6, parallelism=2)
    await tune.optimize(ALICE, "halt")
    stopped = await tune.stop_study(ALICE, "halt")
    assert stopped["status"] == "stopped"
    await _drain(tune)  # the two running trials finish; no new ones
    assert (await tune.get_study(ALICE, "halt"))["trials"] == {"running": 0, "complete": 2, "pruned": 0, "failed": 0,
                                                               "total": 2}
    await tune.optimize(ALICE, "halt")
    await _drain(tune)
    assert (await tune.get_study(ALICE, "halt"))["status"] == "completed"


async def test_studies_are_their_owners_within_a_tenant(tune: TuneService) -> None:
    await tune.create_study(ALICE, "mine", "branin")
    with pytest.raises(StudyExists):
        await tune.create_study(ALICE, "mine", "branin")
    await tune.create_study(OTHER, "mine", "branin")  # another tenant: another study
    # editors hold tune:*:* tenant-wide, so bob sees alice's study; the other tenant does not
    assert (await tune.get_study(BOB, "mine"))["owner"] == "alice"
    assert (await tune.get_study(OTHER, "mine"))["owner"] == "olga"
    assert [s["name"] for s in await tune.list_studies(VIEWER)] == ["mine"]
    with pytest.raises(UnknownStudy):
        await tune.get_study(ALICE, "nope")
    with pytest.raises(Forbidden):  # the gate refuses a viewer any write
        await invoke(tune, "optimize", (VIEWER, "mine"), {})
    with pytest.raises(Forbidden):
        await invoke(tune, "create_study", (VIEWER, "v", "branin"), {})
    user = Principal("uma", roles=("user",), tenant="acme")
    with pytest.raises(Forbidden):
        await invoke(tune, "get_study", (user, "mine"), {})
    assert (await tune.delete_study(ALICE, "mine")) == {"deleted": "mine"}
    with pytest.raises(UnknownStudy):
        await tune.get_study(ALICE, "mine")


async def test_bad_input_is_refused_before_anything_is_stored(tune: TuneService) -> None:
    with pytest.raises(UnknownObjective):
        await tune.create_study(ALICE, "x", "/etc/passwd")
    with pytest.raises(InvalidSearchSpace) as got:
        await tune.create_study(ALICE, "x", "branin", {"x1": {"type": "float", "low": 0, "high": 1}})
    assert got.value.fields["field"] == "space.x2"
    with pytest.raises(InvalidSearchSpace) as got:
        await tune.create_study(ALICE, "x", "hartmann6", {})
    assert got.value.fields["field"] == "space"
    assert await tune.list_studies(ALICE) == []


async def test_a_deleted_studys_jobs_end_quietly(tune: TuneService) -> None:
    made = await tune.create_study(ALICE, "gone", "branin", budget=4, parallelism=2)
    await tune.optimize(ALICE, "gone")
    await tune.delete_study(ALICE, "gone")
    job = _queue(tune).available()[0]
    got = await tune.run_trial(job["caller"], **job["args"])
    assert got["skipped"] == "the study was deleted" and got["study_id"] == made["id"]


async def test_health_is_ready_with_every_feature_built(tune: TuneService) -> None:
    await tune.create_study(ALICE, "h", "branin", budget=2, parallelism=2)
    await tune.optimize(ALICE, "h")
    health = await tune.health()
    assert health.status == Status.READY
    built = tune.spec.capabilities
    assert len(health.details["missing"]) == 8 - len(built) and "hyperparameters" not in health.details["missing"]
    assert health.details["studies"] == 1 and health.details["running_trials"] == 2
    assert health.message.startswith(f"{len(built)} of 8 seed features built")


async def test_a_tenant_less_study_is_not_another_tenants_to_read_or_run(tune: TuneService) -> None:
    root = Principal("root-op", roles=("editor",))  # no tenant
    made = await tune.create_study(root, "global", "branin", budget=2)
    intruder = Principal("eve", roles=("editor",), tenant="evilcorp")
    with pytest.raises(UnknownStudy):
        await tune.get_study(intruder, "global")
    await tune.optimize(root, "global")
    with pytest.raises(Forbidden):
        await tune.run_trial(intruder, made["id"], 0)


async def test_two_deliveries_of_one_trial_evaluate_it_once(tune: TuneService) -> None:
    made = await tune.create_study(ALICE, "twice", "branin", budget=1)
    await tune.optimize(ALICE, "twice")
    store = _store(tune)
    read = store.trial

    async def yielding(*args: object) -> object:  # as PostgreSQL does: the other delivery runs meanwhile
        await asyncio.sleep(0)
        return await read(*args)

    store.trial = yielding  # type: ignore[method-assign]
    first, second = await asyncio.gather(tune.run_trial(ALICE, made["id"], 0), tune.run_trial(ALICE, made["id"], 0))
    assert sorted(bool(r.get("recorded")) for r in (first, second)) == [False, True]
    assert _store(tune).finishes == 1
