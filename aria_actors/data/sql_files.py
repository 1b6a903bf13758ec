"""Named SQL in ``.sql`` files: the one loader every service uses.

A service keeps its statements in ``<package>/sql/<file>.sql`` as blocks, each introduced by a
``-- name: <identifier>`` line and running up to the next one (comments before the first name
line describe the file)::

    q = queries("aria_actors.queue", "jobs")
    await conn.fetch(q("claim"), ...)       # or q["claim"]

Guarantees and caveats:
- A file is read once per process, on its first query (``functools.cache``); editing it needs a
  restart.
- An unknown query raises ``KeyError`` naming the file and the query; a missing file raises
  ``FileNotFoundError`` naming the path; a name used twice in one file raises ``ValueError``.
- Text is returned as written, stripped: bind parameters (``$1``) are the caller's business. SQL
  that needs identifiers chosen at run time is composed from named fragments by its module, which
  quotes every identifier it inserts (``quote_ident``).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
# Each loaded statement's text -> "<file>.<name>": what a trace names a query by (never its text).
_NAMES: dict[str, str] = {}


def name_of(text: str) -> str | None:
    """``"<file>.<name>"`` of a statement loaded from a ``.sql`` file, else None."""
    return _NAMES.get(text)


def parse(text: str, where: str = "<sql>") -> dict[str, str]:
    """The named blocks of ``text`` (``where`` names it in errors)."""
    parts = _NAME.split(text)
    out: dict[str, str] = {}
    for i in range(1, len(parts), 2):
        name = parts[i]
        if name in out:
            raise ValueError(f"{where}: query {name!r} is defined twice")
        out[name] = parts[i + 1].strip()
    return out


def sql_dir(package: str) -> Path:
    """``<package>/sql``, found without importing ``package`` (so no import order matters)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {package!r} to read SQL files from")
    return Path(next(iter(spec.submodule_search_locations))) / "sql"


class Queries(Mapping[str, str]):
    """The named statements of one ``.sql`` file, read on first use; ``q("x")`` or ``q["x"]``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @functools.cached_property
    def _all(self) -> dict[str, str]:
        named = parse(self.path.read_text(), str(self.path))
        for name, text in named.items():
            _NAMES.setdefault(text, f"{self.path.stem}.{name}")
        return named

    def __getitem__(self, name: str) -> str:
        try:
            return self._all[name]
        except KeyError:
            raise KeyError(f"no query {name!r} in {self.path} (it has: "
                           f"{', '.join(sorted(self._all)) or 'none'})") from None

    def __call__(self, name: str) -> str:
        return self[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def __repr__(self) -> str:
        return f"Queries({str(self.path)!r})"


@functools.cache
def queries(package: str, file: str) -> Queries:
    """The named statements of ``<package>/sql/<file>.sql`` (one shared object per file)."""
    return Queries(sql_dir(package) / f"{file}.sql")


def ident(*parts: str) -> str:
    """A quoted identifier, dot-joined (``"schema"."table"``), for a fragment's ``{placeholder}``:
    identifiers cannot be bind parameters."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def literal(value: str) -> str:
    """A quoted string literal, for the few places no bind parameter may stand (DDL bounds)."""
    return "'" + value.replace("'", "''") + "'"


def query(package: str, file: str, name: str) -> str:
    """One statement: ``query("aria_actors.data", "migrations", "bootstrap")``."""
    return queries(package, file)[name]
