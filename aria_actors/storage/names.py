"""Asset names and the text that goes with them: who may write where, and what Postgres can store.

Namespaces::

    users/<subject>/...   a caller's own: the only place a caller whose write grant is @own
                          only (``user``) may write; others need storage:asset:write @any to
                          create an asset there
    shape/...             reserved for a service's own assets (``StorageConfig.reserved_prefixes``):
                          writing there needs ``storage:reserved:write`` (editor, service, admin,
                          internal principals), which no @own grant gives
    anything else         callers holding storage:asset:write in their tenant or @any

``<subject>`` is :func:`subject_segment`: the subject with every character outside
``[A-Za-z0-9_.@+-]`` (and a leading ``.``) written as ``~`` and two lowercase hex digits per UTF-8
byte, so ``auth0|42`` is ``auth0~7c42`` and ``svc:aria_shape`` is ``svc~3aaria_shape``. The
encoding is one-to-one (``~`` itself is ``~7e``), never contains ``/`` and is never ``.`` or ``..``,
and needs no escaping in a URL path.

Text checks: Postgres stores no NUL in ``text`` or ``jsonb`` and no lone UTF-16 surrogate
anywhere; names, tags, content types and prefixes may hold no control character either (C0, DEL,
C1). Metadata (JSON) may hold control characters other than NUL (a newline in a description), but
no NUL, no lone surrogate and no NaN/Infinity (not JSON), in keys or values at any depth.
"""

from __future__ import annotations

import math
import re
import string
from typing import Any

USERS = "users/"
# The ``pattern`` of text fields (names, tags, content types, prefixes) in the router; the same
# class as _BAD_TEXT, written with escapes so Python, pydantic's Rust regex and JSON Schema agree.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_BAD_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_JSON_TEXT = re.compile("[\x00\ud800-\udfff]")
_SAFE = frozenset(string.ascii_letters + string.digits + "_.@+-")
MAX_DEPTH = 64


def subject_segment(subject: str) -> str:
    """The path segment of ``subject`` in ``users/<segment>/`` (see the module docstring)."""
    out = []
    for i, ch in enumerate(subject):
        if ch in _SAFE and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"~{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
    return "".join(out) or "~"


def user_prefix(subject: str) -> str:
    """``users/<subject_segment(subject)>/``: the namespace of the caller ``subject``."""
    return f"{USERS}{subject_segment(subject)}/"


def text_problem(value: Any, *, allow_empty: bool = False) -> str | None:
    """Why ``value`` cannot be a name, tag, content type or prefix (None: it can)."""
    if not isinstance(value, str):
        return "must be a string"
    if not value and not allow_empty:
        return "must not be empty"
    m = _BAD_TEXT.search(value)
    if m:
        return f"must not contain control characters (found U+{ord(m.group()):04X})"
    return None


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why the JSON value ``value`` cannot be stored as jsonb (None: it can); keys and values."""
    if depth > MAX_DEPTH:
        return f"nests deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        m = _BAD_JSON_TEXT.search(value)
        return f"must not contain U+{ord(m.group()):04X}" if m else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must not contain NaN or Infinity"
    if isinstance(value, dict):
        for k, v in value.items():
            problem = json_problem(k, depth + 1) if isinstance(k, str) else "keys must be strings"
            problem = problem or json_problem(v, depth + 1)
            if problem:
                return f"{str(k)[:40]!r}: {problem}"
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            problem = json_problem(v, depth + 1)
            if problem:
                return f"[{i}]: {problem}"
        return None
    if value is None or isinstance(value, (bool, int)):
        return None
    return f"{type(value).__name__} is not a JSON value"
