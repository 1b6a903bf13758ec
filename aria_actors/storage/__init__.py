"""aria_storage: Content-addressed chunk store in the desync/casync format."""

from __future__ import annotations

__all__: list[str] = []
