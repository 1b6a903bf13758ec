"""Named SQL queries kept in ``aria_actors/data/sql/*.sql`` (blocks introduced by ``-- name: x``)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@functools.cache
def load(file: str) -> dict[str, str]:
    """The named queries of ``sql/<file>.sql``; a query is the text up to the next name line."""
    text = (SQL_DIR / f"{file}.sql").read_text()
    parts = _NAME.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def query(file: str, name: str) -> str:
    return load(file)[name]
