"""aria_interface: Web UI, REST, WebSocket, WebRTC signalling."""

from __future__ import annotations

__all__: list[str] = []
