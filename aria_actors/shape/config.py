"""Settings of aria_shape (``ARIA_SHAPE_*``), on top of the shared :class:`AriaSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ShapeConfig(BaseSettings):
    """Model and generation knobs. ``model_path`` empty falls back to ``ARIA_MODEL_PATH``, and that
    empty builds the tiny local model."""

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
    max_new_tokens: int = Field(24, ge=1, le=2048, description="Default generation length.")
