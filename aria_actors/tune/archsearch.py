"""Architecture search: multi-objective studies (a quality metric against costs) whose answer is the
Pareto front of their trials. A mixin of :class:`aria_actors.tune.service.TuneService`.

::

    create_arch_search(name, target din|qwen3, space?, objectives?, sampler?, budget, parallelism)
        -> an aria_tune.studies row like any study's, with ``objectives`` [{name, direction}, ...]
           (default: the target objective's metrics: gauc max, parameters min, latency_ms min)
    optimize / stop / delete / trials: the study routes (service.py), unchanged
    run_trial -> the objective returns {metric: value} -> the study's metrics in its order, stored
        as the trial's ``vals`` (``value`` = the first, so counts and "best" still read)
    next params: Optuna's TPE over a study rebuilt with ``directions`` (multi-objective TPE)
    pareto_front(name) -> the complete trials no other complete trial dominates

Guarantees and caveats
----------------------
- The hyperparameter path's guarantees hold unchanged: trials are queue jobs, reserved under the
  study's row lock, recorded once, resumable after a crash (the rows are the record; the sampler
  is rebuilt from their ``vals``).
- Pruning is off for these studies (Optuna's pruners are single-objective): a trial runs its
  whole epoch budget.
- The front is exact (pairwise dominance over the complete trials, :func:`pareto_front`); ties
  (equal values) do not dominate each other, so both stay on the front.
- Targets are named, never code: ``din`` (aria_interpret's DIN: embedding sizes, attention and
  MLP layers and widths; default objectives gauc max, parameters and latency_ms min) and ``qwen3``
  (aria_shape's tiny Qwen3: layers, hidden size, heads; loss (held-out) min, parameters and
  latency_ms min), each trial an evaluate-only call of that service as the trial's caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.tune.errors import InvalidStudy, StudyExists, StudyStateConflict
from aria_actors.tune.objectives import Context, Objective
from aria_actors.tune.space import check_count, check_sampler, check_space
from aria_actors.tune.targets import CLIENTS, client_class

TARGETS = {"din": "din-arch", "qwen3": "qwen3-arch"}  # a target -> the objective that evaluates its architectures
MULTI_SAMPLERS = ("tpe", "random")  # Optuna's multi-objective-capable ones that rebuild from rows


def dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[float]) -> bool:
    """Whether ``a`` is at least as good as ``b`` in every value and better in one (``signs``:
    +1 for a value minimised, -1 for one maximised)."""
    better = False
    for x, y, s in zip(a, b, signs, strict=True):
        if x * s > y * s:
            return False
        better = better or x * s < y * s
    return better


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the points no other point dominates, in input order."""
    if not points:
        return []
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    v = np.asarray(points, dtype=np.float64) * signs  # everything minimised
    keep = []
    for i in range(len(v)):
        # i is dominated when some point is <= in every value and < in one
        le = (v <= v[i]).all(axis=1)
        lt = (v < v[i]).any(axis=1)
        if not (le & lt).any():
            keep.append(i)
    return keep


def directions_of(study: Mapping[str, Any]) -> str | list[str]:
    """The study's direction, or its list of directions when it has several objectives."""
    objectives = study.get("objectives")
    return [o["direction"] for o in objectives] if objectives else study["direction"]


def check_objectives(objective: Objective, wanted: Any) -> list[dict[str, str]]:
    """The study's ``[{name, direction}]`` from ``wanted`` (metric names, or {name, direction}
    objects; default: all of the objective's metrics); 400 naming ``objectives[i]``."""
    known = dict(objective.metrics or ())
    if wanted is None:
        wanted = [m for m, _ in objective.metrics or ()]
    if not isinstance(wanted, list) or len(wanted) < 2:
        raise InvalidStudy(f"objectives must list 2 or more of {sorted(known)} (a front needs two)",
                           field="objectives")
    out: list[dict[str, str]] = []
    for i, item in enumerate(wanted):
        name, direction = (item, None) if isinstance(item, str) else (
            item.get("name"), item.get("direction")) if isinstance(item, dict) else (None, None)
        if isinstance(item, dict) and set(item) - {"name", "direction"}:
            raise InvalidStudy("an objective is {name, direction}", field=f"objectives[{i}]")
        if name not in known:
            raise InvalidStudy(f"{objective.name} reports {sorted(known)}; not {name!r}", field=f"objectives[{i}]")
        if any(o["name"] == name for o in out):
            raise InvalidStudy(f"{name!r} is named twice", field=f"objectives[{i}]")
        if direction is not None and direction not in ("minimize", "maximize"):
            raise InvalidStudy("direction is minimize or maximize", field=f"objectives[{i}].direction")
        out.append({"name": name, "direction": direction or known[name]})
    return out


def metric_values(study: Mapping[str, Any], objective: Objective, result: Any) -> tuple[str, Any, str | None]:
    """``(state, value or values, error)`` of a mapping-valued objective's ``result``: the study's
    metrics in order (a list when it has several), failed when one is missing or not finite."""
    if not isinstance(result, Mapping):
        return "failed", None, f"objective {objective.name!r} returned {type(result).__name__}, not its metrics"
    names = [o["name"] for o in study.get("objectives") or ()] or [objective.metrics[0][0]]  # type: ignore[index]
    values = []
    for name in names:
        value = result.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            return "failed", None, f"metric {name!r} is {str(value)[:100]}, not a finite number"
        values.append(float(value))
    return "complete", values if study.get("objectives") else values[0], None


class ArchitectureSearch:
    """The ``architecture-search`` feature's RPC methods, and what a trial of an objective that
    calls services (``din``, ``din-arch``) or reports several metrics needs of the service."""

    config: Any
    deps: Any
    objectives: Any

    def _records(self) -> Any: ...
    async def _study_for(self, caller: Principal, name: Any, action: str) -> dict[str, Any]: ...
    async def _summary(self, study: dict[str, Any]) -> dict[str, Any]: ...

    def _objective_context(self, caller: Principal | None) -> Context | None:
        """What a bound objective's trial may use: its caller and the clients of its dependencies."""
        if caller is None:
            return None
        clients = {}
        for service in CLIENTS:
            if self.deps.get(service) is not None:
                clients[service] = self.deps.of(client_class(service))
        return Context(caller, asyncio.get_running_loop(), float(self.config.trial_timeout_s), clients, self.config)

    @rpc("tune:study:write", scope="own", feature="architecture-search")
    async def create_arch_search(self, caller: Principal, name: str, target: str = "din",
                                 space: dict[str, Any] | None = None, objectives: list[Any] | None = None,
                                 sampler: dict[str, Any] | str | None = None, budget: int = 20,
                                 parallelism: int = 1) -> dict[str, Any]:
        """A new architecture search of ``target`` (``din``): a study over its architecture whose
        objectives (default: validation GAUC up, parameters and scoring latency down) make a
        Pareto front; created ``created``, run with the study's ``optimize``."""
        from aria_actors.tune.service import _name, _tenant  # the study rules, one place

        name = _name(name)
        if target not in TARGETS:
            raise BadRequest(f"target must be one of {sorted(TARGETS)}", field="target")
        found: Objective = self.objectives.get(TARGETS[target])
        clean = check_space(found.space if space is None else space, self.config.max_params, self.config.max_choices)
        found.check_space(clean)
        chosen = check_sampler(sampler)
        if chosen["name"] not in MULTI_SAMPLERS:
            raise InvalidStudy(f"an architecture search samples with {list(MULTI_SAMPLERS)} (multi-objective)",
                               field="sampler.name")
        metrics = check_objectives(found, objectives)
        row = {"name": name, "owner": caller.subject, "objective": found.name, "direction": metrics[0]["direction"],
               "space": clean, "sampler": chosen, "pruner": {"name": "none"}, "objectives": metrics,
               "budget": check_count(budget, "budget", self.config.max_trials),
               "parallelism": check_count(parallelism, "parallelism", self.config.max_parallelism)}
        made = await self._records().create_study(_tenant(caller), row)
        if made is None:
            raise StudyExists(f"a study named {name!r} exists already in this tenant", name=name)
        return await self._summary(made) | {"objectives": metrics, "target": target}

    @rpc("tune:study:read", scope="own", feature="architecture-search")
    async def pareto_front(self, caller: Principal, name: str) -> dict[str, Any]:
        """The complete trials of a multi-objective study that no other complete trial dominates,
        each with its params and values by metric."""
        study = await self._study_for(caller, name, "tune:study:read")
        objectives = study.get("objectives")
        if not objectives:
            raise StudyStateConflict(f"study {study['name']!r} has one objective: its best trial is its answer "
                                     "(GET /v1/tune/studies/{name}), it has no front", name=study["name"])
        trials = [t for t in await self._records().all_trials(study["id"])
                  if t["state"] == "complete" and len(t.get("values") or ()) == len(objectives)]
        names = [o["name"] for o in objectives]
        keep = await asyncio.to_thread(pareto_front, [t["values"] for t in trials],
                                       [o["direction"] for o in objectives])
        front = [{"number": trials[i]["number"], "params": trials[i]["params"],
                  "values": dict(zip(names, trials[i]["values"], strict=True))} for i in keep]
        return {"study": study["name"], "status": study["status"], "objectives": objectives,
                "complete": len(trials), "front": front}

