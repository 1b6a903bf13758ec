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
  ends with (``inf`` when it never does within three times the trials), against all the unpruned
  search's steps, and per seed against its steps until it first reached that best (stricter).
- ``din`` (``--only din``: about 5 s a trial, an hour for 5 seeds): ``reach`` on aria_tune's ``din``
  objective, the validation GAUC of aria_interpret's DIN (:class:`DinObjective`: the evaluate-only
  trial of ``din/trial.py`` on the service's defaults, run in this process); random search not run.
- ``din-pruning``: ``pruning`` on the same objective, one step per epoch (the median rule may stop
  a trial after its first epoch).

Not measured here: the cost of trials as aria_queue jobs (about 35 ms a trial in the e2e test).

Prints ``name: aria X, peer Y, ratio Z`` lines (ratio = aria / peer: lower is better).

Run: ``.venv/bin/python bench/tune.py [--seeds 5] [--quick] [--only reach,overhead,pruning,din,din-pruning]``
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
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import optuna

from aria_actors.tune import sampling
from aria_actors.tune.objectives import BUILTIN, DIN_SPACE
from aria_actors.tune.space import check_pruner, check_sampler, check_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
TRIALS = 100


Curve = Callable[[Mapping[str, Any]], Iterator[float]]


class DinObjective:
    """aria_tune's ``din`` objective in this process: aria_interpret's evaluate-only trial
    (``din/trial.py``) on the service's defaults (``din_trial_rows`` training rows drawn with seed 0,
    the whole validation block, ``din_epochs`` epochs, one torch thread); each epoch's validation
    GAUC is a step, the last one the value, as ``objectives.bind_din`` reports them. Negated here:
    the bench's searches minimise."""

    def __init__(self, rows: int, epochs: int) -> None:
        import torch  # heavy: loaded only when the din section runs

        from aria_actors.interpret.din.trial import trial_samples
        from aria_actors.interpret.din_trials import movielens_samples

        torch.set_num_threads(1)
        full, self.n_categories = movielens_samples()
        self.samples = trial_samples(full, rows, 0)
        self.epochs = epochs
        self.trials, self.seconds = 0, 0.0

    def curve(self, params: Mapping[str, Any]) -> Iterator[float]:
        from aria_actors.interpret.din.trial import DinTrial, check_params

        began = time.perf_counter()
        trial = DinTrial.start(self.samples, self.n_categories, check_params(dict(params)), self.epochs)
        self.trials += 1
        try:
            while not trial.done:
                yield -float(trial.epoch()["valid"]["gauc"])
        finally:
            self.seconds += time.perf_counter() - began

    def __call__(self, params: Mapping[str, Any]) -> float:
        return list(self.curve(params))[-1]


def optuna_run(fn: Callable[[Mapping[str, Any]], float], space: Mapping[str, Any], sampler: optuna.samplers.BaseSampler,
               trials: int, target: float | None = None) -> tuple[list[float], float]:
    """Best value after each trial, and the wall time to ``target`` (or to the end)."""
    study = optuna.create_study(sampler=sampler)
    dists = sampling.distributions(space)
    best: list[float] = []
    began = time.perf_counter()
    for _ in range(trials):
        t = study.ask(dists)
        study.tell(t, fn(t.params))
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


def reach(name: str, fn: Callable[[Mapping[str, Any]], float], space: Mapping[str, Any], seeds: int,
          gp_trials: int, random_trials: int) -> None:
    """Trials and wall time Aria's sampler needs to reach TPE's best of 100 trials (``fn`` minimised);
    random search is given ``random_trials`` (0: not run)."""
    space = check_space(space)
    rows = []
    for seed in range(seeds):
        tpe, tpe_s = optuna_run(fn, space, optuna.samplers.TPESampler(seed=seed), TRIALS)
        target = tpe[-1]
        aria, aria_s = aria_run(fn, space, check_sampler({"name": "auto", "seed": seed, "gp_trials": gp_trials}),
                                TRIALS, target, f"{name}-{seed}")
        rnd_reached: float = math.nan
        if random_trials:
            rnd, _ = optuna_run(fn, space, optuna.samplers.RandomSampler(seed=seed), random_trials, target)
            rnd_reached = len(rnd) if rnd[-1] <= target else math.inf
        reached = len(aria) if aria[-1] <= target else math.inf
        rows.append((reached, aria_s, tpe_s, rnd_reached))
        print(f"  {name} seed {seed}: TPE best after {TRIALS} = {target:.5f} ({tpe_s:.2f} s); aria reached it at "
              f"trial {reached} ({aria_s:.2f} s); random at {rnd_reached}", flush=True)
    trials = statistics.median(r[0] for r in rows)
    wall = statistics.median(r[1] / r[2] for r in rows)
    print(f"{name}_trials_to_tpe100_best: aria {trials}, peer {TRIALS}, ratio {trials / TRIALS:.2f}")
    print(f"{name}_wall_to_tpe100_best: aria {statistics.median(r[1] for r in rows):.1f} s, peer "
          f"{statistics.median(r[2] for r in rows):.1f} s, ratio {wall:.2f} (median of per-seed ratios; "
          "sampling plus objective, one process, one thread)")
    if random_trials:
        print(f"{name}_random_trials_to_tpe100_best: {statistics.median(r[3] for r in rows)} "
              f"(of up to {random_trials})")


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
            t = study.ask(dists)
            params = t.params
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
_UNPRUNED: dict[tuple[str, int, int], tuple[float, int, int]] = {}
# A DIN trial reports 3 epochs: the median rule may stop one after its first.
DIN_PRUNERS = {**PRUNERS, "median": {**PRUNERS["median"], "n_warmup_steps": 0}}


def branin_curve(noise: float, steps: int = 20) -> Curve:
    """A learning curve on Branin: the value a trial reports after each of ``steps`` steps is its
    final value, a term that decays, and (with noise) a deviation that fades to none at the last
    step, so early ranks are not the final ones."""
    objective = BUILTIN["branin"]

    def curve(params: Mapping[str, Any]) -> Iterator[float]:
        for step in range(steps):
            rng = random.Random(f"{sorted(params.items())}:{step}")
            fade = (steps - 1 - step) / (steps - 1)
            yield objective.evaluate(params) + 30.0 / (step + 1) + (rng.gauss(0.0, noise) * fade if noise else 0.0)

    return curve


def pruning(label: str, curve: Curve, space: Mapping[str, Any], seeds: int, trials: int,
            pruner_settings: Mapping[str, Any], what: str) -> None:
    """Steps the pruned search spends to reach the best value the unpruned search ends with."""
    space = check_space(space)
    pruner = check_pruner(pruner_settings)
    pruner_name = pruner["name"]

    def search(seed: int, prune: bool, most: int, target: float | None) -> tuple[float, int, int, int]:
        """(best value, steps run, trials made, steps run when the best value was first reached)"""
        sampler = check_sampler({"name": "auto", "seed": seed, "gp_trials": 100})
        key = f"prune-{seed}-{prune}"
        stored: list[dict[str, Any]] = []
        run, best, at_best = 0, math.inf, 0
        for i in range(most):
            params = sampling.next_params("minimize", space, sampler, stored, key)
            trial = {"number": i, "params": params, "state": "running", "value": None, "intermediate": {}}
            steps = curve(params)
            value = math.inf
            for step, value in enumerate(steps):
                run += 1
                trial["intermediate"][str(step)] = value
                if prune and sampling.should_prune("minimize", pruner, space, stored, trial):
                    trial["state"] = "pruned"
                    steps.close()  # type: ignore[attr-defined]
                    break
            else:
                trial["state"], trial["value"] = "complete", value
                if value < best:
                    best, at_best = value, run
            stored.append(trial)
            if target is not None and best <= target:
                break
        sampling.CACHE.forget(key)
        return best, run, len(stored), at_best

    rows = []
    for seed in range(seeds):
        # the unpruned search is the same for every pruner (deterministic sampler and objective)
        key = (label, seed, trials)
        if key not in _UNPRUNED:
            _UNPRUNED[key] = search(seed, False, trials, None)
        full_best, full_steps, _, full_at_best = _UNPRUNED[key]
        pruned_best, pruned_steps, made, _ = search(seed, True, 3 * trials, full_best)
        rows.append((pruned_steps if pruned_best <= full_best else math.inf, full_steps, full_at_best))
        print(f"  {label} seed {seed}: without pruning best {full_best:.4f} after {trials} trials, {full_steps} "
              f"steps (first reached after {full_at_best}); with {pruner_name} {pruned_best:.4f} after {made} "
              f"trials, {pruned_steps} steps", flush=True)
    aria = statistics.median(r[0] for r in rows)
    peer = statistics.median(r[1] for r in rows)
    print(f"{label}_{pruner_name}_steps_to_equal_best: aria {aria}, peer {peer}, ratio {aria / peer:.2f}   "
          f"(peer: the same search without pruning, all its {trials} trials; {pruner}; {what})")
    to_best = statistics.median(r[0] / r[2] for r in rows)
    print(f"{label}_{pruner_name}_vs_unpruned_steps_to_its_best: ratio {to_best:.2f}   (median per seed of the "
          "pruned search's steps over the steps the unpruned one ran until it first reached its final best)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--gp-trials", type=int, default=100)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 300 stored trials, 5 asks")
    parser.add_argument("--only", default="reach,overhead,pruning",
                        help="sections, comma-separated, of reach, overhead, pruning, din, din-pruning (din: "
                             "about 5 s a trial on this machine, an hour for 5 seeds)")
    parser.add_argument("--din-rows", type=int, default=4000, help="aria_interpret's din_trial_rows")
    parser.add_argument("--din-epochs", type=int, default=3, help="aria_tune's din_epochs")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if args.quick:
        args.seeds, args.history, args.asks = 2, 300, 5
    print(f"optuna {optuna.__version__}; {args.seeds} seeds; aria sampler 'auto' (GP for {args.gp_trials} "
          "trials, then TPE)", flush=True)
    if "reach" in only:
        for name in ("branin", "hartmann6"):
            reach(name, BUILTIN[name].evaluate, BUILTIN[name].space, args.seeds, args.gp_trials, 10 * TRIALS)
    if "overhead" in only:
        overhead(args.history, args.asks)
    if "pruning" in only:
        space = BUILTIN["branin"].space
        for pruner_name, noise in (("median", 0.0), ("asha", 0.0), ("asha", 2.0)):
            pruning(f"pruning{f'_noise{noise:g}' if noise else ''}", branin_curve(noise), space, args.seeds,
                    40 if not args.quick else 25, PRUNERS[pruner_name],
                    f"Branin learning curve, 20 steps, noise sd {noise:g} fading to 0 by the last step")
    if only & {"din", "din-pruning"}:
        din = DinObjective(args.din_rows, args.din_epochs)
        print(f"# din: aria_interpret's evaluate-only DIN trial in this process, {len(din.samples.train)} training "
              f"rows, {len(din.samples.valid)} validation rows, {args.din_epochs} epochs, one torch thread; "
              "value: the last epoch's validation GAUC (negated: minimised)", flush=True)
    if "din" in only:
        reach("din", din, DIN_SPACE, args.seeds, args.gp_trials, 0)
        print(f"# din: {din.trials} trials, {din.seconds / max(din.trials, 1):.2f} s a trial", flush=True)
    if "din-pruning" in only:
        for pruner_name in ("median", "asha"):
            pruning("pruning_din", din.curve, DIN_SPACE, args.seeds, 40 if not args.quick else 25,
                    DIN_PRUNERS[pruner_name], f"DIN validation GAUC per epoch, {args.din_epochs} epochs")


if __name__ == "__main__":
    main()
