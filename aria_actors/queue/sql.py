"""Named SQL queries of aria_queue, kept in ``sql/*.sql`` as blocks introduced by ``-- name: x``,
read by aria_data's loader (:mod:`aria_actors.data.sql_files`)."""

from __future__ import annotations

from pathlib import Path

from aria_actors.data.sql_files import Queries, queries

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def load(file: str = "jobs") -> Queries:
    """The named queries of ``sql/<file>.sql``."""
    return queries("aria_actors.queue", file)


def q(name: str, file: str = "jobs") -> str:
    """The query named ``name``; a KeyError names the file and a query that does not exist."""
    return queries("aria_actors.queue", file)[name]


def migration_files(direction: str = "up") -> list[Path]:
    """This service's migration files in the order they apply (``down``: newest first)."""
    if direction == "up":
        return sorted(p for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")
                      if not p.name.endswith(".down.sql"))
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.down.sql"), reverse=True)
