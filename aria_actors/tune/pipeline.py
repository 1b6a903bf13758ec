"""Training pipeline optimisation: DIN's training settings (batch size, torch threads, bf16 under
CPU autocast) measured run by run, and the fastest whose validation GAUC stays within a tolerance
of the best proposed. A mixin of :class:`aria_actors.tune.service.TuneService`.

::

    create_pipeline_study(name, target "din", space?, tolerance, sampler?, budget, parallelism)
        -> a study of objective din-pipeline with objectives [samples_per_s max, gauc max
           (tolerance)]: its trials are queue jobs like any study's (archsearch.py's machinery)
    run_trial -> aria_interpret trains din_pipeline_epochs epochs with the trial's settings
        -> {samples_per_s: training samples per second (batches only), gauc: best epoch's validation}
    pipeline_proposal(name) -> among the complete runs whose GAUC is within ``tolerance`` of the
        best run's, the fastest: its settings, against the default settings' run when there is one

Guarantees and caveats
----------------------
- Every run is recorded (the study's trial rows: params, both values, timings): the proposal is
  computed from those records at each read, so it always says which runs it rests on.
- Throughput is wall-clock on a shared machine: other load moves it. Runs of one study run one at
  a time by default (parallelism 1), so they do not compete with each other.
- Data loading is not a setting here: DIN's trainer gathers batches from tensors built once (no
  loader, no workers), so there is nothing to parallelise.
- bf16 runs the Linear layers' matmuls in bfloat16 (Dice and validation stay float32); on CPUs
  without bf16 instructions it is no faster (measured: docs/tune.md).
"""

from __future__ import annotations

import math
from typing import Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.tune.archsearch import MULTI_SAMPLERS
from aria_actors.tune.errors import InvalidStudy, StudyExists, StudyStateConflict
from aria_actors.tune.objectives import Objective
from aria_actors.tune.space import check_count, check_sampler, check_space

TARGETS = {"din": "din-pipeline"}
DEFAULTS = {"din": {"batch_size": 1024, "threads": 1, "precision": "fp32"}}  # DinConfig's: the baseline run
MAX_TOLERANCE = 0.5


def propose(trials: list[dict[str, Any]], tolerance: float, defaults: dict[str, Any]) -> dict[str, Any]:
    """The fastest complete run within ``tolerance`` of the best GAUC, and the defaults' run.
    ``trials``: complete ones with ``values`` [samples_per_s, gauc]."""
    runs = [{"number": t["number"], "params": t["params"], "samples_per_s": t["values"][0],
             "gauc": t["values"][1]} for t in trials]
    if not runs:
        return {"proposal": None, "baseline": None, "speedup": None, "runs": []}
    best_gauc = max(r["gauc"] for r in runs)
    eligible = [r for r in runs if r["gauc"] >= best_gauc - tolerance]
    proposal = max(eligible, key=lambda r: (r["samples_per_s"], r["gauc"], -r["number"]))
    base = [r for r in runs if all(r["params"].get(k, v) == v for k, v in defaults.items())]
    baseline = max(base, key=lambda r: r["samples_per_s"]) if base else None
    speedup = proposal["samples_per_s"] / baseline["samples_per_s"] if baseline else None
    return {"proposal": proposal, "baseline": baseline, "speedup": speedup, "best_gauc": best_gauc,
            "runs": sorted(runs, key=lambda r: -r["samples_per_s"])}


class PipelineOptimization:
    """The ``pipeline-optimization`` feature's RPC methods."""

    config: Any
    objectives: Any

    def _records(self) -> Any: ...
    async def _study_for(self, caller: Principal, name: Any, action: str) -> dict[str, Any]: ...
    async def _summary(self, study: dict[str, Any]) -> dict[str, Any]: ...

    @rpc("tune:study:write", scope="own", feature="pipeline-optimization")
    async def create_pipeline_study(self, caller: Principal, name: str, target: str = "din",
                                    space: dict[str, Any] | None = None, tolerance: float = 0.01,
                                    sampler: dict[str, Any] | str | None = None, budget: int = 8,
                                    parallelism: int = 1) -> dict[str, Any]:
        """A new study of ``target``'s training pipeline (batch size, threads, precision): each
        trial a measured run; ``pipeline_proposal`` then proposes the fastest settings whose
        validation GAUC is within ``tolerance`` of the best run's."""
        from aria_actors.tune.service import _name, _tenant  # the study rules, one place

        name = _name(name)
        if target not in TARGETS:
            raise BadRequest(f"target must be one of {sorted(TARGETS)}", field="target")
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not math.isfinite(tolerance) \
                or not 0 <= tolerance <= MAX_TOLERANCE:
            raise InvalidStudy(f"tolerance is a GAUC difference from 0 to {MAX_TOLERANCE}", field="tolerance")
        found: Objective = self.objectives.get(TARGETS[target])
        clean = check_space(found.space if space is None else space, self.config.max_params, self.config.max_choices)
        found.check_space(clean)
        chosen = check_sampler(sampler)
        if chosen["name"] not in MULTI_SAMPLERS:
            raise InvalidStudy(f"a pipeline study samples with {list(MULTI_SAMPLERS)}", field="sampler.name")
        objectives = [{"name": "samples_per_s", "direction": "maximize"},
                      {"name": "gauc", "direction": "maximize", "tolerance": float(tolerance)}]
        row = {"name": name, "owner": caller.subject, "objective": found.name, "direction": "maximize",
               "space": clean, "sampler": chosen, "pruner": {"name": "none"}, "objectives": objectives,
               "budget": check_count(budget, "budget", self.config.max_trials),
               "parallelism": check_count(parallelism, "parallelism", self.config.max_parallelism)}
        made = await self._records().create_study(_tenant(caller), row)
        if made is None:
            raise StudyExists(f"a study named {name!r} exists already in this tenant", name=name)
        return await self._summary(made) | {"objectives": objectives, "target": target}

    @rpc("tune:study:read", scope="own", feature="pipeline-optimization")
    async def pipeline_proposal(self, caller: Principal, name: str) -> dict[str, Any]:
        """The proposed training settings of a pipeline study: the fastest measured run whose
        validation GAUC is within the study's tolerance of the best, with the default settings'
        run (when measured) and the speed-up over it; every run, fastest first."""
        study = await self._study_for(caller, name, "tune:study:read")
        target = next((t for t, o in TARGETS.items() if o == study["objective"]), None)
        if target is None or not study.get("objectives"):
            raise StudyStateConflict(f"study {study['name']!r} is not a pipeline study (objective "
                                     f"{study['objective']!r})", name=study["name"])
        tolerance = float(study["objectives"][1].get("tolerance", 0.0))
        trials = [t for t in await self._records().all_trials(study["id"])
                  if t["state"] == "complete" and len(t.get("values") or ()) == 2]
        return {"study": study["name"], "status": study["status"], "target": target, "tolerance": tolerance,
                "defaults": DEFAULTS[target], **propose(trials, tolerance, DEFAULTS[target])}
