"""Exact cosine top-k over stored vectors: a numpy matrix of unit rows and their ids.

::

    add(ids, vectors) --normalise, upsert--> rows [0, n) of a matrix grown by doubling
    remove(ids)       --move the last row into each hole--> rows stay dense
    search(v, k)      --scores = rows @ v / |v| ; argpartition top k ; sort--> [(id, score), ...]

Guarantees and caveats
----------------------
- Exact: every stored row is scored (brute force, one matrix-vector product); results are sorted
  by score, ties by storage slot, so equal inputs give equal outputs.
- Scores are cosines in [-1, 1]; vectors are stored normalised (float32), so a zero or non-finite
  vector, a wrong dimension, a malformed id or a ``k`` outside 1..``MAX_K`` is refused with
  ``InvalidFeatures`` naming it. Adding an id again replaces its vector.
- The interface is kept small (add, remove, search, len) so that a pgvector table can stand in
  for it later. Memory is 4 x dimension bytes per vector; no persistence.
- Thread-safe: one lock around every operation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.errors import InvalidFeatures
from aria_actors.interpret.text import validate
from aria_actors.shape.characters.embedding import DIMENSION

MAX_ID_CHARS = 256
Id = str | int


def _check_id(value: Any, field: str) -> Id:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidFeatures(f"{field} must be a string or a whole number, not {type(value).__name__}", field=field)
    if isinstance(value, str) and not 0 < len(value) <= MAX_ID_CHARS:
        raise InvalidFeatures(f"{field} must have 1 to {MAX_ID_CHARS} characters", field=field)
    return value


class VectorIndex:
    """Ids and their unit vectors; exact cosine search."""

    def __init__(self, dimension: int = DIMENSION) -> None:
        self.dimension = dimension
        self._rows = np.zeros((16, dimension), dtype=np.float32)
        self._ids: list[Id] = []
        self._slot: dict[Id, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def _matrix(self, vectors: Any, count: int, field: str) -> np.ndarray:
        try:
            m = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidFeatures(f"{field} must be numbers", field=field) from None
        if m.ndim == 1:
            m = m.reshape(1, -1)
        if m.shape != (count, self.dimension):
            raise InvalidFeatures(f"{field} must have shape ({count}, {self.dimension}), not {m.shape}", field=field)
        if not np.isfinite(m).all():
            raise InvalidFeatures(f"{field} holds a non-finite number", field=field)
        norms = np.linalg.norm(m, axis=1)
        if (norms < 1e-12).any():
            raise InvalidFeatures(f"{field}[{int(np.argmin(norms))}] is a zero vector; cosine needs a direction",
                                  field=field)
        return m / norms[:, None]

    def add(self, ids: Sequence[Id], vectors: Any) -> None:
        """Store (or replace) each id's vector; all are checked before any is stored."""
        ids = [_check_id(v, f"ids[{i}]") for i, v in enumerate(ids)]
        if len(set(ids)) != len(ids):
            raise InvalidFeatures("ids holds an id twice", field="ids")
        rows = self._matrix(vectors, len(ids), "vectors")
        with self._lock:
            need = len(self._ids) + sum(1 for i in ids if i not in self._slot)
            if need > len(self._rows):
                grown = np.zeros((max(need, 2 * len(self._rows)), self.dimension), dtype=np.float32)
                grown[:len(self._ids)] = self._rows[:len(self._ids)]
                self._rows = grown
            for key, row in zip(ids, rows, strict=True):
                slot = self._slot.get(key)
                if slot is None:
                    slot = self._slot[key] = len(self._ids)
                    self._ids.append(key)
                self._rows[slot] = row

    def remove(self, ids: Iterable[Id]) -> int:
        """Drop these ids (unknown ones are ignored); how many were there."""
        removed = 0
        with self._lock:
            for key in ids:
                slot = self._slot.pop(key, None)
                if slot is None:
                    continue
                last = len(self._ids) - 1
                if slot != last:  # keep rows dense: the last row fills the hole
                    moved = self._ids[last]
                    self._rows[slot] = self._rows[last]
                    self._ids[slot] = moved
                    self._slot[moved] = slot
                self._ids.pop()
                removed += 1
        return removed

    def search(self, vector: Any, k: int, exclude: Iterable[Id] = ()) -> list[tuple[Id, float]]:
        """The ``k`` stored ids most cosine-similar to ``vector`` (fewer when fewer are stored),
        best first, leaving out ``exclude``."""
        k = validate.k(k)
        query = self._matrix(vector, 1, "vector")[0]
        with self._lock:
            n = len(self._ids)
            if n == 0:
                return []
            scores = self._rows[:n] @ query
            for key in exclude:
                slot = self._slot.get(key)
                if slot is not None:
                    scores[slot] = -np.inf
            kept = n - int(np.isneginf(scores).sum())
            k = min(k, kept)
            if k <= 0:
                return []
            top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
            top = top[np.lexsort((top, -scores[top]))]
            return [(self._ids[i], float(np.clip(scores[i], -1.0, 1.0))) for i in top]
