"""aria_data is the one database boundary: pools and single connections are opened only in
aria_actors/data/, SQL lives only in .sql files, and one loader reads them.

The checks read the source with ``ast`` (nothing is imported), so they also hold for modules
that only run inside Ray.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from aria_actors.data.sql_files import Queries, parse, queries

PACKAGE = Path(__file__).resolve().parents[3] / "aria_actors"
DATA = PACKAGE / "data"

# A statement starts with one of these words followed by whitespace (any case).
_START = re.compile(r"^\s*(select|insert|update|delete|with|create|alter|drop)\s", re.IGNORECASE)
# Written in lower or mixed case, prose starts with the same words ("Create a user"), so then the
# statement's next clause must be there too.
_CLAUSE = {
    "select": r"\bfrom\b", "insert": r"\binto\b", "update": r"\bset\b", "delete": r"\bfrom\b",
    "with": r"\bas\s*\(",
    # DDL names its object right after the verb: "create static role x" is prose.
    "create": r"^(or\s+replace\s+)?((unique|temp|temporary|unlogged|materialized)\s+)*"
              r"(table|schema|index|role|view|function|type|extension|sequence|trigger|policy)\b",
}
_CLAUSE["alter"] = _CLAUSE["drop"] = _CLAUSE["create"]
# "UPDATE 1", "INSERT 0 1": a command's status, not SQL ("SELECT 1" is both: counted as SQL).
# an HTTP method and a path ("DELETE /v1/shape/characters/{id}") names a route, not a statement
_HTTP_ROUTE = re.compile(r"(delete)\s+/\S*", re.IGNORECASE)
_COMMAND_TAG = re.compile(r"(insert|update|delete)\s+\d+(\s+\d+)?\s*", re.IGNORECASE)

# (path relative to aria_actors, text the string starts with) -> why it may stay. Keep it short.
ALLOWED_SQL: dict[tuple[str, str], str] = {}


def looks_like_sql(text: str) -> bool:
    m = _START.match(text)
    if m is None:
        return False
    rest = text[m.end():]
    if _COMMAND_TAG.fullmatch(text.strip()) or _HTTP_ROUTE.fullmatch(text.strip()):
        return False
    word = m.group(1)
    return word.isupper() or re.search(_CLAUSE[word.lower()], rest.lstrip(),
                                       re.IGNORECASE) is not None


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string constant that is not a docstring; an f-string's text has its
    placeholders as ``{}``."""
    skip = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            out.append((node.lineno, "".join(str(p) for p in parts)))
            skip.update(id(v) for v in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value))
    return out


def sql_strings(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).as_posix()
    found = []
    for line, text in _strings(ast.parse(path.read_text(), str(path))):
        if looks_like_sql(text) and not any(
                rel == f and text.lstrip().startswith(start) for f, start in ALLOWED_SQL):
            found.append(f"aria_actors/{rel}:{line}: {text.strip()[:60]!r}")
    return found


def database_openers(path: Path) -> list[str]:
    """``create_pool`` anywhere, and ``asyncpg.connect``: both belong to aria_actors/data/."""
    rel = path.relative_to(PACKAGE).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(
            node, ast.Name) else None
        if name == "create_pool" or (
                name == "connect" and isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.value.id == "asyncpg"):
            found.append(f"aria_actors/{rel}:{node.lineno}: {name}")
    return found


def test_no_sql_strings_outside_sql_files() -> None:
    found = [hit for p in _modules() for hit in sql_strings(p)]
    assert not found, ("SQL belongs in <service>/sql/*.sql, read with aria_actors.data.sql_files "
                       "(identifiers chosen at run time: a named fragment with {placeholders}):\n"
                       + "\n".join(found))


def test_only_aria_data_opens_database_connections() -> None:
    found = [hit for p in _modules() if DATA not in p.parents for hit in database_openers(p)]
    assert not found, ("open pools with aria_actors.data.pool.Database.connect and single "
                       "connections with connect_one:\n" + "\n".join(found))


def test_one_named_sql_loader() -> None:
    """Only sql_files.py knows the ``-- name:`` format."""
    marker = re.compile(r"--\\?s?\*?\s*name", re.IGNORECASE)
    found = [f"aria_actors/{p.relative_to(PACKAGE).as_posix()}:{line}"
             for p in _modules() if p != DATA / "sql_files.py"
             for line, text in _strings(ast.parse(p.read_text())) if marker.search(text)]
    assert not found, "named SQL is read by aria_actors.data.sql_files only:\n" + "\n".join(found)


def test_every_sql_file_loads() -> None:
    files = sorted(PACKAGE.glob("*/sql/*.sql"))
    assert files
    for f in files:
        named = parse(f.read_text(), str(f))
        assert named and all(text.strip() for text in named.values()), f


@pytest.mark.parametrize("text", [
    "SELECT 1", "select id from t", "INSERT INTO t VALUES (1)", "update t set a = 1",
    "DELETE FROM t", "WITH x AS (SELECT 1) SELECT * FROM x", "CREATE TABLE t (a int)",
    'ALTER TABLE "{}" SET SCHEMA x', "drop table t", "  SELECT pg_notify($1, $2)",
])
def test_statements_are_recognised(text: str) -> None:
    assert looks_like_sql(text)


@pytest.mark.parametrize("text", [
    "Create a user", "Delete a user and all their sessions", "Set a password", "UPDATE 1",
    "DELETE 1", "INSERT 0 1", "with a timeout", "create token for ", "Selected", "selection",
    "create static role {}", "Delete old versions by count/age",
])
def test_prose_is_not_sql(text: str) -> None:
    assert not looks_like_sql(text)


def test_loader_errors_name_the_file_and_query(tmp_path: Path) -> None:
    f = tmp_path / "x.sql"
    f.write_text("-- about x\n\n-- name: one\nSELECT 1;\n\n-- name: two\n-- why\nSELECT 2;\n")
    q = Queries(f)
    assert q("one") == "SELECT 1;" and q["two"] == "-- why\nSELECT 2;" and len(q) == 2
    with pytest.raises(KeyError, match=r"no query 'three' in .*x\.sql \(it has: one, two\)"):
        q("three")
    f2 = tmp_path / "dup.sql"
    f2.write_text("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(ValueError, match="defined twice"):
        Queries(f2)("a")
    assert queries("aria_actors.queue", "jobs") is queries("aria_actors.queue", "jobs")
    assert "SKIP LOCKED" in queries("aria_actors.queue", "jobs")("fetch_jobs")
