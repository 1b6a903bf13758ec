"""Input checks shared by the analytics models: ids, names, timestamps, vectors and list sizes.

Every analytics function reads plain Python data that came out of Postgres. These helpers turn it
into a small set of canonical forms (ids as ``str``, timestamps as ``float`` seconds, names as
``str``) or raise the typed error the caller names, with the culprit's path as ``field``.

Guarantees and caveats
----------------------
- Ids may be ``str``, ``int`` or ``uuid.UUID``; all come back as ``str`` (so ``7`` and ``"7"`` are one
  character). ``bool`` is refused as an id or a number.
- Timestamps may be numbers (seconds) or ``datetime`` (naive ones are read as local time by
  ``datetime.timestamp``); non-finite values are refused.
- Sizes are bounded (``MAX_RECORDS`` records, ``MAX_NAME`` characters per name) so a bad request
  cannot make a model eat the machine.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from aria_actors.interpret.errors import InterpretError, NotEnoughData

MAX_RECORDS = 2_000_000
MAX_NAME = 200
MAX_ITEMS_PER_RECORD = 1_000


def records(value: Any, field: str, error: type[InterpretError], max_items: int = MAX_RECORDS) -> Sequence[Any]:
    """A list/tuple of records (not a string), at most ``max_items`` long; empty -> NotEnoughData."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise error(f"{field} must be a list of records, got {type(value).__name__}", field=field)
    if len(value) > max_items:
        raise error(f"{field} has {len(value)} records; at most {max_items} are allowed", field=field)
    if not value:
        raise NotEnoughData(f"{field} is empty; record some data and retry", field=field)
    return value


def record(value: Any, size: int, field: str, error: type[InterpretError]) -> Sequence[Any]:
    """One tuple-like record of exactly ``size`` fields."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != size:
        raise error(f"{field} must be a tuple of {size} fields", field=field)
    return value


def ident(value: Any, field: str, error: type[InterpretError]) -> str:
    """An id as ``str``: a non-empty printable string, an int or a UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        if not value.strip() or len(value) > MAX_NAME or not value.isprintable():
            raise error(f"{field} must be 1 to {MAX_NAME} printable characters", field=field)
        return value
    raise error(f"{field} must be a string, integer or UUID id, got {type(value).__name__}", field=field)


def name(value: Any, field: str, error: type[InterpretError]) -> str:
    """An action, trait, kind or template name: a non-blank printable string."""
    if not isinstance(value, str):
        raise error(f"{field} must be a string, got {type(value).__name__}", field=field)
    if not value.strip() or len(value) > MAX_NAME or not value.isprintable():
        raise error(f"{field} must be 1 to {MAX_NAME} printable characters", field=field)
    return value


def names(value: Any, field: str, error: type[InterpretError], max_items: int = MAX_ITEMS_PER_RECORD) -> list[str]:
    """A list of names (duplicates dropped, order kept)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
        raise error(f"{field} must be a list of strings", field=field)
    if len(value) > max_items:
        raise error(f"{field} has {len(value)} entries; at most {max_items} are allowed", field=field)
    return list(dict.fromkeys(name(v, f"{field}[{i}]", error) for i, v in enumerate(value)))


def number(value: Any, field: str, error: type[InterpretError]) -> float:
    """A finite real number (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise error(f"{field} must be a number, got {type(value).__name__}", field=field)
    out = float(value)
    if not math.isfinite(out):
        raise error(f"{field} must be finite, got {value!r}", field=field)
    return out


def timestamp(value: Any, field: str, error: type[InterpretError]) -> float:
    """Seconds since the epoch from a number or a ``datetime``."""
    if isinstance(value, datetime):
        return value.timestamp()
    return number(value, field, error)


def integer(value: Any, field: str, error: type[InterpretError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise error(f"{field} must be an integer, got {type(value).__name__}", field=field)
    return int(value)


def mapping(value: Any, field: str, error: type[InterpretError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise error(f"{field} must be a mapping, got {type(value).__name__}", field=field)
    return value


def vector(value: Any, field: str, error: type[InterpretError], max_dim: int = 4096) -> np.ndarray:
    """A finite, non-zero 1-d float vector, returned L2-normalised."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"{field} must be a list of numbers", field=field) from exc
    if arr.ndim != 1 or not 1 <= arr.size <= max_dim:
        raise error(f"{field} must be a flat vector of 1 to {max_dim} numbers", field=field)
    if not np.isfinite(arr).all():
        raise error(f"{field} holds a non-finite number", field=field)
    norm = float(np.linalg.norm(arr))
    if norm == 0.0:
        raise error(f"{field} is the zero vector", field=field)
    return arr / norm


def positive_int(value: Any, field: str, error: type[InterpretError], low: int = 1, high: int = 10_000) -> int:
    """A parameter that must be an integer in ``[low, high]``."""
    out = integer(value, field, error)
    if not low <= out <= high:
        raise error(f"{field} must be between {low} and {high}, got {out}", field=field)
    return out


def fraction(value: Any, field: str, error: type[InterpretError], low: float = 0.0, high: float = 1.0) -> float:
    out = number(value, field, error)
    if not low < out < high:
        raise error(f"{field} must be strictly between {low} and {high}, got {out}", field=field)
    return out
