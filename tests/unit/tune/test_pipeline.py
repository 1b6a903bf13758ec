"""Training pipeline optimisation over the in-memory store, a fake queue and a fake aria_interpret:
each run recorded with its throughput and validation GAUC, the proposal the fastest run within the
tolerance (against the defaults' run), bad input refused naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import StudyStateConflict
from aria_actors.tune.objectives import Context
from aria_actors.tune.pipeline import propose
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

ALICE = Principal("alice", roles=("editor",), tenant="acme")


class FakeInterpret:
    """Throughput grows with the batch size and threads; GAUC falls at the largest batch."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    async def start_din_trial(self, caller: Principal, params: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
        key = f"{len(self.runs):032x}"
        self.runs[key] = {"params": params, "epochs": epochs, "run": 0}
        return {"trial": key}

    async def din_trial_epoch(self, caller: Principal, trial: str) -> dict[str, Any]:
        r = self.runs[trial]
        r["run"] += 1
        return {"done": r["run"] >= r["epochs"], "valid": {"gauc": 0.8}}

    async def end_din_trial(self, caller: Principal, trial: str) -> dict[str, Any]:
        p = self.runs[trial]["params"]
        speed = 1000.0 * p.get("batch_size", 1024) ** 0.5 * p.get("threads", 1)
        gauc = 0.80 - (0.05 if p.get("batch_size", 1024) >= 4096 else 0.0)
        return {"samples_per_s": speed, "valid": {"gauc": gauc}}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    config = TuneSettings(sweep_interval_s=3600, din_pipeline_epochs=2)
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), config, store=MemoryStore(), queue=FakeQueue())
    await service.start(Deps())
    fake = FakeInterpret()
    service._objective_context = lambda caller: Context(  # type: ignore[method-assign]
        caller, asyncio.get_running_loop(), 10.0, {"aria_interpret": fake}, config)
    yield service
    await service.stop()


def test_the_proposal_is_the_fastest_run_within_the_tolerance() -> None:
    runs = [{"number": 0, "params": {"batch_size": 1024, "threads": 1, "precision": "fp32"}, "values": [100.0, 0.80]},
            {"number": 1, "params": {"batch_size": 4096, "threads": 2, "precision": "fp32"}, "values": [400.0, 0.70]},
            {"number": 2, "params": {"batch_size": 2048, "threads": 2, "precision": "bf16"}, "values": [250.0, 0.795]}]
    got = propose(runs, 0.01, {"batch_size": 1024, "threads": 1, "precision": "fp32"})
    assert got["proposal"]["number"] == 2 and got["baseline"]["number"] == 0 and got["speedup"] == 2.5
    assert [r["number"] for r in got["runs"]] == [1, 2, 0]
    assert propose(runs, 0.2, {"batch_size": 512})["proposal"]["number"] == 1  # no defaults' run: no speedup
    assert propose(runs, 0.2, {"batch_size": 512})["speedup"] is None
    assert propose([], 0.01, {})["proposal"] is None


async def test_a_pipeline_study_measures_runs_and_proposes_settings(tune: TuneService) -> None:
    space = {"batch_size": {"type": "categorical", "choices": [1024, 4096]},
             "threads": {"type": "int", "low": 1, "high": 2, "step": 1},
             "precision": {"type": "categorical", "choices": ["fp32", "bf16"]}}
    made = await tune.create_pipeline_study(ALICE, "pipe", space=space, tolerance=0.01, budget=8,
                                            sampler={"name": "random", "seed": 1})
    assert made["objective"] == "din-pipeline" and made["objectives"][1]["tolerance"] == 0.01
    await tune.optimize(ALICE, "pipe")
    queue: FakeQueue = tune._queue  # type: ignore[assignment]
    while jobs := queue.available():
        jobs[0]["state"] = "executing"
        await tune.run_trial(jobs[0]["caller"], **jobs[0]["args"])
        jobs[0]["state"] = "completed"
    got = await tune.pipeline_proposal(ALICE, "pipe")
    assert got["status"] == "completed" and len(got["runs"]) == 8
    assert got["proposal"]["params"]["batch_size"] == 1024 and got["proposal"]["gauc"] == 0.80
    assert got["proposal"]["samples_per_s"] == max(r["samples_per_s"] for r in got["runs"] if r["gauc"] >= 0.79)
    await tune.create_study(ALICE, "plain", "branin", budget=1)
    with pytest.raises(StudyStateConflict):
        await tune.pipeline_proposal(ALICE, "plain")


async def test_bad_pipeline_studies_are_400s_naming_the_field(tune: TuneService) -> None:
    for kwargs, field in (({"target": "qwen"}, "target"), ({"tolerance": -0.1}, "tolerance"),
                          ({"tolerance": float("nan")}, "tolerance"), ({"sampler": {"name": "gp"}}, "sampler.name"),
                          ({"space": {"precision": {"type": "categorical", "choices": ["fp32", "fp8"]}}},
                           "space.precision.choices"),
                          ({"space": {"threads": {"type": "int", "low": 1, "high": 64, "step": 1}}},
                           "space.threads.high")):
        with pytest.raises(AriaError) as exc:
            await tune.create_pipeline_study(ALICE, "bad", **kwargs)
        assert exc.value.status == 400 and exc.value.fields["field"] == field, (kwargs, exc.value.fields)
