"""Batch sentence embeddings of character text: the shared all-MiniLM-L6-v2 embedder of aria_shape
(:mod:`aria_actors.shape.characters.embedding`), fed in length order.

::

    texts --order by length (longest first)--> SentenceEmbedder.encode (batches of its batch_size)
          --put back in the caller's order--> (n, 384) float32 unit vectors

Guarantees and caveats
----------------------
- Same vectors as ``SentenceEmbedder.encode`` of the texts in their own order (to float error: a
  row's padding differs with its batch neighbours, which the attention mask hides), hence as
  sentence-transformers' ``encode``; unit length, 384 dimensions.
- Why the ordering: a batch is padded to its longest text, so mixed lengths in one batch waste
  most of the work on padding; sentence-transformers sorts by length for the same reason, so both
  sides do the same work (bench/interpret_text.py measures the ratio).
- Thread-safe and import-light: the embedder loads torch on its first call and serialises calls.
- Validation is the caller's (:mod:`.validate`); this module trusts its input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aria_actors.shape.characters.embedding import DIMENSION, SentenceEmbedder, default_embedder

__all__ = ["DIMENSION", "cosine", "embed"]


def embed(texts: Sequence[str], embedder: SentenceEmbedder | None = None) -> np.ndarray:
    """``(len(texts), 384)`` float32 unit vectors, row i for ``texts[i]``."""
    embedder = embedder or default_embedder()
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    # sentence-transformers orders by character count (its _text_length), longest first: same here,
    # so both sides pad alike; stable, so equal lengths keep their order.
    order = np.argsort([-len(t) for t in texts], kind="stable")
    vectors = embedder.encode([texts[i] for i in order])
    out = np.empty_like(vectors)
    out[order] = vectors
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors (0 when either is zero)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 1e-12 else 0.0
