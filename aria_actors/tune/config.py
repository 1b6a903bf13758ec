"""Settings of aria_tune: ``[tune]`` in aria.toml, ``ARIA_TUNE_*`` in the environment."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings

OBJECTIVE_NAME = r"^[a-z][a-z0-9_-]{0,63}$"


class TuneSettings(SectionSettings):
    """Hyperparameter studies: their bounds, the trial jobs' limits, and the objectives offered."""

    section = "tune"
    model_config = SettingsConfigDict(env_prefix="ARIA_TUNE_", extra="forbid", frozen=True)

    objectives: dict[str, str] = Field(
        default_factory=dict,
        description="More objectives studies may name, beside the built-in ones: name -> "
                    "'python:<module>:<attribute>' (an Objective or a function of the params). Set by an "
                    "operator; a request only ever names one.")
    max_params: int = Field(32, ge=1, le=256, description="Most parameters one search space holds.")
    max_choices: int = Field(64, ge=2, le=1024, description="Most choices one categorical parameter holds.")
    max_trials: int = Field(10_000, ge=1, le=1_000_000, description="Largest trial budget of one study.")
    max_parallelism: int = Field(32, ge=1, le=1024, description="Most trials of one study running at once.")
    trial_timeout_s: float = Field(
        25.0, gt=0, le=3600, description="A trial's objective running longer fails the trial. Below the "
        "transport's 30 s call timeout of a service job, so the job never retries a trial still running.")
    trial_attempts: int = Field(3, ge=1, le=20, description="Attempts of a trial's job (a crash of this "
                                                            "service mid-trial re-runs the trial).")
    sweep_interval_s: float = Field(
        5.0, gt=0, le=3600, description="How often studies are checked: trials whose job died marked failed, "
        "trials never enqueued enqueued again, running studies topped up.")
    unqueued_grace_s: float = Field(
        15.0, gt=0, le=3600, description="A trial reserved this long without a job is enqueued again.")

    @field_validator("objectives")
    @classmethod
    def _objective_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name, target in v.items():
            if not re.fullmatch(OBJECTIVE_NAME, name):
                raise ValueError(f"objective name {name!r} must match {OBJECTIVE_NAME}")
            if not target.startswith("python:") or target.count(":") != 2:
                raise ValueError(f"objective {name!r} must be 'python:<module>:<attribute>', got {target!r}")
        return v

