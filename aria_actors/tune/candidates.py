"""A study's winner trained into a model version of its service: the step between a search and an
A/B test (``model-ab-testing``).

::

    train_candidate(study, version, trial?) -> the study's best complete trial (or the named one)
        -> its params -> <target>.start_training(version, dataset, config, params=...) as the caller
           (an aria_queue job of the target; its registered version is the candidate)
        -> audited (study, trial, version, job) -> start_ab_test(candidate=version, study=study)

Guarantees and caveats
----------------------
- The target trains as the caller: training a version needs the target's own right
  (``interpret:model:train@any``), asked by the target; a study owner without it gets its 403.
- Audited before the target is asked (fail closed), a refusal audited again; ``config`` may set
  training settings (epochs, patience, ...) but none a trial's params make, so the version is the
  trial it is recorded as. The default dataset is the tenant-less interactions (what the served
  model scores), MovieLens-100k on request.
- Only objectives whose service trains versions from a trial's params have a trainer
  (:data:`TRAINERS`: the DIN objectives, trained by aria_interpret); the others are a 409.
- The trial a search ran was evaluated on a subset for a few epochs (docs/tune.md, fidelity): the
  candidate trains with the same hyperparameters on the whole split, with ``config`` (epochs,
  patience, ...) over the target's defaults, so its quality is the A/B test's to judge.
- A multi-objective study has no single best: name one of its trials (``pareto_front`` lists the
  ones worth it).
"""

from __future__ import annotations

import contextlib
from typing import Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.tune.errors import StudyStateConflict

# objective -> the service that trains a model version from one of its trials' params
TRAINERS = {"din": "aria_interpret", "din-arch": "aria_interpret", "din-pipeline": "aria_interpret"}
DATASETS = ("interactions", "movielens-100k")
# The DIN settings a trial's params make (aria_interpret's din/trial.py params_config): ``config``
# may not set them, or the version would not be the trial it is recorded as.
TRIAL_SETTINGS = frozenset({"lr", "reg", "dropout", "batch_size", "item_dim", "category_dim", "precision",
                            "attention", "mlp", "threads"})


class Candidates:
    """Mixed into :class:`~aria_actors.tune.service.TuneService`."""

    def _records(self) -> Any: ...
    def _ab_target(self, target: str) -> Any: ...
    async def _study_for(self, caller: Principal, name: Any, action: str) -> dict[str, Any]: ...
    async def _ab_record_event(self, caller: Principal, op: str, target: str, outcome: str = "ok") -> None: ...

    async def _winner(self, study: dict[str, Any], trial: Any) -> dict[str, Any]:
        store = self._records()
        if trial is None:
            if study.get("objectives"):
                raise BadRequest("a multi-objective study has no single best trial: name one (its Pareto front "
                                 "lists the ones worth training)", field="trial")
            row = await store.best(study["id"], study["direction"])
            if row is None:
                raise StudyStateConflict(f"study {study['name']!r} has no complete trial yet", status=study["status"])
            return row
        if isinstance(trial, bool) or not isinstance(trial, int) or not 0 <= trial < 2**31:
            raise BadRequest("trial must be a trial number (an integer from 0)", field="trial")
        row = await store.trial(study["id"], trial)
        if row is None or row["state"] != "complete":
            raise StudyStateConflict(f"trial {trial} of study {study['name']!r} is not a complete trial",
                                     field="trial", state=None if row is None else row["state"])
        return row

    @rpc("tune:study:write", scope="own", feature="model-ab-testing")
    async def train_candidate(self, caller: Principal, name: str, version: str, trial: int | None = None,
                              dataset: str = "interactions", config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Train study ``name``'s best complete trial (or ``trial``) into model ``version`` of the
        objective's service, as the caller (its training job); A/B-test it with
        ``start_ab_test(candidate=version, study=name)`` once the job has registered it."""
        study = await self._study_for(caller, name, "tune:study:write")
        target = TRAINERS.get(study["objective"])
        if target is None:
            raise StudyStateConflict(f"objective {study['objective']!r} has no service that trains a model version "
                                     f"from a trial; those that do: {sorted(TRAINERS)}", objective=study["objective"])
        if dataset not in DATASETS:
            raise BadRequest(f"dataset must be one of {list(DATASETS)}", field="dataset")
        if config is not None and not isinstance(config, dict):
            raise BadRequest("config must be an object of the target's training settings", field="config")
        overlap = sorted(set(config or {}) & TRIAL_SETTINGS)
        if overlap:
            raise BadRequest(f"config may not set {overlap[0]!r}: the trial's params do (name another trial, or "
                             "train it yourself)", field=f"config.{overlap[0]}")
        winner = await self._winner(study, trial)
        what = f"{study['name']}#{winner['number']}->{version} on {dataset}" + (f" with {config}" if config else "")
        # Audited before anything is asked of the target (fail closed, as A/B decisions are).
        await self._ab_record_event(caller, "tune.study.candidate", what)
        try:
            job = await self._ab_target(target).start_training(caller, version, dataset, config, False,
                                                               params=winner["params"])
        except Exception:
            with contextlib.suppress(Exception):  # the refusal itself goes back to the caller
                await self._ab_record_event(caller, "tune.study.candidate", what, outcome="refused")
            raise
        return {"study": study["name"], "trial": winner["number"], "value": winner["value"],
                "params": winner["params"], "target": target, "version": version, "dataset": dataset, "job": job}
