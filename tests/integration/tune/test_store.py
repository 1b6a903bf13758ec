"""aria_tune's records on a real PostgreSQL (its migration, its .sql queries, row-level security):
a study run to its budget with every trial recorded once, concurrent top-ups held to the
parallelism by the study's row lock, and tenants kept apart. The queue is the in-memory fake
(the path through aria_queue is tests/e2e/test_features_tune.py)."""

from __future__ import annotations

import asyncio
import random

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import StudyExists, UnknownStudy
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue
from tests.fixtures.postgres import DataClientOverDsn
from tests.unit.tune.fixture_objectives import CONFIGURED

ACME = Principal(subject="ann", roles=("editor",), tenant="acme")
GLOBEX = Principal(subject="bob", roles=("editor",), tenant="globex")
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def service(tmp_path, fresh_database):
    svc = TuneService(AriaSettings(home=tmp_path), TuneSettings(objectives=CONFIGURED, sweep_interval_s=3600),
                      queue=FakeQueue())
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_tune")}))
    yield svc
    await svc.stop()


async def _drain(svc: TuneService, seed: int = 0) -> None:
    rng = random.Random(seed)
    while jobs := svc._queue.available():
        job = rng.choice(jobs)
        job["state"] = "completed"
        await svc.run_trial(job["caller"], **job["args"])


async def test_a_study_runs_to_its_budget_on_postgres(service: TuneService) -> None:
    made = await service.create_study(ACME, "pg", "stepwise", budget=10, parallelism=3,
                                      pruner={"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1})
    assert (await service.optimize(ACME, "pg"))["enqueued"] == 3
    await _drain(service, 1)
    study = await service.get_study(ACME, "pg")
    assert study["status"] == "completed" and study["trials"]["total"] == 10
    assert study["trials"]["complete"] + study["trials"]["pruned"] == 10
    trials = (await service.list_trials(ACME, "pg"))["trials"]
    assert [t["number"] for t in trials] == list(range(10))
    assert all(t["attempts"] == 1 and t["finished_at"] for t in trials)
    assert study["best"]["value"] == min(t["value"] for t in trials if t["state"] == "complete")
    again = await service.run_trial(ACME, made["id"], 0)
    assert again["recorded"] is False
    listed = await service.list_studies(ACME)
    assert listed[0]["name"] == "pg" and listed[0]["trials"] == 10 and listed[0]["running"] == 0
    health = await service.health()
    assert health.details["studies"] == 1 and health.details["running_trials"] == 0


async def test_concurrent_top_ups_keep_to_the_parallelism(service: TuneService) -> None:
    made = await service.create_study(ACME, "race", "branin", budget=50, parallelism=4)
    await service._records().update_study(made["id"], "running", 50, 4, ACME.to_dict())
    got = await asyncio.gather(*(service._top_up(made["id"], ACME) for _ in range(8)))
    assert sum(got) == 4
    counts = await service._records().counts(made["id"])
    assert counts == {"running": 4}


async def test_studies_are_kept_per_tenant(service: TuneService) -> None:
    await service.create_study(ACME, "same", "branin")
    await service.create_study(GLOBEX, "same", "hartmann6")
    with pytest.raises(StudyExists):
        await service.create_study(ACME, "same", "branin")
    assert (await service.get_study(ACME, "same"))["objective"] == "branin"
    assert (await service.get_study(GLOBEX, "same"))["objective"] == "hartmann6"
    await service.delete_study(GLOBEX, "same")
    with pytest.raises(UnknownStudy):
        await service.get_study(GLOBEX, "same")
    assert [s["name"] for s in await service.list_studies(ACME)] == ["same"]
