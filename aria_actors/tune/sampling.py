"""Sampling and pruning with Optuna, over trials whose record is aria_tune's PostgreSQL rows.

::

    stored trials (number, params, state, value, intermediate values)
        -> optuna.trial.create_trial(...) each -> an in-memory optuna Study (add_trials)
        -> study.ask(distributions) -> the next trial's params            (next_params)
        -> MedianPruner.prune(study, this trial as reported so far)        (should_prune)

Optuna's own RDBStorage would keep a second record of the same trials in tables of its own,
written through SQLAlchemy around aria_data (its pool, statement timeouts, typed errors,
tenancy and migrations): the rows aria_tune writes through aria_data are the one record, and
Optuna is used only as the sampler and the pruner over a study rebuilt from them.

Guarantees and caveats
----------------------
- Reproducible: the sampler of trial ``n`` is seeded with a hash of ``(seed, n)`` (when the
  study has a seed), so the same stored history gives the same params. With parallel trials the history a
  trial sees depends on which trials finished first, so a parallel study is reproducible only as
  far as its completion order is.
- Running trials are in the rebuilt study as RUNNING (TPE leaves them out of its densities; the
  random sampler ignores history).
- Pruning follows ``optuna.pruners.MedianPruner`` exactly (it is the one deciding): a trial is
  pruned when its best intermediate value so far is worse than the median of the completed
  trials' values at the same step, after ``n_startup_trials`` completed trials and
  ``n_warmup_steps`` steps, every ``interval_steps``.
- Rebuilding costs O(trials) per ask, and dominates at scale: 4 of 11 ms an ask at 100 Branin
  trials, 56 of 61 ms at 1,000 (this machine). Keeping the rebuilt study per study and adding
  only new trials would remove it; not done yet.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

STATES = {"running": TrialState.RUNNING, "complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED,
          "failed": TrialState.FAIL}


def distributions(space: Mapping[str, Mapping[str, Any]]) -> dict[str, BaseDistribution]:
    """Optuna's distributions of a canonical space (:func:`aria_actors.tune.space.check_space`)."""
    out: dict[str, BaseDistribution] = {}
    for name, spec in space.items():
        if spec["type"] == "float":
            out[name] = FloatDistribution(spec["low"], spec["high"], log=spec["log"])
        elif spec["type"] == "int":
            out[name] = IntDistribution(spec["low"], spec["high"], step=spec["step"])
        else:
            out[name] = CategoricalDistribution(spec["choices"])
    return out


def _steps(values: Mapping[Any, float] | None) -> dict[int, float]:
    return {int(k): float(v) for k, v in (values or {}).items() if math.isfinite(float(v))}


def frozen(trial: Mapping[str, Any], dists: Mapping[str, BaseDistribution]) -> FrozenTrial:
    """A stored trial as Optuna's FrozenTrial (a complete trial without a finite value: failed)."""
    state = STATES[trial["state"]]
    value = trial.get("value")
    if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
        state = TrialState.FAIL
    params = {k: v for k, v in (trial.get("params") or {}).items() if k in dists}
    made = create_trial(state=state, value=float(value) if state == TrialState.COMPLETE else None,
                        params=params, distributions={k: dists[k] for k in params},
                        intermediate_values=_steps(trial.get("intermediate")))
    made.number = int(trial["number"])
    return made


def sampler(settings: Mapping[str, Any], number: int) -> optuna.samplers.BaseSampler:
    seed = settings.get("seed")
    if seed is not None:  # one stream per (seed, trial): studies of neighbouring seeds share no draws
        seed = int.from_bytes(hashlib.blake2b(f"{int(seed)}:{number}".encode(), digest_size=4).digest(), "big")
    if settings["name"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(settings.get("n_startup_trials", 10)),
                                      multivariate=bool(settings.get("multivariate", False)))


def rebuild(direction: str, trials: Sequence[Mapping[str, Any]], dists: Mapping[str, BaseDistribution],
            chosen: optuna.samplers.BaseSampler | None = None,
            pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """An in-memory study holding ``trials`` (in number order)."""
    study = optuna.create_study(direction=direction, sampler=chosen or optuna.samplers.RandomSampler(),
                                pruner=pruner or optuna.pruners.NopPruner())
    study.add_trials([frozen(t, dists) for t in sorted(trials, key=lambda t: int(t["number"]))])
    return study


def next_params(direction: str, space: Mapping[str, Mapping[str, Any]], sampler_settings: Mapping[str, Any],
                trials: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The params of the next trial, ``len(trials)``-th, given every stored trial (numbers 0..n-1)."""
    dists = distributions(space)
    number = len(trials)
    study = rebuild(direction, trials, dists, sampler(sampler_settings, number))
    asked = study.ask(dists)
    return dict(asked.params)


def median_pruner(settings: Mapping[str, Any]) -> optuna.pruners.MedianPruner:
    return optuna.pruners.MedianPruner(n_startup_trials=int(settings["n_startup_trials"]),
                                       n_warmup_steps=int(settings["n_warmup_steps"]),
                                       interval_steps=int(settings["interval_steps"]),
                                       n_min_trials=int(settings["n_min_trials"]))


def should_prune(direction: str, pruner_settings: Mapping[str, Any], space: Mapping[str, Mapping[str, Any]],
                 others: Sequence[Mapping[str, Any]], trial: Mapping[str, Any]) -> bool:
    """Whether ``trial`` (running, with the intermediate values reported so far) is pruned now,
    given the study's ``others`` trials; always False with pruner ``none``."""
    if pruner_settings.get("name") != "median" or not trial.get("intermediate"):
        return False
    dists = distributions(space)
    study = rebuild(direction, [t for t in others if t["state"] == "complete"], dists)
    me = frozen({**trial, "state": "running", "value": None}, dists)
    return bool(median_pruner(pruner_settings).prune(study, me))
