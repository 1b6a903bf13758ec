"""The one validation of character text at aria_interpret's door: descriptions, batches of them,
trait words and the ``k`` of a search.

::

    value --type?--> str --len <= max_chars?--> --not blank?--> --no control chars?--> text
          (O(1) checks first: a 10 MB string is refused by its length, before it is scanned)

Guarantees and caveats
----------------------
- Every refusal is :class:`~aria_actors.interpret.errors.InvalidText` (or ``InvalidFeatures`` for
  ``k``) naming the field (``texts[3]``), the limit and what was found; nothing else escapes.
- The limits are aria_shape's: a description is at most ``MAX_CHARS`` characters (a template's
  ``MAX_DESCRIPTION``) of PostgreSQL ``TEXT`` (tab, line feed and carriage return are the only
  control characters taken); a trait is one line of at most ``MAX_TRAIT_CHARS``.
- Length is counted in code points (``len``), not bytes or word pieces; the embedder truncates
  at 256 word pieces on its own.
- Texts are returned as given (not stripped): offsets of entities refer to the caller's text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aria_actors.interpret.errors import InvalidFeatures, InvalidText
from aria_actors.shape.characters.templates import CONTROL, MAX_DESCRIPTION, MAX_ITEMS

MAX_CHARS = MAX_DESCRIPTION  # 20_000: what a stored description may hold
MAX_BATCH = 1024  # texts per call
MAX_TRAITS = MAX_ITEMS  # 256: trait words per call (a template's trait list fits)
MAX_TRAIT_CHARS = 64  # one trait word (templates' Word)
MAX_K = 1000  # results one search may return
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a trait is one line: no tab or line break either


def text(value: Any, field: str = "text", max_chars: int = MAX_CHARS) -> str:
    """``value`` if it is a non-blank string of at most ``max_chars`` characters without control
    characters other than tab and line breaks; else :class:`InvalidText` naming ``field``."""
    if not isinstance(value, str):
        raise InvalidText(f"{field} must be a string, not {type(value).__name__}", field=field)
    if len(value) > max_chars:  # before any scan: the cost of refusing does not grow with the size
        raise InvalidText(f"{field} has {len(value)} characters; at most {max_chars} are taken",
                          field=field, max_chars=max_chars, chars=len(value))
    if not value.strip():
        raise InvalidText(f"{field} is blank; send 1 to {max_chars} characters", field=field, max_chars=max_chars)
    bad = CONTROL.search(value)
    if bad:
        raise InvalidText(f"{field} holds control character {bad.group()!r} at offset {bad.start()}; only tab and "
                          "line breaks are taken", field=field, offset=bad.start())
    return value


def texts(values: Any, field: str = "texts", max_batch: int = MAX_BATCH, max_chars: int = MAX_CHARS) -> list[str]:
    """A list of 1 to ``max_batch`` valid texts (each as :func:`text`)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidText(f"{field} must be a list of strings, not {type(values).__name__}", field=field)
    if not values:
        raise InvalidText(f"{field} is empty; send 1 to {max_batch} texts", field=field, max_batch=max_batch)
    if len(values) > max_batch:
        raise InvalidText(f"{field} has {len(values)} texts; at most {max_batch} are taken per call",
                          field=field, max_batch=max_batch, count=len(values))
    return [text(v, f"{field}[{i}]", max_chars) for i, v in enumerate(values)]


def line(value: Any, field: str, max_chars: int) -> str:
    """One line of 1 to ``max_chars`` characters (a name, a trait), trimmed, inner runs of spaces
    made one."""
    if not isinstance(value, str):
        raise InvalidText(f"{field} must be a string, not {type(value).__name__}", field=field)
    if len(value) > max_chars:
        raise InvalidText(f"{field} has {len(value)} characters; at most {max_chars} are taken",
                          field=field, max_chars=max_chars)
    bad = _LINE_CONTROL.search(value)
    if bad:
        raise InvalidText(f"{field} holds control character {bad.group()!r}; it must be one line", field=field)
    out = " ".join(value.split())
    if not out:
        raise InvalidText(f"{field} is blank", field=field)
    return out


def trait(value: Any, field: str = "trait") -> str:
    """A trait word or short phrase, lower-cased: :func:`line` of at most ``MAX_TRAIT_CHARS``."""
    return line(value, field, MAX_TRAIT_CHARS).lower()


def traits(values: Any, field: str = "traits") -> list[str]:
    """1 to ``MAX_TRAITS`` trait words (each as :func:`trait`), duplicates dropped, order kept."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidText(f"{field} must be a list of strings, not {type(values).__name__}", field=field)
    if not values:
        raise InvalidText(f"{field} is empty; send 1 to {MAX_TRAITS} traits", field=field)
    if len(values) > MAX_TRAITS:
        raise InvalidText(f"{field} has {len(values)} traits; at most {MAX_TRAITS} are taken",
                          field=field, max_traits=MAX_TRAITS, count=len(values))
    return list(dict.fromkeys(trait(v, f"{field}[{i}]") for i, v in enumerate(values)))


def k(value: Any, field: str = "k") -> int:
    """A result count in 1..``MAX_K``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InvalidFeatures(f"{field} must be a whole number from 1 to {MAX_K}, not {value!r}",
                              field=field, max_k=MAX_K)
    return value
