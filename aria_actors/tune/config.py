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
    # The din objectives (objectives.py): epochs one trial trains in aria_interpret (each epoch one
    # call there, seconds on its din_trial_rows subset; the whole trial within trial_timeout_s).
    din_epochs: int = Field(3, ge=1, le=100, description="Epochs a trial of the din objective trains (its "
                            "budget; the median pruner may stop it after any).")
    din_arch_epochs: int = Field(2, ge=1, le=100, description="Epochs a trial of an architecture search "
                                 "(din-arch) trains before its metrics are read.")
    din_pipeline_epochs: int = Field(2, ge=1, le=100, description="Epochs a trial of a pipeline study "
                                     "(din-pipeline) trains, its throughput measured over them.")
    qwen3_arch_steps: int = Field(30, ge=1, le=10_000, description="Causal-LM steps a trial of a qwen3 "
                                  "architecture search trains in aria_shape before its held-out loss is read.")
    # Resource proposals (resources.py): a reservation follows a percentile of the recorded use.
    resources_percentile: float = Field(95.0, ge=50, le=100, description="Percentile of the window's CPU and "
                                        "memory samples a proposed reservation follows.")
    resources_cpu_headroom: float = Field(0.25, ge=0, le=10, description="Share added to the CPU percentile.")
    resources_memory_headroom: float = Field(0.2, ge=0, le=10, description="Share added to the memory "
                                             "percentile (never below the window's peak).")
    resources_cpu_step: float = Field(0.05, ge=0.0001, le=16, description="CPU reservations are rounded up to "
                                      "this (Ray counts fractional CPUs in 0.0001 steps).")
    resources_cpu_floor: float = Field(0.05, ge=0, le=64, description="Smallest CPU reservation proposed.")
    resources_memory_step_bytes: int = Field(64 * 2**20, ge=2**20, le=2**34, description="Memory "
                                             "reservations are rounded up to this.")
    resources_memory_floor_bytes: int = Field(128 * 2**20, ge=0, le=2**40, description="Smallest memory "
                                              "reservation proposed.")
    resources_samples: int = Field(240, ge=10, le=4000, description="Most samples read per series in a window "
                                   "(never closer than aria_monitor's collection interval).")
    resources_min_samples: int = Field(5, ge=2, le=1000, description="Fewer CPU samples than this: no proposal.")

    # Cache proposals (cacheopt.py): from each cache's LRU hit-ratio curve.
    cache_tolerance_pp: float = Field(1.0, ge=0, le=50, description="A proposed cache size is the smallest "
                                      "whose hit ratio is within this many percentage points of the best at 8x.")
    cache_knee_gain_pp: float = Field(0.5, ge=0, le=50, description="Or the knee, when smaller: the size past "
                                      "which doubling gains fewer percentage points of hit ratio than this.")
    cache_door_timeout_s: float = Field(5.0, gt=0, le=60, description="How long one service's caches door may "
                                        "take to answer.")

    # The auto-tuner (autotune.py): proposals always; changes applied by an administrator or editor
    # (`aria tune autotune apply`), or by aria_tune itself when autotune_auto is on.
    autotune_auto: bool = Field(False, description="Apply changes automatically (within the limits below) "
                                "to the targets autotune_targets names; off: proposals wait for an apply.")
    autotune_interval_s: float = Field(60.0, gt=0, le=86400, description="How often the automatic mode looks "
                                       "for a knob to turn.")
    autotune_knobs: list[str] = Field(default_factory=lambda: ["queue.concurrency"], description="Knobs that "
                                      "may be changed at all (by an operator's apply or automatically).")
    autotune_limits: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per knob {min, max, max_step} over the knob's built-in limits "
        "(queue.concurrency: 1..64, step 8).")
    autotune_targets: list[str] = Field(default_factory=lambda: ["*"], description="Targets (shell patterns, "
                                        "e.g. queue names) the automatic mode may change.")
    autotune_window_s: float = Field(30.0, ge=0.01, le=3600, description="Length of each measurement window, "
                                     "before and after a change.")
    autotune_settle_s: float = Field(5.0, ge=0, le=600, description="Wait after a change before measuring.")
    autotune_min_improvement: float = Field(0.1, ge=0, le=10, description="A change is kept only when throughput "
                                            "rises by more than this fraction.")
    autotune_wait_slack: float = Field(0.1, ge=0, le=10, description="...and the oldest wait's growth (s per s) "
                                       "is at most this much worse than before.")
    autotune_cooldown_s: float = Field(600.0, ge=0, le=86400 * 7, description="The automatic mode leaves a target "
                                       "alone this long after a change of it was decided.")

    @field_validator("objectives")
    @classmethod
    def _objective_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name, target in v.items():
            if not re.fullmatch(OBJECTIVE_NAME, name):
                raise ValueError(f"objective name {name!r} must match {OBJECTIVE_NAME}")
            if not target.startswith("python:") or target.count(":") != 2:
                raise ValueError(f"objective {name!r} must be 'python:<module>:<attribute>', got {target!r}")
        return v

    @field_validator("autotune_limits")
    @classmethod
    def _autotune_limits(cls, v: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for knob, limits in v.items():
            if set(limits) - {"min", "max", "max_step"}:
                raise ValueError(f"autotune_limits.{knob} takes min, max and max_step, got {sorted(limits)}")
            low, high = limits.get("min", 0), limits.get("max", 2**31 - 1)
            if not 0 <= low <= high or limits.get("max_step", 1) < 1:
                raise ValueError(f"autotune_limits.{knob}: 0 <= min <= max and max_step >= 1")
        return v
