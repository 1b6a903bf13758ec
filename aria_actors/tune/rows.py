"""A stored row as aria_tune's answers carry it: its JSON columns decoded (asyncpg hands ``jsonb``
back as text) and its timestamps as ISO 8601 strings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def plain_row(row: Any, json_columns: Iterable[str] = (), time_columns: Iterable[str] = ()) -> dict[str, Any]:
    out = dict(row)
    for key in json_columns:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key in time_columns:
        value = out.get(key)
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
