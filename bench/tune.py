"""aria_tune's search against Optuna's TPE and random search, in one run.

- ``reach``: per function (Branin, Hartmann-6) and seed, Optuna's ``TPESampler`` runs 100 trials
  (ask/tell, in-memory study); its best value is the target. Aria's sampler (``auto``: Optuna's
  GP sampler for the first ``gp_trials``, then TPE, asked through
  :func:`aria_actors.tune.sampling.next_params` over the trials as aria_tune stores them, with its
  kept study) runs until it reaches that target, at most 100 trials. Printed: trials and wall
  time (sampling plus objective) to the target, median of the seeds, as ratios to TPE's 100.
  Random search to the same target is printed too. The objective is cheap here, so wall time is
  the samplers' own cost: GP pays more per ask than TPE and that shows in the wall ratio; with
  an objective of seconds (a DIN training) the trial ratio is the wall ratio.
- ``overhead``: the cost of one ask after 1,000 stored trials (Branin, random history): Aria's
  ``next_params`` (kept study brought up to date with the finished trial, then TPE) against
  Optuna's TPE over its in-memory study (ask + tell) and over ``RDBStorage`` on SQLite (durable,
  as aria_tune's PostgreSQL rows are), median of ``--asks`` asks.
- ``pruning``: a learning-curve objective (Branin plus a term decaying with the step, 20 steps a
  trial; a second variant adds noise fading to none by the last step, so early ranks are not the
  final ones); the same Aria search with a pruner (Optuna's median rule; successive halving,
  ``asha``) and without: the steps the pruned search runs to reach the best value the unpruned one
  ends with (``inf`` when it never does within three times the trials).

Not measured here: the DIN validation objective (aria_interpret has no evaluate-only training
call yet), and the cost of trials as aria_queue jobs (about 35 ms a trial in the e2e test).

Prints ``name: aria X, peer Y, ratio Z`` lines (ratio = aria / peer: lower is better).

Run: ``.venv/bin/python bench/tune.py [--seeds 5] [--quick]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from aria_actors.tune import sampling
from aria_actors.tune.objectives import BUILTIN
from aria_actors.tune.space import check_pruner, check_sampler, check_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
TRIALS = 100


def _suggest(trial: optuna.Trial, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: trial.suggest_float(k, v["low"], v["high"], log=v["log"]) for k, v in space.items()}


def optuna_run(fn: Callable[[Mapping[str, Any]], float], space: Mapping[str, Any], sampler: optuna.samplers.BaseSampler,
               trials: int, target: float | None = None) -> tuple[list[float], float]:
    """Best value after each trial, and the wall time to ``target`` (or to the end)."""
    study = optuna.create_study(sampler=sampler)
    best: list[float] = []
    began = time.perf_counter()
    for _ in range(trials):
        t = study.ask()
        study.tell(t, fn(_suggest(t, space)))
        best.append(study.best_value)
        if target is not None and best[-1] <= target:
            break
    return best, time.perf_counter() - began


def aria_run(fn: Callable[[Mapping[str, Any]], float], space: Mapping[str, Any], sampler: Mapping[str, Any],
             trials: int, target: float | None, key: str) -> tuple[list[float], float]:
    stored: list[dict[str, Any]] = []
    best: list[float] = []
    began = time.perf_counter()
    for i in range(trials):
        params = sampling.next_params("minimize", space, sampler, stored, key)
        value = fn(params)
        stored.append({"number": i, "params": params, "state": "complete", "value": value})
        best.append(min(value, best[-1]) if best else value)
        if target is not None and best[-1] <= target:
            break
    sampling.CACHE.forget(key)
    return best, time.perf_counter() - began


def reach(name: str, seeds: int, gp_trials: int) -> None:
    objective = BUILTIN[name]
    space = check_space(objective.space)
    rows = []
    for seed in range(seeds):
        tpe, tpe_s = optuna_run(objective.evaluate, space, optuna.samplers.TPESampler(seed=seed), TRIALS)
        target = tpe[-1]
        aria, aria_s = aria_run(objective.evaluate, space, check_sampler({"name": "auto", "seed": seed,
                                                                     "gp_trials": gp_trials}),
                                TRIALS, target, f"{name}-{seed}")
        rnd, _ = optuna_run(objective.evaluate, space, optuna.samplers.RandomSampler(seed=seed), 10 * TRIALS, target)
        reached = len(aria) if aria[-1] <= target else math.inf
        rows.append((reached, aria_s, tpe_s, len(rnd) if rnd[-1] <= target else math.inf))
        print(f"  {name} seed {seed}: TPE best after {TRIALS} = {target:.5f} ({tpe_s:.2f} s); aria reached it at "
              f"trial {reached} ({aria_s:.2f} s); random at {rows[-1][3]}", flush=True)
    trials = statistics.median(r[0] for r in rows)
    wall = statistics.median(r[1] / r[2] for r in rows)
    print(f"{name}_trials_to_tpe100_best: aria {trials}, peer {TRIALS}, ratio {trials / TRIALS:.2f}")
    print(f"{name}_wall_to_tpe100_best (cheap objective: sampler cost only): ratio {wall:.2f}")
    print(f"{name}_random_trials_to_tpe100_best: {statistics.median(r[3] for r in rows)} (of up to {10 * TRIALS})")


def overhead(history: int, asks: int) -> None:
    objective = BUILTIN["branin"]
    space = check_space(objective.space)
    rng = random.Random(0)
    stored = []
    for i in range(history):
        params = {"x1": rng.uniform(-5, 10), "x2": rng.uniform(0, 15)}
        stored.append({"number": i, "params": params, "state": "complete", "value": objective.evaluate(params)})
    settings = check_sampler({"name": "tpe", "seed": 0})

    def aria_once() -> float:
        began = time.perf_counter()
        params = sampling.next_params("minimize", space, settings, stored, "overhead")
        took = time.perf_counter() - began
        value = objective.evaluate(params)
        stored.append({"number": len(stored), "params": params, "state": "complete", "value": value})
        return took

    aria_once()  # the first ask builds the kept study
    aria = statistics.median(aria_once() for _ in range(asks))
    sampling.CACHE.forget("overhead")

    def peer(storage: Any) -> float:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0), storage=storage)
        dists = sampling.distributions(space)
        study.add_trials([sampling.frozen(t, dists) for t in stored[:history]])
        took = []
        for _ in range(asks):
            began = time.perf_counter()
            t = study.ask()
            params = _suggest(t, space)
            took.append(time.perf_counter() - began)
            study.tell(t, objective.evaluate(params))
        return statistics.median(took)

    memory = peer(None)
    with tempfile.TemporaryDirectory() as tmp:
        durable = peer(optuna.storages.RDBStorage(f"sqlite:///{tmp}/optuna.db"))
    print(f"sampler_overhead_at_{history}_trials: aria {aria * 1e3:.2f} ms, peer {memory * 1e3:.2f} ms, "
          f"ratio {aria / memory:.2f}   (peer: Optuna TPE, in-memory study, nothing durable)")
    print(f"sampler_overhead_at_{history}_trials_durable: aria {aria * 1e3:.2f} ms, peer {durable * 1e3:.2f} ms, "
          f"ratio {aria / durable:.2f}   (peer: Optuna TPE over RDBStorage/SQLite; aria's figure excludes its "
          f"PostgreSQL read of the trials)")


PRUNERS = {"median": {"name": "median", "n_startup_trials": 5, "n_warmup_steps": 3},
           "asha": {"name": "asha", "min_resource": 1, "reduction_factor": 3}}


def pruning(seeds: int, trials: int, pruner_name: str, noise: float) -> None:
    """Steps the pruned search spends to reach the best value the unpruned search ends with."""
    objective = BUILTIN["branin"]
    space = check_space(objective.space)
    steps = 20
    pruner = check_pruner(PRUNERS[pruner_name])

    def curve(params: Mapping[str, Any], step: int) -> float:
        # the value a trial reports after each step: its final value, a term that decays, and (with
        # noise) a deviation that fades to none at the last step, so early ranks are not the final ones
        rng = random.Random(f"{sorted(params.items())}:{step}")
        fade = (steps - 1 - step) / (steps - 1)
        return objective.evaluate(params) + 30.0 / (step + 1) + (rng.gauss(0.0, noise) * fade if noise else 0.0)

    def search(seed: int, prune: bool, most: int, target: float | None) -> tuple[float, int, int]:
        sampler = check_sampler({"name": "auto", "seed": seed, "gp_trials": 100})
        key = f"prune-{seed}-{prune}"
        stored: list[dict[str, Any]] = []
        run, best = 0, math.inf
        for i in range(most):
            params = sampling.next_params("minimize", space, sampler, stored, key)
            trial = {"number": i, "params": params, "state": "running", "value": None, "intermediate": {}}
            for step in range(steps):
                run += 1
                trial["intermediate"][str(step)] = curve(params, step)
                if prune and sampling.should_prune("minimize", pruner, space, stored, trial):
                    trial["state"] = "pruned"
                    break
            else:
                trial["state"], trial["value"] = "complete", curve(params, steps - 1)
                best = min(best, trial["value"])
            stored.append(trial)
            if target is not None and best <= target:
                break
        sampling.CACHE.forget(key)
        return best, run, len(stored)

    rows = []
    for seed in range(seeds):
        full_best, full_steps, _ = search(seed, False, trials, None)
        pruned_best, pruned_steps, made = search(seed, True, 3 * trials, full_best)
        rows.append((pruned_steps if pruned_best <= full_best else math.inf, full_steps))
        print(f"  pruning seed {seed}: without pruning best {full_best:.4f} after {trials} trials, {full_steps} "
              f"steps; with {pruner_name} {pruned_best:.4f} after {made} trials, {pruned_steps} steps", flush=True)
    aria = statistics.median(r[0] for r in rows)
    peer = statistics.median(r[1] for r in rows)
    label = f"pruning_{pruner_name}{f'_noise{noise:g}' if noise else ''}_steps_to_equal_best"
    print(f"{label}: aria {aria}, peer {peer}, ratio {aria / peer:.2f}   "
          f"(peer: the same search without pruning; {pruner}; noise sd {noise:g} fading to 0 by the last step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--gp-trials", type=int, default=100)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 300 stored trials, 5 asks")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.history, args.asks = 2, 300, 5
    print(f"optuna {optuna.__version__}; {args.seeds} seeds; aria sampler 'auto' (GP for {args.gp_trials} "
          "trials, then TPE)", flush=True)
    for name in ("branin", "hartmann6"):
        reach(name, args.seeds, args.gp_trials)
    overhead(args.history, args.asks)
    for pruner_name, noise in (("median", 0.0), ("asha", 0.0), ("asha", 2.0)):
        pruning(args.seeds, 40 if not args.quick else 25, pruner_name, noise)


if __name__ == "__main__":
    main()
