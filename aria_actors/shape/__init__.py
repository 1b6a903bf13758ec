"""aria_shape: Character generation with Qwen3-family models and GRPO training."""

from __future__ import annotations

__all__: list[str] = []
