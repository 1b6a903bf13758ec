"""What the trait reader knows about single words: their MiniLM vectors (cached), their valence
(VADER's lexicon) and whether two words are antonyms by their form.

::

    word --"a {word} person"--> MiniLM vector (LRU cache)     relatedness = cosine of two vectors
    word --VADER lexicon--> valence in [-4, 4] or None        opposite = related and valence signs differ
    "patient"/"impatient", "hopeful"/"hopeless"  --> antonyms by form (prefix un/in/im/il/ir/dis/non, -ful/-less)

Guarantees and caveats
----------------------
- A word is embedded in the frame "a {word} person": bare words are short, ambiguous inputs to a
  sentence model; in the frame, synonyms of character words score higher (brave/courageous 0.86,
  kind/compassionate 0.65) while unrelated words stay low. Antonyms score high too (brave/cowardly
  0.70): relatedness is not agreement, which is why valence is read as well.
- Valence is VADER's hand-rated lexicon (7,500 entries); for a word outside it, :class:`Opposition`
  asks aria_shape's Big-Five model whether the two words pull its dimensions apart (humble/arrogant
  yes; pacifist/bloodthirsty is missed).
- Thread-safe: the cache is guarded by a lock; the embedder serialises its own calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.text.embed import embed
from aria_actors.interpret.text.sentiment import analyzer
from aria_actors.shape.characters.embedding import DIMENSION, SentenceEmbedder

CACHE_SIZE = 8192  # words whose vectors are kept
FRAME = "a {} person"
MIN_VALENCE = 0.5  # |valence| below this is no polarity
NEGATORS = frozenset({"not", "n't", "never", "no", "hardly", "rarely", "seldom", "barely", "scarcely", "nor",
                      "neither"})
_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "non-")
_MIN_STEM = 4  # "in" + "ept" is not an antonym pair worth a rule


class WordVectors:
    """MiniLM vectors of words in the frame ``"a {word} person"``, least recently used out first."""

    def __init__(self, embedder: SentenceEmbedder | None = None, size: int = CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """``(len(words), 384)`` unit vectors."""
        with self._lock:
            known = {w: self._cache[w] for w in words if w in self._cache}
            for w in known:
                self._cache.move_to_end(w)
        todo = sorted(set(words) - known.keys())
        if todo:
            fresh = dict(zip(todo, embed([FRAME.format(w) for w in todo], self.embedder), strict=True))
            known.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        if not words:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([known[w] for w in words])


def valence(word: str) -> float | None:
    """VADER's valence of ``word`` (its mean human rating, -4..4), None when it has none."""
    return analyzer().lexicon.get(word.lower())


def morphological_antonyms(a: str, b: str) -> bool:
    """Whether one word negates the other by form: un-/in-/im-/il-/ir-/dis-/non- + it, or -ful/-less."""
    a, b = a.lower(), b.lower()
    for x, y in ((a, b), (b, a)):
        if len(y) >= _MIN_STEM and any(x == p + y for p in _PREFIXES):
            return True
        if x.endswith("ful") and y == x[:-3] + "less" and len(x) - 3 >= 3:
            return True
    return False


def opposite(a: str, b: str) -> bool:
    """Whether two (related) words pull opposite ways: antonyms by form, or valences of opposite sign."""
    if morphological_antonyms(a, b):
        return True
    va, vb = valence(a), valence(b)
    return va is not None and vb is not None and abs(va) >= MIN_VALENCE and abs(vb) >= MIN_VALENCE and va * vb < 0


class Opposition:
    """Why two words pull opposite ways: ``"form"``, ``"valence"``, ``"model"`` or None (they do not).

    ``"model"`` is asked only when VADER lacks a valence for one of them (humble, pacifist): the
    words' pulls on aria_shape's Big-Five model point apart (cosine <= POLAR). That model is
    noisy on single words (it puts brave against tall), so callers want high relatedness too.
    ``personality``: a callable returning the model (or None); called on the first such pair.
    """

    POLAR = -0.3

    def __init__(self, personality: Callable[[], Any] | None = None) -> None:
        self.personality = personality

    def __call__(self, a: str, b: str) -> str | None:
        if morphological_antonyms(a, b):
            return "form"
        va, vb = valence(a), valence(b)
        if va is not None and vb is not None:
            return "valence" if opposite(a, b) else None
        model = self.personality() if self.personality is not None else None
        if model is None:
            return None
        pa, pb = model.trait_scores([a, b]) - 0.5
        norm = float(np.linalg.norm(pa) * np.linalg.norm(pb))
        return "model" if norm > 1e-12 and float(pa @ pb) / norm <= self.POLAR else None
