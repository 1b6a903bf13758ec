"""aria_queue: Durable jobs with Oban's semantics on Postgres."""

from __future__ import annotations

__all__: list[str] = []
