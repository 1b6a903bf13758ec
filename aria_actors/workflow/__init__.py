"""aria_workflow: SOPs: versioned workflows with parallel and conditional steps."""

from __future__ import annotations

__all__: list[str] = []
