"""aria_debugger: Runtime inspection and tracing."""

from __future__ import annotations

__all__: list[str] = []
