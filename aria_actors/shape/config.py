"""Settings of aria_shape (``[shape]`` in aria.toml, ``ARIA_SHAPE_*`` in the environment), a section
of :class:`~aria_actors.runtime.settings.AriaSettings`. What a process needs to load one model
version is :class:`aria_actors.shape.source.ModelSource`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class ShapeSettings(SectionSettings):
    """Model and generation knobs. ``model_path`` empty falls back to ``ARIA_MODEL_PATH``, and that
    empty builds the tiny local model."""

    section = "shape"
    model_config = SettingsConfigDict(env_prefix="ARIA_SHAPE_", extra="forbid", frozen=True)

    model_path: str = Field("", description="Directory of a Qwen3 checkpoint (config, weights, tokenizer).")
    cache_dir: Path | None = Field(None, description="Where the tiny model is built; default ARIA_HOME/shape.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the model runs.")
    num_threads: int = Field(1, ge=1, le=256, description="torch CPU threads of this process.")
    seed: int = Field(0, ge=0, description="Seed of the tiny model's weights and its tokenizer corpus.")
    vocab_size: int = Field(512, ge=64, le=65536, description="Tokenizer vocabulary of the tiny model.")
    hidden_size: int = Field(64, ge=8, le=8192, description="Hidden width of the tiny model.")
    num_layers: int = Field(2, ge=1, le=64, description="Decoder layers of the tiny model.")
    num_heads: int = Field(4, ge=1, le=128, description="Attention heads of the tiny model.")
    num_kv_heads: int = Field(2, ge=1, le=128, description="Key/value heads of the tiny model.")
    intermediate_size: int = Field(128, ge=8, le=32768, description="MLP width of the tiny model.")
    pretrain_steps: int = Field(200, ge=0, le=100_000,
                                description="Causal-LM steps on the generated corpus when building the tiny model.")
    arch_trial_max_steps: int = Field(200, ge=1, le=10_000, description="Most training steps one evaluate-only "
                                      "architecture trial (aria_tune's qwen3-arch objective) may ask for.")
    arch_trial_budget_s: float = Field(20.0, gt=0, le=3600, description="Seconds of training one architecture "
                                       "trial may take; it stops after the step that passes them.")
    max_new_tokens: int = Field(24, ge=1, le=2048, description="Default generation length.")
    inference: Literal["auto", "serve", "local"] = Field(
        "auto", description="Where generation runs: 'serve' (a Ray Serve application per model version), "
                            "'local' (in the service's process), 'auto' (serve inside a Ray actor, else local).")
    inference_min_replicas: int = Field(
        0, ge=0, le=64, description="Replicas each served version keeps when idle; 0 scales to zero (nothing "
                                    "starts at boot, the first request after idle waits for a replica).")
    prepare_at_start: bool = Field(
        True, description="Inside Ray, build the tiny model's files and the personality head in a worker of their "
                          "own after the service starts, so that the first generation waits for a replica only.")
    inference_max_replicas: int = Field(1, ge=1, le=64, description="Most replicas of one served version.")
    inference_num_cpus: float = Field(0.5, ge=0, le=64, description="Ray CPUs one replica asks for.")
    inference_max_batch_size: int = Field(16, ge=1, le=1024, description="Requests one decoding batch takes.")
    inference_batch_wait_s: float = Field(0.01, ge=0, le=10,
                                          description="How long a batch waits for more requests before it runs.")
    inference_coalesce_s: float = Field(
        0.005, ge=0, le=1, description="How long the service gathers concurrent completion requests of one "
                                       "version into one Serve request (0: one Serve request per prompt).")
    inference_idle_s: float = Field(300.0, ge=1, le=86_400,
                                    description="Idle time after which a version's replicas scale to zero.")
    load_retry_s: float = Field(30.0, ge=0, le=86_400,
                                description="How long a model version whose load failed answers with that failure "
                                            "(503, Retry-After) before the next request tries to load it again.")
    ab_flush_s: float = Field(1.0, gt=0, le=3600,
                              description="Interval of storing A/B request/token counters (what a crash may lose).")
    train_poll_s: float = Field(2.0, gt=0, le=3600,
                                description="Interval of checking queued training jobs, to register finished ones.")


ShapeConfig = ShapeSettings  # the former name

