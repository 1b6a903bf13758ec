"""Architecture search and the din objectives over the in-memory store, a fake queue and a fake
aria_interpret: multi-objective trials recorded with their values in order, a Pareto front where
no member dominates another, the din objective's epochs reported step by step (and a pruned
trial's run ended in aria_interpret), bad input refused naming the field."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import AriaError, BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.tune import sampling
from aria_actors.tune.archsearch import check_objectives, dominates, pareto_front
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import InvalidSearchSpace, InvalidStudy, StudyStateConflict, UnknownStudy
from aria_actors.tune.objectives import DIN_ARCH, Context
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

ALICE = Principal("alice", roles=("editor",), tenant="acme")
MAXMIN = ["maximize", "minimize"]


class FakeInterpret:
    """aria_interpret's evaluate-only trials: a GAUC that peaks at lr = 0.003 and rises by epoch,
    parameters and latency growing with the widths; every trial started is remembered."""

    def __init__(self, fail_lr_above: float = 1.0) -> None:
        self.trials: dict[str, dict[str, Any]] = {}
        self.fail_lr_above = fail_lr_above

    async def start_din_trial(self, caller: Principal, params: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
        if params.get("lr", 0.003) > self.fail_lr_above:
            raise BadRequest("lr out of range", field="params.lr")
        key = f"{len(self.trials):032x}"
        self.trials[key] = {"params": params, "epochs": epochs, "run": 0, "ended": False, "caller": caller}
        return {"trial": key, "epochs": epochs, "parameters": 1}

    def _gauc(self, t: dict[str, Any]) -> float:
        lr = t["params"].get("lr", 0.003)
        return 0.8 - 0.02 * (math.log10(lr) - math.log10(0.003)) ** 2 + 0.01 * t["run"] \
            + 0.001 * t["params"].get("item_dim", 0)

    async def din_trial_epoch(self, caller: Principal, trial: str) -> dict[str, Any]:
        t = self.trials[trial]
        t["run"] += 1
        return {"epoch": t["run"], "valid": {"gauc": self._gauc(t)}, "done": t["run"] >= t["epochs"]}

    async def end_din_trial(self, caller: Principal, trial: str) -> dict[str, Any]:
        t = self.trials[trial]
        t["ended"] = True
        p = t["params"]
        width = p.get("item_dim", 8) * p.get("mlp_width", 16) * p.get("mlp_layers", 1)
        return {"valid": {"gauc": self._gauc(t)}, "parameters": 1000 + 10 * width,
                "latency_ms": 0.1 + 0.001 * width * p.get("attention_layers", 1)}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    config = TuneSettings(sweep_interval_s=3600, din_epochs=4, din_arch_epochs=2)
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), config, store=MemoryStore(), queue=FakeQueue())
    await service.start(Deps())
    fake = FakeInterpret()
    service.fake = fake  # type: ignore[attr-defined]
    service._objective_context = lambda caller: Context(  # type: ignore[method-assign]
        caller, asyncio.get_running_loop(), 10.0, {"aria_interpret": fake}, config)
    yield service
    await service.stop()


async def _drain(service: TuneService) -> int:
    ran = 0
    queue: FakeQueue = service._queue  # type: ignore[assignment]
    while jobs := queue.available():
        job = jobs[0]
        job["state"] = "executing"
        await service.run_trial(job["caller"], **job["args"])
        job["state"] = "completed"
        ran += 1
    for _ in range(5):  # a pruned trial's end is fired, not awaited: let it run
        await asyncio.sleep(0.01)
    return ran


# -- the front ------------------------------------------------------------------------------------
def test_the_front_of_known_points() -> None:
    points = [(0.9, 100), (0.8, 50), (0.85, 200), (0.7, 40), (0.9, 100), (0.6, 60)]
    # (0.85, 200) is dominated by (0.9, 100); (0.6, 60) by (0.8, 50); the two (0.9, 100) tie: both stay
    assert pareto_front(points, MAXMIN) == [0, 1, 3, 4]
    assert pareto_front([], MAXMIN) == []
    assert dominates((0.9, 100), (0.85, 200), [-1, 1]) and not dominates((0.9, 100), (0.9, 100), [-1, 1])


def test_the_front_of_random_points_is_exactly_the_non_dominated_ones() -> None:
    rng = random.Random(7)
    for trial in range(30):
        n, m = rng.randint(1, 60), rng.randint(2, 3)
        dirs = [rng.choice(["minimize", "maximize"]) for _ in range(m)]
        signs = [1 if d == "minimize" else -1 for d in dirs]
        points = [tuple(rng.randint(0, 6) for _ in range(m)) for _ in range(n)]  # ties on purpose
        front = pareto_front(points, dirs)
        assert front, trial
        for i in front:  # no member dominates another
            assert not any(dominates(points[j], points[i], signs) for j in front)
        for i in set(range(n)) - set(front):  # every other point is dominated (by a member: transitivity)
            assert any(dominates(points[j], points[i], signs) for j in front)


def test_objectives_are_checked_naming_the_field() -> None:
    assert check_objectives(DIN_ARCH, None) == [{"name": "gauc", "direction": "maximize"},
                                                {"name": "parameters", "direction": "minimize"},
                                                {"name": "latency_ms", "direction": "minimize"}]
    assert check_objectives(DIN_ARCH, ["gauc", {"name": "latency_ms", "direction": "minimize"}])[1]["name"] == \
        "latency_ms"
    for bad, field in (([], "objectives"), (["gauc"], "objectives"), ("gauc", "objectives"),
                       (["gauc", "nope"], "objectives[1]"), (["gauc", "gauc"], "objectives[1]"),
                       (["gauc", {"name": "parameters", "direction": "up"}], "objectives[1].direction"),
                       (["gauc", {"name": "parameters", "x": 1}], "objectives[1]")):
        with pytest.raises(InvalidStudy) as exc:
            check_objectives(DIN_ARCH, bad)
        assert exc.value.status == 400 and exc.value.fields["field"] == field, bad


def test_multi_objective_sampling_rebuilds_from_values_and_the_cache_agrees() -> None:
    space = {"a": {"type": "float", "low": 0.0, "high": 1.0, "log": False},
             "b": {"type": "int", "low": 1, "high": 8, "step": 1}}
    settings = {"name": "tpe", "seed": 3, "n_startup_trials": 3}
    rng = random.Random(1)
    trials: list[dict[str, Any]] = []
    for n in range(12):
        params = sampling.next_params(MAXMIN, space, settings, trials, key=("multi", 1))
        assert params == sampling.next_params(MAXMIN, space, settings, trials)  # kept study == rebuild
        values = [params["a"] - 0.1 * params["b"], float(params["b"])]
        state = "failed" if n == 4 else "complete"
        trials.append({"number": n, "state": state, "params": params, "value": values[0] if state == "complete"
                       else None, "values": values if state == "complete" else None, "intermediate": {}})
        rng.random()
    study = sampling.rebuild(MAXMIN, trials, sampling.distributions(space))
    assert len(study.best_trials) >= 1 and all(len(t.values) == 2 for t in study.best_trials)
    assert not sampling.should_prune(MAXMIN, {"name": "median", "n_startup_trials": 0, "n_warmup_steps": 0,
                                              "interval_steps": 1, "n_min_trials": 1}, space, trials,
                                     {"number": 12, "params": {}, "intermediate": {"0": 1.0}})


# -- through the service ---------------------------------------------------------------------------
async def test_an_architecture_search_runs_as_jobs_and_answers_its_front(tune: TuneService) -> None:
    made = await tune.create_arch_search(ALICE, "arch", budget=8, parallelism=2, sampler={"name": "tpe", "seed": 5},
                                         objectives=["gauc", "parameters", "latency_ms"])
    assert made["objective"] == "din-arch" and made["pruner"] == {"name": "none"} and made["direction"] == "maximize"
    assert [o["name"] for o in made["objectives"]] == ["gauc", "parameters", "latency_ms"]
    await tune.optimize(ALICE, "arch")
    assert await _drain(tune) == 8
    study = await tune.get_study(ALICE, "arch")
    assert study["status"] == "completed" and study["trials"]["complete"] == 8
    trials = await tune._records().all_trials(study["id"])
    assert all(len(t["values"]) == 3 and t["value"] == t["values"][0] for t in trials)
    assert all(t["ended"] and t["epochs"] == 2 for t in tune.fake.trials.values())  # type: ignore[attr-defined]
    front = await tune.pareto_front(ALICE, "arch")
    assert front["complete"] == 8 and front["front"]
    signs = [-1, 1, 1]
    vectors = [[f["values"][k] for k in ("gauc", "parameters", "latency_ms")] for f in front["front"]]
    assert not any(dominates(a, b, signs) for a in vectors for b in vectors)
    on = {f["number"] for f in front["front"]}
    for t in trials:
        if t["number"] not in on:
            assert any(dominates(v, t["values"], signs) for v in vectors)
    with pytest.raises(UnknownStudy):
        await tune.pareto_front(ALICE, "nope")
    await tune.create_study(ALICE, "single", "branin", budget=1)
    with pytest.raises(StudyStateConflict):
        await tune.pareto_front(ALICE, "single")


async def test_bad_architecture_searches_are_400s_naming_the_field(tune: TuneService) -> None:
    for kwargs, field in (({"target": "qwen"}, "target"), ({"objectives": ["gauc"]}, "objectives"),
                          ({"sampler": {"name": "gp"}}, "sampler.name"),
                          ({"space": {"item_dim": {"type": "int", "low": 2, "high": 1000, "step": 1}}},
                           "space.item_dim.high"),
                          ({"space": {"depth": {"type": "int", "low": 1, "high": 4, "step": 1}}}, "space.depth"),
                          ({"space": {}}, "space"), ({"budget": 0}, "budget")):
        with pytest.raises(AriaError) as exc:
            await tune.create_arch_search(ALICE, "bad", **kwargs)
        assert exc.value.status == 400 and exc.value.fields["field"].startswith(field), (kwargs, exc.value.fields)


async def test_a_din_study_reports_epochs_prunes_and_ends_every_run(tune: TuneService) -> None:
    space = {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}}
    await tune.create_study(ALICE, "din", "din", space=space, budget=10, sampler={"name": "random", "seed": 2},
                            pruner={"name": "median", "n_startup_trials": 2})
    study = await tune.get_study(ALICE, "din")
    assert study["direction"] == "maximize"
    await tune.optimize(ALICE, "din")
    assert await _drain(tune) == 10
    trials = (await tune.list_trials(ALICE, "din"))["trials"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert complete and all(len(t["intermediate"]) == 4 for t in complete)
    assert all(t["state"] in ("complete", "pruned") for t in trials)
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert all(len(t["intermediate"]) < 4 for t in pruned)
    runs = tune.fake.trials.values()  # type: ignore[attr-defined]
    assert len(runs) == 10 and all(r["ended"] and r["caller"] == ALICE for r in runs)
    best = (await tune.get_study(ALICE, "din"))["best"]
    assert best["value"] == max(t["value"] for t in complete)


async def test_a_din_trial_whose_call_fails_is_failed_and_the_study_goes_on(tune: TuneService) -> None:
    tune.fake.fail_lr_above = 0.01  # type: ignore[attr-defined]
    space = {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}}
    await tune.create_study(ALICE, "dinf", "din", space=space, budget=8, sampler={"name": "random", "seed": 4},
                            pruner="none")
    await tune.optimize(ALICE, "dinf")
    assert await _drain(tune) == 8
    trials = (await tune.list_trials(ALICE, "dinf"))["trials"]
    failed = [t for t in trials if t["state"] == "failed"]
    assert failed and all("lr out of range" in t["error"] for t in failed)
    assert all(t["state"] == "complete" for t in trials if t["params"]["lr"] <= 0.01)
    assert (await tune.get_study(ALICE, "dinf"))["status"] == "completed"


async def test_a_din_space_past_its_bounds_is_a_400_naming_the_field(tune: TuneService) -> None:
    for space, field in (({"lr": {"type": "float", "low": 1e-4, "high": 5.0, "log": True}}, "space.lr.high"),
                         ({"batch_size": {"type": "categorical", "choices": [1, 512]}}, "space.batch_size.choices"),
                         ({"depth": {"type": "int", "low": 1, "high": 3, "step": 1}}, "space.depth")):
        with pytest.raises(InvalidSearchSpace) as exc:
            await tune.create_study(ALICE, "dinbad", "din", space=space)
        assert exc.value.fields["field"] == field


async def test_a_qwen3_search_calls_aria_shape_and_minimises_held_out_loss(tune: TuneService) -> None:
    calls: list[tuple[Principal, dict[str, Any], int]] = []

    class FakeShape:
        async def evaluate_architecture(self, caller: Principal, params: dict[str, Any], steps: int) -> dict:
            calls.append((caller, params, steps))
            size = params["num_layers"] * params["hidden_size"]
            return {"loss": 3.0 - size / 200, "parameters": 1000 * size, "latency_ms": 0.5 * params["num_layers"]}

    config = tune.config
    tune._objective_context = lambda caller: Context(  # type: ignore[method-assign]
        caller, asyncio.get_running_loop(), 10.0, {"aria_shape": FakeShape()}, config)
    made = await tune.create_arch_search(ALICE, "q", target="qwen3", budget=5, sampler={"name": "random", "seed": 1})
    assert made["objective"] == "qwen3-arch" and made["direction"] == "minimize"
    assert [o["name"] for o in made["objectives"]] == ["loss", "parameters", "latency_ms"]
    await tune.optimize(ALICE, "q")
    assert await _drain(tune) == 5
    assert len(calls) == 5 and all(c[0] == ALICE and c[2] == config.qwen3_arch_steps for c in calls)
    front = await tune.pareto_front(ALICE, "q")
    assert front["complete"] == 5 and front["front"]
    with pytest.raises(InvalidSearchSpace):
        await tune.create_arch_search(ALICE, "q2", target="qwen3",
                                      space={"num_layers": {"type": "int", "low": 1, "high": 12, "step": 1}})
