"""Settings of aria_interpret: ``[interpret]`` in aria.toml, ``ARIA_INTERPRET_*`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class InterpretSettings(SectionSettings):
    """Text models, the DIN recommender's serving and training, and the analytics' bounds."""

    section = "interpret"
    model_config = SettingsConfigDict(env_prefix="ARIA_INTERPRET_", extra="forbid", frozen=True)

    cache_dir: Path | None = Field(None, description="Where fetched model versions are cached; default "
                                                     "ARIA_HOME/interpret.")
    num_threads: int = Field(1, ge=1, le=256, description="torch CPU threads of the service and its replicas.")
    serving: Literal["auto", "serve", "local"] = Field(
        "auto", description="Where recommendation scoring runs: 'serve' (a Ray Serve application per model "
                            "version), 'local' (in the service's process), 'auto' (serve inside a Ray actor, "
                            "else local).")
    serve_min_replicas: int = Field(1, ge=0, le=64, description="Replicas each served model version keeps.")
    serve_max_replicas: int = Field(2, ge=1, le=64, description="Most replicas of one served model version.")
    serve_num_cpus: float = Field(0.0, ge=0, le=64, description="Ray CPUs one scoring replica asks for.")
    serve_max_batch_size: int = Field(32, ge=1, le=1024, description="Scoring requests one forward pass takes.")
    serve_batch_wait_s: float = Field(0.002, ge=0, le=1,
                                      description="How long a scoring batch waits for more requests.")
    max_candidates: int = Field(1000, ge=1, le=100_000, description="Most candidates one scoring call takes.")
    max_events: int = Field(10_000, ge=1, le=1_000_000, description="Most events one record call takes.")
    max_analysis_events: int = Field(
        200_000, ge=100, le=10_000_000,
        description="Most stored events one analysis reads (the newest ones), bounding its time and memory.")
    train_poll_s: float = Field(2.0, gt=0, le=3600,
                                description="Interval of checking queued training jobs, to register finished ones.")
    ab_flush_s: float = Field(1.0, gt=0, le=3600,
                              description="Interval of storing A/B request counters (what a crash may lose).")
    history_length: int = Field(50, ge=1, le=1000,
                                description="Most recent interactions of a user the scorer attends over.")
    din_trial_rows: int = Field(
        4000, ge=100, le=200_000,
        description="Training rows (one positive and its negatives each) an evaluate-only DIN trial trains on, "
                    "drawn from MovieLens-100k's training split (98,114 rows): its cost against fidelity.")
    din_trial_max_epochs: int = Field(10, ge=1, le=100, description="Most epochs one evaluate-only DIN trial runs.")
    din_trial_sessions: int = Field(2, ge=1, le=64,
                                    description="Evaluate-only DIN trials held at once (each holds a model).")
    din_trial_idle_s: float = Field(120.0, gt=0, le=86_400,
                                    description="An evaluate-only DIN trial idle this long is dropped.")


InterpretConfig = InterpretSettings  # the name the other services kept from before the settings tree
