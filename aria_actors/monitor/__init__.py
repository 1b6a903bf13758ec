"""aria_monitor: Prometheus metrics and system observability."""

from __future__ import annotations

__all__: list[str] = []
