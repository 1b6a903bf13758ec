"""Named SQL queries of aria_queue, kept in ``sql/*.sql`` as blocks introduced by ``-- name: x``."""

from __future__ import annotations

import functools
import re
from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@functools.cache
def load(file: str = "jobs") -> dict[str, str]:
    """The named queries of ``sql/<file>.sql``; a query is the text up to the next name line."""
    parts = _NAME.split((SQL_DIR / f"{file}.sql").read_text())
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def q(name: str, file: str = "jobs") -> str:
    """The query named ``name``; a KeyError names a query that does not exist."""
    return load(file)[name]


def migration_files(direction: str = "up") -> list[Path]:
    """This service's migration files in the order they apply (``down``: newest first)."""
    if direction == "up":
        return sorted(p for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")
                      if not p.name.endswith(".down.sql"))
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.down.sql"), reverse=True)
