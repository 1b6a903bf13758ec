"""Sentiment of character text with VADER (vaderSentiment): compound, pos, neu and neg of the
whole text and of each sentence.

::

    text --VADER--> {compound, pos, neu, neg}
         --sentences (spaCy's, when the caller has parsed the text; else split after . ! ?)-->
           [{start, end, compound, pos, neu, neg}, ...]

Guarantees and caveats
----------------------
- ``compound`` lies in [-1, 1]; ``pos + neu + neg`` is 1 (to rounding). The label is VADER's
  usual one: positive at compound >= 0.05, negative at <= -0.05, else neutral.
- A lexicon and rules, not a trained model: it reads negation ("not kind"), intensifiers and
  "but", not irony; words outside its lexicon count as neutral. Measured on the labelled set in
  tests/fixtures/interpret/sentiment.csv by bench/interpret_text.py.
- At most ``MAX_SENTENCES`` sentences are listed (``sentences_truncated`` says when more were
  left out); the whole-text scores always read all of it.
- Thread-safe: the analyzer only reads its lexicon after it is built (once, under a lock); it is
  built on first use (a few ms).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

MAX_SENTENCES = 256
POSITIVE = 0.05  # VADER's documented thresholds on compound
NEGATIVE = -0.05
_SENTENCE_END = re.compile(r"[^.!?\n]+(?:[.!?]+|$)|\n+")
_lock = threading.Lock()
_analyzer: Any = None


def analyzer() -> Any:
    """The process's VADER analyzer (built once)."""
    global _analyzer
    with _lock:
        if _analyzer is None:
            # heavy: VADER reads its lexicon files on import
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _analyzer = SentimentIntensityAnalyzer()
        return _analyzer


def label(compound: float) -> str:
    return "positive" if compound >= POSITIVE else "negative" if compound <= NEGATIVE else "neutral"


def scores(text: str) -> dict[str, Any]:
    """VADER's scores of ``text`` and their label."""
    s = analyzer().polarity_scores(text)
    return {"compound": round(s["compound"], 4), "pos": round(s["pos"], 4), "neu": round(s["neu"], 4),
            "neg": round(s["neg"], 4), "label": label(s["compound"])}


def split(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (after . ! ? and at line breaks), trimmed, blank ones dropped."""
    spans = []
    for m in _SENTENCE_END.finditer(text):
        start, end = m.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def sentiment(text: str, spans: Sequence[tuple[int, int]] | None = None) -> dict[str, Any]:
    """The text's scores and each sentence's (``spans``: the sentences' character offsets; by
    default :func:`split`'s)."""
    spans = list(spans) if spans is not None else split(text)
    out = scores(text)
    out["sentences"] = [{"start": s, "end": e, **scores(text[s:e])} for s, e in spans[:MAX_SENTENCES]]
    out["sentences_truncated"] = len(spans) > MAX_SENTENCES
    return out
