"""Sampling and pruning with Optuna, over trials whose record is aria_tune's PostgreSQL rows.

::

    stored trials (number, params, state, value, intermediate values)
        -> optuna.trial.create_trial(...) each -> an in-memory optuna Study (add_trials)
        -> study.ask(distributions) -> the next trial's params            (next_params)
        -> MedianPruner.prune(study, this trial as reported so far)        (should_prune)
        or successive halving over the stored intermediate values         (asha_prunes)

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
- Pruning ``asha`` is Optuna's ``SuccessiveHalvingPruner``'s rule on the same rows
  (:func:`asha_prunes` says why it is not Optuna's object; a test compares the two decision by
  decision).
- A study asked again (``key``: its id) is not rebuilt: :class:`StudyCache` keeps its in-memory
  study and brings it up to date with the stored rows, adding new trials and finishing the ones
  that were running (Optuna's public ``tell`` and ``Trial.report``). Anything else (a trial that
  vanished after a rolled-back reservation, params or a finished result that differ) rebuilds it,
  so the cached study always holds what a rebuild would.
- Samplers: ``tpe`` and ``random`` (Optuna's), ``gp`` (Optuna's Gaussian-process sampler: far
  fewer trials to a good value, but each ask fits a GP, cubic in the trials), and ``auto``: GP for
  the first ``gp_trials`` trials, then TPE (expensive objectives get GP's sample efficiency early,
  long studies keep TPE's flat cost per ask). GP sees pruned trials as complete at their last
  reported value corrected by the complete trials' median drop from that step to their end
  (:func:`pruned_as_complete`).
- Several objectives (an architecture search): ``direction`` is then a list, the study is rebuilt
  with Optuna's ``directions`` and each complete trial's ``values`` (in the study's order); TPE
  then is Optuna's multi-objective TPE. Such studies are never pruned (Optuna's pruners are
  single-objective), and the GP sampler is not offered for them.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)
Direction = str | Sequence[str]  # one objective's direction, or several objectives' in order

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


def _values(trial: Mapping[str, Any], n: int) -> list[float] | None:
    """The finite values of a complete trial: ``[value]`` (one objective) or its ``values`` (n)."""
    got = trial.get("values") if n > 1 else [trial.get("value")]
    if got is None or len(got) != n or any(v is None or not math.isfinite(float(v)) for v in got):
        return None
    return [float(v) for v in got]


def frozen(trial: Mapping[str, Any], dists: Mapping[str, BaseDistribution], n_objectives: int = 1) -> FrozenTrial:
    """A stored trial as Optuna's FrozenTrial (a complete trial without finite values: failed)."""
    state = STATES[trial["state"]]
    values = _values(trial, n_objectives) if state == TrialState.COMPLETE else None
    if state == TrialState.COMPLETE and values is None:
        state = TrialState.FAIL
    params = {k: v for k, v in (trial.get("params") or {}).items() if k in dists}
    made = create_trial(state=state, values=values, params=params, distributions={k: dists[k] for k in params},
                        intermediate_values=_steps(trial.get("intermediate")) if n_objectives == 1 else None)
    made.number = int(trial["number"])
    return made


def uses_gp(settings: Mapping[str, Any], number: int) -> bool:
    return settings["name"] == "gp" or (settings["name"] == "auto" and number < int(settings.get("gp_trials", 100)))


def pruned_as_complete(trials: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Pruned trials as complete, for the GP sampler: it fits complete trials only, and without
    them proposes again the region the pruner just cut. A pruned trial's value is its last report
    corrected to a final value: minus the median, over the complete trials that reported at that
    step, of (their value there - their final value). Learning curves fall as they train, so a
    trial cut at an early step (successive halving cuts most at the first rungs) would otherwise
    look far worse than any finished one, and the GP, fitted to both on one scale, would model the
    curve's offset instead of the objective. Without such complete trials: the last report as it is."""
    offsets: dict[int, list[float]] = {}
    for t in trials:
        if t["state"] == "complete" and t.get("value") is not None and math.isfinite(float(t["value"])):
            for step, value in _steps(t.get("intermediate")).items():
                offsets.setdefault(step, []).append(value - float(t["value"]))
    out: list[Mapping[str, Any]] = []
    for t in trials:
        steps = _steps(t.get("intermediate")) if t["state"] == "pruned" else {}
        if not steps:
            out.append(t)
            continue
        last = max(steps)
        shift = statistics.median(offsets[last]) if offsets.get(last) else 0.0
        out.append({**t, "state": "complete", "value": steps[last] - shift})
    return out


def sampler(settings: Mapping[str, Any], number: int) -> optuna.samplers.BaseSampler:
    seed = settings.get("seed")
    if seed is not None:  # one stream per (seed, trial): studies of neighbouring seeds share no draws
        seed = int.from_bytes(hashlib.blake2b(f"{int(seed)}:{number}".encode(), digest_size=4).digest(), "big")
    name = "gp" if uses_gp(settings, number) else settings["name"]
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=int(settings.get("n_startup_trials", 10)),
                                         warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(settings.get("n_startup_trials", 10)),
                                      multivariate=settings.get("multivariate"))


def directions(direction: Direction) -> list[str]:
    return [direction] if isinstance(direction, str) else list(direction)


def rebuild(direction: Direction, trials: Sequence[Mapping[str, Any]], dists: Mapping[str, BaseDistribution],
            chosen: optuna.samplers.BaseSampler | None = None,
            pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """An in-memory study holding ``trials`` (in number order)."""
    wanted = directions(direction)
    study = optuna.create_study(directions=wanted, sampler=chosen or optuna.samplers.RandomSampler(),
                                pruner=pruner or optuna.pruners.NopPruner())
    study.add_trials([frozen(t, dists, len(wanted)) for t in sorted(trials, key=lambda t: int(t["number"]))])
    return study


def _signature(trial: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of a stored trial the rebuilt study holds (a changed signature: sync or rebuild)."""
    value = trial.get("value")
    if trial.get("values") is not None:  # several objectives: all of them
        value = tuple(float(v) for v in trial["values"])
    elif value is not None:
        value = float(value)
    return (trial["state"], value,
            tuple(sorted(_steps(trial.get("intermediate")).items())),
            tuple(sorted((k, repr(v)) for k, v in (trial.get("params") or {}).items())))


class _Cached:
    def __init__(self, study: optuna.Study, signatures: list[tuple[Any, ...]], space_key: str) -> None:
        self.study, self.signatures, self.space_key, self.lock = study, signatures, space_key, threading.Lock()
        # The multivariate TPE's search space over this study (Optuna's IntersectionSearchSpace, which
        # caches what it has seen of one study): kept across asks, as a sampler kept by Optuna would.
        self.search_space: Any = None
        # Only a running trial's row changes (reports, then its end; a rolled-back reservation's
        # number is taken again by a new running row): finished ones are not compared again.
        self.running = {i for i, sig in enumerate(signatures) if sig[0] == "running"}

    def add(self, signature: tuple[Any, ...]) -> None:
        if signature[0] == "running":
            self.running.add(len(self.signatures))
        self.signatures.append(signature)


class StudyCache:
    """In-memory studies by key (a study's id), kept equal to a rebuild from the stored trials.

    Bounded (least recently used go first); thread-safe (asks run in worker threads; two asks of
    one study take turns)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.rebuilds = 0   # full rebuilds (first ask, or history that changed under the cache)
        self.synced = 0     # asks served by bringing a kept study up to date

    def _entry(self, key: Hashable, space_key: str) -> _Cached | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.space_key == space_key:
                self._entries.move_to_end(key)
                return entry
            return None

    def _keep(self, key: Hashable, entry: _Cached) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def study(self, key: Hashable, direction: Direction, trials: Sequence[Mapping[str, Any]],
              dists: Mapping[str, BaseDistribution], space_key: str) -> _Cached:
        """The kept study of ``key`` holding ``trials`` (rebuilt when it cannot be brought up to
        date), its lock held: the caller releases ``entry.lock`` when done asking."""
        ordered = sorted(trials, key=lambda t: int(t["number"]))
        entry = self._entry(key, space_key)
        if entry is not None:
            entry.lock.acquire()
            try:
                kept = ([d.name.lower() for d in entry.study.directions] == directions(direction)
                        and _sync(entry, ordered, dists))
            except BaseException:
                # half brought up to date: never asked again (the next ask rebuilds), never left locked
                self.forget(key)
                entry.lock.release()
                raise
            if kept:
                self.synced += 1
                return entry
            entry.lock.release()
        entry = _Cached(rebuild(direction, ordered, dists), [_signature(t) for t in ordered], space_key)
        self.rebuilds += 1
        entry.lock.acquire()
        self._keep(key, entry)
        return entry


def _sync(entry: _Cached, ordered: Sequence[Mapping[str, Any]], dists: Mapping[str, BaseDistribution]) -> bool:
    """Bring ``entry``'s study up to ``ordered`` (numbers 0..n-1) by adding and finishing trials;
    False (the caller rebuilds) when that cannot make it equal to a rebuild."""
    kept = entry.signatures
    if len(ordered) < len(kept) or any(int(t["number"]) != i for i, t in enumerate(ordered)):
        return False
    study = entry.study
    n = len(study.directions)
    for i in sorted(entry.running):
        trial = ordered[i]
        now = _signature(trial)
        if now == kept[i]:
            continue
        # A running trial may move on (more steps reported, then finished), with its params.
        if now[3] != kept[i][3]:
            return False
        target = frozen(trial, dists, n)
        held = study.get_trials(deepcopy=False)[i]
        if any(target.intermediate_values.get(step) != value for step, value in held.intermediate_values.items()):
            return False  # a retried trial reports its steps again, from the start: rebuild
        for step, value in sorted(target.intermediate_values.items()):
            if step not in held.intermediate_values:
                # Optuna's one way to add a step to a trial it holds: its Trial by storage id
                optuna.trial.Trial(study, held._trial_id).report(value, step)
        if target.state != TrialState.RUNNING:
            study.tell(i, target.values if target.state == TrialState.COMPLETE else None, state=target.state)
        kept[i] = now
        if now[0] != "running":
            entry.running.discard(i)
    fresh = ordered[len(kept):]
    if fresh:
        study.add_trials([frozen(t, dists, n) for t in fresh])
        for t in fresh:
            entry.add(_signature(t))
    return True


CACHE = StudyCache()


def next_params(direction: Direction, space: Mapping[str, Mapping[str, Any]], sampler_settings: Mapping[str, Any],
                trials: Sequence[Mapping[str, Any]], key: Hashable | None = None) -> dict[str, Any]:
    """The params of the next trial, ``len(trials)``-th, given every stored trial (numbers 0..n-1).
    With ``key`` (the study's id) the study is kept in :data:`CACHE` between asks."""
    dists = distributions(space)
    number = len(trials)
    chosen = sampler(sampler_settings, number)
    gp = uses_gp(sampler_settings, number)
    if gp:
        trials = pruned_as_complete(trials)
    if key is None:
        study = rebuild(direction, trials, dists, chosen)
        return dict(study.ask(dists).params)
    entry = CACHE.study(key, direction, trials, dists, repr((gp, sorted(space.items()))))
    try:
        # A sampler is made per ask (its seed is the trial's), so its search space, which scans every
        # trial when new (20 % of an ask at 1,000 trials), is the kept study's (private attribute of
        # Optuna's TPESampler: without it, each ask pays the scan again, nothing else changes).
        if hasattr(chosen, "_search_space"):
            if entry.search_space is None:
                entry.search_space = chosen._search_space
            else:
                chosen._search_space = entry.search_space
        entry.study.sampler = chosen
        asked = entry.study.ask(dists)
        # The asked trial stays in the kept study as the running trial ``number``: the row the
        # caller inserts has these params, so the next sync finds it unchanged. A reservation
        # rolled back (no row, or another trial's params under that number) rebuilds instead.
        entry.add(_signature({"state": "running", "params": asked.params}))
        return dict(asked.params)
    finally:
        entry.lock.release()


def median_pruner(settings: Mapping[str, Any]) -> optuna.pruners.MedianPruner:
    return optuna.pruners.MedianPruner(n_startup_trials=int(settings["n_startup_trials"]),
                                       n_warmup_steps=int(settings["n_warmup_steps"]),
                                       interval_steps=int(settings["interval_steps"]),
                                       n_min_trials=int(settings["n_min_trials"]))


def _rung_value(steps: Mapping[int, float], rung_step: int) -> float | None:
    """What a trial reported when it reached ``rung_step``: the value of its first report at that
    step or later (None if it never got there)."""
    reached = [s for s in steps if s >= rung_step]
    return steps[min(reached)] if reached else None


def asha_prunes(direction: str, settings: Mapping[str, Any], others: Sequence[Mapping[str, Any]],
                trial: Mapping[str, Any]) -> bool:
    """Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving, Li et al. 2020) decided
    from the stored intermediate values alone.

    Optuna's keeps each trial's value at each rung in the trial's system attributes, written by the
    pruner as it goes; a study rebuilt from rows has none, but they are what the rows say: a trial's
    value at rung k is what it reported on reaching ``min_resource * reduction_factor ** (rate + k)``.
    So the same rule runs here on the rows: at its newest report a trial is checked at every rung it
    has newly reached (those below its previous report were passed then), against every other
    trial's value at that rung, whatever its state; promoted when in the best ``1 / reduction_factor``
    (the first ``reduction_factor - 1`` at a rung: when the best), else pruned. Tested against
    Optuna's own pruner on the same reports (tests/unit/tune/test_sampling.py)."""
    steps = _steps(trial.get("intermediate"))
    if not steps:
        return False
    order = sorted(steps)
    step, value = order[-1], steps[order[-1]]
    before = order[-2] if len(order) > 1 else -1
    r0, rf = int(settings["min_resource"]), int(settings["reduction_factor"])
    rate, bootstrap = int(settings["min_early_stopping_rate"]), int(settings["bootstrap_count"])
    rung = 0
    while r0 * rf ** (rate + rung) <= before:  # rungs passed at earlier reports
        rung += 1
    others_steps = [_steps(t.get("intermediate")) for t in others]
    while True:
        rung_step = r0 * rf ** (rate + rung)
        if step < rung_step:
            return False
        competing = [v for v in (_rung_value(s, rung_step) for s in others_steps) if v is not None] + [value]
        if len(competing) <= bootstrap:
            return True
        promotable = max(0, len(competing) // rf - 1)
        competing.sort()
        if not (value >= competing[-(promotable + 1)] if direction == "maximize" else value <= competing[promotable]):
            return True
        rung += 1


def should_prune(direction: str, pruner_settings: Mapping[str, Any], space: Mapping[str, Mapping[str, Any]],
                 others: Sequence[Mapping[str, Any]], trial: Mapping[str, Any]) -> bool:
    """Whether ``trial`` (running, with the intermediate values reported so far) is pruned now,
    given the study's ``others`` trials; always False with pruner ``none``."""
    name = pruner_settings.get("name")
    if not trial.get("intermediate") or not isinstance(direction, str):
        return False
    if name == "asha":
        return asha_prunes(direction, pruner_settings, others, trial)
    if name != "median":
        return False
    dists = distributions(space)
    study = rebuild(direction, [t for t in others if t["state"] == "complete"], dists)
    me = frozen({**trial, "state": "running", "value": None}, dists)
    return bool(median_pruner(pruner_settings).prune(study, me))
