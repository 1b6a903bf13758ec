"""Character-text understanding of aria_interpret: validation, embeddings, entities and traits,
sentiment, traits-vs-description consistency, an exact vector index, and the ``TextAnalyzer``
facade. Import-light: models load on first use."""

from __future__ import annotations

__all__ = ["TextAnalyzer", "VectorIndex"]


def __getattr__(name: str) -> object:
    # lazy: the service imports this package at start; spaCy and torch wait for the first call
    if name == "TextAnalyzer":
        # heavy: see above
        from aria_actors.interpret.text.analyzer import TextAnalyzer

        return TextAnalyzer
    if name == "VectorIndex":
        # heavy: see above
        from aria_actors.interpret.text.index import VectorIndex

        return VectorIndex
    raise AttributeError(name)
