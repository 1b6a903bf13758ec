"""aria_tune: Performance and hyperparameter tuning."""

from __future__ import annotations

__all__: list[str] = []
