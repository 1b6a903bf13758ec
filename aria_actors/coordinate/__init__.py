"""aria_coordinate: HTTP gateway, discovery, circuit breakers."""

from __future__ import annotations

__all__: list[str] = []
