"""aria_engine: HTN planning (GTPyhop model), GOAP, behavior trees, parallel planners."""

from __future__ import annotations

__all__: list[str] = []
