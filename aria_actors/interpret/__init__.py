"""aria_interpret: NLP over character text and a DIN recommender."""

from __future__ import annotations

__all__: list[str] = []
