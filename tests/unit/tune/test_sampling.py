"""Sampling from a study rebuilt from stored trials: reproducible with a seed, inside the space,
and guided by history (TPE); the median rule's decisions are Optuna's MedianPruner's."""

from __future__ import annotations

import math
import statistics

import optuna
import pytest

from aria_actors.tune import sampling
from aria_actors.tune.errors import InvalidStudy
from aria_actors.tune.objectives import BUILTIN, branin
from aria_actors.tune.space import check_pruner, check_sampler, check_space, contains

SPACE = check_space({"x": {"type": "float", "low": -5.0, "high": 10.0},
                     "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
                     "n": {"type": "int", "low": 2, "high": 20, "step": 2},
                     "act": {"type": "categorical", "choices": ["relu", "gelu", "tanh"]}})
BRANIN = check_space(BUILTIN["branin"].space)


def _history(sampler: dict, n: int, space: dict = SPACE, value=lambda p: p["x"] ** 2) -> list[dict]:
    trials: list[dict] = []
    for i in range(n):
        params = sampling.next_params("minimize", space, sampler, trials)
        trials.append({"number": i, "params": params, "state": "complete", "value": value(params)})
    return trials


@pytest.mark.parametrize("name", ["tpe", "random"])
def test_same_seed_same_history_same_params(name: str) -> None:
    sampler = check_sampler({"name": name, "seed": 7, **({"n_startup_trials": 3} if name == "tpe" else {})})
    a, b = _history(sampler, 12), _history(sampler, 12)
    assert [t["params"] for t in a] == [t["params"] for t in b]
    other = _history(check_sampler({"name": name, "seed": 8}), 12)
    assert [t["params"] for t in a] != [t["params"] for t in other]
    assert all(contains(SPACE, t["params"]) for t in a)
    assert all(t["params"]["n"] % 2 == 0 for t in a)


def test_neighbouring_seeds_share_no_draws() -> None:
    a = _history(check_sampler({"name": "random", "seed": 1}), 10)
    b = _history(check_sampler({"name": "random", "seed": 2}), 10)
    assert not {t["params"]["x"] for t in a} & {t["params"]["x"] for t in b}


def test_running_failed_and_pruned_trials_are_part_of_the_rebuilt_study() -> None:
    trials = [{"number": 0, "params": {"x1": 1.0, "x2": 2.0}, "state": "complete", "value": 3.0},
              {"number": 1, "params": {"x1": 2.0, "x2": 2.0}, "state": "running", "value": None},
              {"number": 2, "params": {"x1": 3.0, "x2": 2.0}, "state": "failed", "value": None},
              {"number": 3, "params": {"x1": 4.0, "x2": 2.0}, "state": "pruned", "value": None,
               "intermediate": {"0": 5.0}},
              {"number": 4, "params": {"x1": 4.0, "x2": 2.0}, "state": "complete", "value": math.nan}]
    study = sampling.rebuild("minimize", trials, sampling.distributions(BRANIN))
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                      optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL]
    assert contains(BRANIN, sampling.next_params("minimize", BRANIN, check_sampler({"seed": 1}), trials))


def test_tpe_learns_from_the_stored_history() -> None:
    """After 10 random start-up trials, TPE's next 30 Branin trials are far better than random's
    (median of values; the same seeds, so the start-ups are equal draws of the same generator)."""
    tpe = _history(check_sampler({"name": "tpe", "seed": 11}), 40, BRANIN, branin)
    rnd = _history(check_sampler({"name": "random", "seed": 11}), 40, BRANIN, branin)
    late_tpe = statistics.median(t["value"] for t in tpe[10:])
    late_rnd = statistics.median(t["value"] for t in rnd[10:])
    assert late_tpe < late_rnd / 2, (late_tpe, late_rnd)


MEDIAN = check_pruner({"name": "median", "n_startup_trials": 3, "n_warmup_steps": 1, "interval_steps": 1})


def _done(number: int, curve: list[float]) -> dict:
    return {"number": number, "params": {"x": 0.5}, "state": "complete", "value": curve[-1],
            "intermediate": {str(i): v for i, v in enumerate(curve)}}


def _now(curve: list[float]) -> dict:
    return {"number": 99, "params": {"x": 0.5}, "state": "running", "value": None,
            "intermediate": {str(i): v for i, v in enumerate(curve)}}


UNIT = check_space({"x": {"type": "float", "low": 0.0, "high": 1.0}})
DONE = [_done(0, [5.0, 3.0, 1.0]), _done(1, [6.0, 4.0, 2.0]), _done(2, [7.0, 5.0, 3.0])]


@pytest.mark.parametrize(("others", "curve", "direction", "pruned"), [
    (DONE, [9.0, 4.5], "minimize", True),        # step 1: best 4.5 > median 4.0
    (DONE, [9.0, 3.5], "minimize", False),       # 3.5 < 4.0
    (DONE, [9.0], "minimize", False),            # step 0 is a warm-up step
    (DONE[:2], [9.0, 9.0], "minimize", False),   # fewer than 3 completed trials: start-up
    (DONE, [1.0, 4.5], "minimize", False),       # best so far (1.0) counts, not the last value
    (DONE, [9.0, 3.5], "maximize", False),       # maximize: the best so far is the largest, 9.0 > 4.0
    (DONE, [2.0, 3.5], "maximize", True),        # max 3.5 < median 4.0
    ([*DONE, {**_done(3, [1.0]), "state": "pruned", "value": None}], [9.0, 4.5], "minimize", True),
])
def test_median_rule(others: list[dict], curve: list[float], direction: str, pruned: bool) -> None:
    assert sampling.should_prune(direction, MEDIAN, UNIT, others, _now(curve)) is pruned
    assert sampling.should_prune(direction, {"name": "none"}, UNIT, others, _now(curve)) is False


def test_the_median_rule_matches_optuna_run_natively() -> None:
    """The same curves through an Optuna study run the usual way prune the same trials."""
    curves = [[5.0, 3.0, 1.0], [6.0, 4.0, 2.0], [7.0, 5.0, 3.0], [9.0, 8.0, 7.0], [4.0, 2.0, 0.5], [6.5, 4.5, 4.0]]
    native = optuna.create_study(pruner=sampling.median_pruner(MEDIAN))
    native_pruned = []
    for curve in curves:
        trial = native.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for step, v in enumerate(curve):
            trial.report(v, step)
            if trial.should_prune():
                native.tell(trial, state=optuna.trial.TrialState.PRUNED)
                native_pruned.append(True)
                break
        else:
            native.tell(trial, curve[-1])
            native_pruned.append(False)
    mine, stored = [], []
    for i, curve in enumerate(curves):
        decided = False
        for step in range(len(curve)):
            if sampling.should_prune("minimize", MEDIAN, UNIT, stored, {**_now(curve[:step + 1]), "number": i}):
                decided = True
                break
        mine.append(decided)
        stored.append({**_done(i, curve), **({"state": "pruned", "value": None} if decided else {})})
    assert mine == native_pruned and any(mine)


def _parallel_history(sampler: dict, n: int, key: object | None) -> list[dict]:
    """Trials proposed two at a time, finishing out of order: complete, pruned after steps, failed
    and NaN; the history each ask sees is the stored rows (running ones included)."""
    trials: list[dict] = []
    for i in range(n):
        params = sampling.next_params("minimize", BRANIN, sampler, [dict(t) for t in trials], key)
        trials.append({"number": i, "params": params, "state": "running", "value": None, "intermediate": {}})
        if i % 2:  # finish the older running one first, then the newer
            for t in (trials[i - 1], trials[i]):
                t["intermediate"] = {"0": branin(t["params"]) + 3.0}
                if t["number"] % 7 == 3:
                    t["state"] = "pruned"
                elif t["number"] % 11 == 5:
                    t["state"] = "failed"
                elif t["number"] % 13 == 9:
                    t["state"], t["value"] = "complete", math.nan
                else:
                    t["intermediate"]["1"] = branin(t["params"]) + 1.0
                    t["state"], t["value"] = "complete", branin(t["params"])
    return trials


@pytest.mark.parametrize("name", ["tpe", "random", "gp", "auto"])
def test_a_kept_study_asks_what_a_rebuild_asks(name: str) -> None:
    settings = {"name": name, "seed": 3}
    if name == "auto":
        settings["gp_trials"] = 14
    sampler = check_sampler(settings)
    n = 18 if name in ("gp", "auto") else 40
    cache = sampling.CACHE
    before = (cache.rebuilds, cache.synced)
    kept = _parallel_history(sampler, n, key=("test", name))
    rebuilt = _parallel_history(sampler, n, key=None)
    assert [t["params"] for t in kept] == [t["params"] for t in rebuilt]
    switches = 1 if name == "auto" else 0  # auto's GP sees pruned trials otherwise than its TPE
    assert cache.rebuilds - before[0] == 1 + switches and cache.synced - before[1] == n - 1 - switches
    cache.forget(("test", name))


def test_a_history_that_changed_under_the_kept_study_rebuilds_it() -> None:
    sampler = check_sampler({"name": "tpe", "seed": 5, "n_startup_trials": 2})
    key = ("test", "changed")
    trials = _history(sampler, 6, space=BRANIN, value=branin)
    sampling.next_params("minimize", BRANIN, sampler, trials, key)
    rebuilds = sampling.CACHE.rebuilds
    # the reservation of trial 6 rolled back: trial 6 is another's, with other params
    other = [*trials, {"number": 6, "params": {"x1": 0.0, "x2": 0.0}, "state": "complete", "value": 55.6}]
    got = sampling.next_params("minimize", BRANIN, sampler, other, key)
    assert sampling.CACHE.rebuilds == rebuilds + 1
    assert got == sampling.next_params("minimize", BRANIN, sampler, other)
    # fewer trials than kept (a rolled-back reservation with nothing after it)
    assert sampling.next_params("minimize", BRANIN, sampler, trials, key) == \
        sampling.next_params("minimize", BRANIN, sampler, trials)
    assert sampling.CACHE.rebuilds == rebuilds + 2
    sampling.CACHE.forget(key)


def test_the_cache_is_bounded() -> None:
    cache = sampling.StudyCache(size=2)
    dists = sampling.distributions(BRANIN)
    for key in "abc":
        cache.study(key, "minimize", [], dists, "s").lock.release()
    assert cache._entry("a", "s") is None and cache._entry("c", "s") is not None


@pytest.mark.parametrize("bad", [{"name": "random", "n_startup_trials": 3}, {"name": "gp", "multivariate": True},
                                 {"name": "tpe", "gp_trials": 3}, {"name": "auto", "gp_trials": 501},
                                 {"name": "cmaes"}])
def test_sampler_settings_of_another_sampler_are_refused(bad: dict) -> None:
    from aria_actors.tune.errors import InvalidStudy
    with pytest.raises(InvalidStudy):
        check_sampler(bad)


def test_gp_sees_a_pruned_trial_at_its_last_value_less_the_complete_trials_drop_from_there() -> None:
    trials = [{"number": 0, "params": {"x1": 1.0}, "state": "complete", "value": 1.0,
               "intermediate": {"0": 11.0, "1": 6.0, "2": 1.0}},
              {"number": 1, "params": {"x1": 2.0}, "state": "complete", "value": 3.0,
               "intermediate": {"0": 15.0, "1": 8.0, "2": 3.0}},
              {"number": 2, "params": {"x1": 3.0}, "state": "complete", "value": 2.0,
               "intermediate": {"0": 13.0, "1": 7.0, "2": 2.0}},
              {"number": 3, "params": {"x1": 4.0}, "state": "pruned", "value": None, "intermediate": {"0": 20.0}},
              {"number": 4, "params": {"x1": 5.0}, "state": "pruned", "value": None,
               "intermediate": {"0": 19.0, "1": 9.5}}]
    seen = sampling.pruned_as_complete(trials)
    assert seen[3]["state"] == "complete" and seen[3]["value"] == 20.0 - 11.0  # drops at step 0: 10, 12, 11
    assert seen[4]["value"] == 9.5 - 5.0  # drops at step 1: 5, 5, 5
    assert seen[:3] == trials[:3]


def test_gp_sees_a_pruned_trial_at_its_last_reported_value() -> None:
    trials = [{"number": 0, "params": {"x1": 1.0, "x2": 2.0}, "state": "pruned", "value": None,
               "intermediate": {"0": 9.0, "3": 7.5, "1": 8.0}},
              {"number": 1, "params": {"x1": 2.0, "x2": 2.0}, "state": "pruned", "value": None},
              {"number": 2, "params": {"x1": 3.0, "x2": 2.0}, "state": "complete", "value": 1.0}]
    seen = sampling.pruned_as_complete(trials)
    assert seen[0]["state"] == "complete" and seen[0]["value"] == 7.5
    assert seen[1] == trials[1] and seen[2] == trials[2]  # nothing reported: stays pruned
    assert sampling.uses_gp({"name": "auto", "gp_trials": 5}, 4)
    assert not sampling.uses_gp({"name": "auto", "gp_trials": 5}, 5)
    assert not sampling.uses_gp({"name": "tpe"}, 0)


def test_a_retried_trial_whose_steps_start_again_rebuilds_the_kept_study() -> None:
    sampler = check_sampler({"name": "tpe", "seed": 9, "n_startup_trials": 2})
    key = ("test", "retried")
    trials = _history(sampler, 4, space=BRANIN, value=branin)
    params = sampling.next_params("minimize", BRANIN, sampler, trials, key)
    running = {"number": 4, "params": params, "state": "running", "value": None, "intermediate": {"0": 9.0, "1": 8.0}}
    sampling.next_params("minimize", BRANIN, sampler, [*trials, running], key)
    rebuilds = sampling.CACHE.rebuilds
    retried = {**running, "intermediate": {"0": 7.0}}  # attempt 2 starts its steps again
    later = [*trials, retried, {"number": 5, "params": params, "state": "running", "value": None}]
    assert sampling.next_params("minimize", BRANIN, sampler, later, key) == \
        sampling.next_params("minimize", BRANIN, sampler, later)
    assert sampling.CACHE.rebuilds == rebuilds + 1
    sampling.CACHE.forget(key)


def test_a_failed_sync_leaves_the_study_unlocked_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = check_sampler({"name": "tpe", "seed": 4})
    key = ("test", "boom")
    trials = _history(sampler, 3, space=BRANIN, value=branin)
    sampling.next_params("minimize", BRANIN, sampler, trials, key)
    entry = sampling.CACHE._entries[key]

    def boom(*_: object) -> bool:
        raise RuntimeError("optuna refused")

    monkeypatch.setattr(sampling, "_sync", boom)
    with pytest.raises(RuntimeError):
        sampling.next_params("minimize", BRANIN, sampler, trials, key)
    assert not entry.lock.locked() and key not in sampling.CACHE._entries


@pytest.mark.parametrize(("direction", "settings", "seed"), [
    ("minimize", {"name": "asha"}, 0), ("maximize", {"name": "asha"}, 1),
    ("minimize", {"name": "asha", "reduction_factor": 2, "min_resource": 2, "min_early_stopping_rate": 1}, 2),
    ("minimize", {"name": "asha", "bootstrap_count": 3}, 3)])
def test_asha_from_the_rows_decides_as_optunas_successive_halving(direction: str, settings: dict, seed: int) -> None:
    """Trials reporting step by step, several at once, in a shuffled order: at every report the
    decision from the stored rows is Optuna's SuccessiveHalvingPruner's on its own study."""
    import random

    pruner_settings = check_pruner(settings)
    optuna_pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=pruner_settings["min_resource"], reduction_factor=pruner_settings["reduction_factor"],
        min_early_stopping_rate=pruner_settings["min_early_stopping_rate"],
        bootstrap_count=pruner_settings["bootstrap_count"])
    study = optuna.create_study(direction=direction, pruner=optuna_pruner)
    rng = random.Random(seed)
    rows: dict[int, dict] = {}
    live: dict[int, tuple[optuna.Trial, float, int]] = {}  # number -> (trial, quality, next step)
    decisions = pruned = 0
    while len(rows) < 40 or live:
        if len(rows) < 40 and len(live) < 4:
            trial = study.ask()
            live[trial.number] = (trial, rng.random(), 0)
            rows[trial.number] = {"number": trial.number, "state": "running", "intermediate": {}}
            continue
        number = rng.choice(sorted(live))
        trial, quality, step = live[number]
        value = quality + 1.0 / (step + 1) + rng.gauss(0, 0.05)
        trial.report(value, step)
        rows[number]["intermediate"][str(step)] = value
        others = [r for n, r in rows.items() if n != number]
        ours = sampling.should_prune(direction, pruner_settings, {}, others, rows[number])
        assert ours == trial.should_prune(), (number, step)
        decisions += 1
        if ours or step == 26:
            pruned += ours
            study.tell(trial, state=optuna.trial.TrialState.PRUNED) if ours else study.tell(trial, value)
            rows[number]["state"] = "pruned" if ours else "complete"
            del live[number]
        else:
            live[number] = (trial, quality, step + 1)
    assert decisions > 100 and pruned > 0


def test_asha_settings_are_checked() -> None:
    assert check_pruner("asha") == {"name": "asha", "min_resource": 1, "reduction_factor": 3,
                                    "min_early_stopping_rate": 0, "bootstrap_count": 0}
    for bad, field in (({"name": "asha", "reduction_factor": 1}, "pruner.reduction_factor"),
                       ({"name": "asha", "n_warmup_steps": 2}, "pruner.n_warmup_steps"),
                       ({"name": "median", "min_resource": 2}, "pruner.min_resource"),
                       ({"name": "none", "n_startup_trials": 2}, "pruner.n_startup_trials")):
        with pytest.raises(InvalidStudy) as got:
            check_pruner(bad)
        assert got.value.fields["field"] == field
