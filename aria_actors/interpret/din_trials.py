"""Evaluate-only DIN trials as RPC methods: what aria_tune's ``din`` objectives call, an epoch at a
time, so its pruner can stop a trial between epochs. A mixin of
:class:`aria_actors.interpret.service.InterpretService`.

::

    start_din_trial(params, epochs) -> check (400 naming params.<name>) -> a trial id, held here
        (the model and its optimizer; MovieLens-100k's samples built once per process)
    din_trial_epoch(trial)  -> one epoch on din_trial_rows training rows -> valid {auc, gauc, logloss}
    end_din_trial(trial)    -> best-valid metrics, parameter count, scoring latency; the trial dropped

Guarantees and caveats
----------------------
- Nothing is stored: no model version, no artifact, no row; a trial lives in this process's
  memory and is gone after ``end_din_trial``, after ``din_trial_idle_s`` without a call, or with
  the process (its next call is then a 404 and the caller's trial fails).
- Never the test split (din/trial.py): the metric is the validation split's.
- Bounded: parameters by TRIAL_LIMITS, epochs by ``din_trial_max_epochs``, the data by
  ``din_trial_rows``, trials held at once by ``din_trial_sessions`` (one more is a 409); one call
  runs one epoch, seconds on the default subset. Training runs in a worker thread of this
  process, never in the caller's (aria_tune does not load torch).
- A trial is its starter's: another caller (another subject or tenant) gets a 404 for its id.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import BadRequest, Conflict, NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

TRIAL_ID = r"^[0-9a-f]{32}$"


def refused(exc: Any) -> BadRequest:
    """A trial's hyperparameters refused (a din.trial.BadParam): 400 naming ``params.<name>``, with
    the bounds a trial takes."""
    # heavy: numpy and the trainer's module, loaded with the first trial
    from aria_actors.interpret.din.trial import TRIAL_LIMITS

    return BadRequest(exc.message, field=exc.field, limits={k: [lo, hi] for k, (_, lo, hi) in TRIAL_LIMITS.items()})


@dataclass
class _Held:
    owner: tuple[str, str]  # (subject, tenant)
    trial: Any  # din.trial.DinTrial
    touched: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _trial_id(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise BadRequest("a trial id is 32 lowercase hex digits (what start_din_trial returned)", field="trial")
    return value


def _owner(caller: Principal) -> tuple[str, str]:
    return caller.subject, caller.tenant or ""


class DinTrialsMixin:
    config: Any

    def _trials_held(self) -> dict[str, _Held]:
        held = getattr(self, "_din_trials", None)
        if held is None:
            held = self._din_trials = {}  # type: ignore[attr-defined]
            self._din_samples: Any = None  # MovieLens-100k's samples, built on the first trial
            self._din_samples_lock = asyncio.Lock()
        return held

    def _expire_trials(self) -> None:
        held = self._trials_held()
        idle = time.monotonic() - self.config.din_trial_idle_s
        for key in [k for k, h in held.items() if h.touched < idle and not h.lock.locked()]:
            del held[key]

    async def _full_samples(self) -> tuple[Any, int]:
        self._trials_held()
        async with self._din_samples_lock:
            if self._din_samples is None:
                self._din_samples = await asyncio.to_thread(movielens_samples)
        return self._din_samples

    def _held(self, caller: Principal, trial: Any) -> _Held:
        trial = _trial_id(trial)
        self._expire_trials()
        found = self._trials_held().get(trial)
        if found is None or found.owner != _owner(caller):
            raise NotFound(f"no evaluate-only DIN trial {trial!r} (ended, idle for more than "
                           f"{self.config.din_trial_idle_s:g} s, or lost with a restart)", field="trial", trial=trial)
        found.touched = time.monotonic()
        return found

    @rpc("interpret:trial:run", feature="din")
    async def start_din_trial(self, caller: Principal, params: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
        """Start an evaluate-only DIN trial with ``params`` (flat hyperparameters) for at most
        ``epochs`` epochs on a subset of MovieLens-100k's training split; nothing is stored."""
        # heavy: numpy/pydantic only until the Trainer loads torch
        from aria_actors.interpret.din.trial import BadParam, DinTrial, check_params, trial_samples

        limit = self.config.din_trial_max_epochs
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= limit:
            raise BadRequest(f"epochs must be an integer from 1 to {limit} (din_trial_max_epochs)", field="epochs")
        try:
            config = check_params(params)
        except BadParam as exc:
            raise refused(exc) from None
        self._expire_trials()
        held = self._trials_held()
        if len(held) >= self.config.din_trial_sessions:
            raise Conflict(f"{len(held)} evaluate-only DIN trials are held, the most din_trial_sessions allows; "
                           "end one (or wait for an idle one to expire) and retry", held=len(held))
        full, n_categories = await self._full_samples()
        samples = trial_samples(full, self.config.din_trial_rows, config.seed)
        trial = await asyncio.to_thread(DinTrial.start, samples, n_categories, config, epochs)
        if len(held) >= self.config.din_trial_sessions:  # another start won the race meanwhile
            raise Conflict("evaluate-only DIN trials are all taken; retry", held=len(held))
        key = uuid.uuid4().hex
        held[key] = _Held(_owner(caller), trial)
        return {"trial": key, "epochs": epochs, "parameters": trial.trainer.parameters,
                "train_rows": len(samples.train), "valid_rows": len(samples.valid),
                "config": config.model_dump(mode="json")}

    @rpc("interpret:trial:run", feature="din")
    async def din_trial_epoch(self, caller: Principal, trial: str) -> dict[str, Any]:
        """Run one more epoch of an evaluate-only trial: its validation metrics (never the test
        split's), and whether it has run its budget."""
        from aria_actors.interpret.din.trial import BadParam  # heavy: torch, loaded with the first trial

        held = self._held(caller, trial)
        async with held.lock:
            try:
                report = await asyncio.to_thread(held.trial.epoch)
            except BadParam as exc:
                raise Conflict(exc.message, field=exc.field, epochs=held.trial.epochs) from None
            held.touched = time.monotonic()
        return {"trial": trial, **report}

    @rpc("interpret:trial:run", feature="din")
    async def end_din_trial(self, caller: Principal, trial: str) -> dict[str, Any]:
        """End an evaluate-only trial: the validation metrics of its best epoch, its parameter
        count and the median latency of scoring one request; the trial is dropped."""
        held = self._held(caller, trial)
        async with held.lock:
            self._trials_held().pop(trial, None)
            if held.trial.trainer.epochs_run == 0:
                return {"trial": trial, "valid": None, "epochs": 0, "parameters": held.trial.trainer.parameters}
            return {"trial": trial, **await asyncio.to_thread(held.trial.result)}


def movielens_samples() -> tuple[Any, int]:
    """MovieLens-100k's samples with DinConfig's sampling defaults, and its category count."""
    # heavy: torch and the MovieLens files, loaded with the first trial
    from aria_actors.interpret.din.data import build_samples, load_movielens
    from aria_actors.interpret.din.train import DinConfig

    log = load_movielens()
    d = DinConfig()
    return build_samples(log, d.max_history, d.negatives, d.eval_negatives, d.seed,
                         d.min_user_interactions), len(log.cat_vocab)
