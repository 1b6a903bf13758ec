"""Backup and restore with ``pg_dump``/``pg_restore`` (custom format), and table fingerprints.

Guarantees and caveats:
- ``backup`` writes one consistent snapshot of the whole database (pg_dump runs in one
  repeatable-read transaction) to ``path`` in pg_dump's custom format, first to ``path.partial``
  then renamed, so a failed backup never leaves a truncated file under the final name.
- ``restore`` refuses a database that already has tables (:class:`BackupError`), creates the
  cluster-wide role ``aria_tenant`` if missing (the dump's grants and policies name it), and
  restores in a single transaction: all or nothing. Objects are owned by the restoring user
  (``--no-owner``).
- The binaries are the pgserver wheel's (PostgreSQL 16): pg_dump refuses servers newer than
  itself; use a matching ``pg_dump`` (``bin_dir``) for those.
- The password never appears on a command line (``ps`` shows those): it goes through
  ``PGPASSWORD`` in the child's environment.
- ``fingerprint`` gives each table's row count and an md5 over its rows in primary-key (or full
  row) order: equal fingerprints mean equal contents.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from aria_actors.data.dsn import mask
from aria_actors.data.embedded import find_bin_dir
from aria_actors.data.errors import BackupError
from aria_actors.data.sql_files import ident, queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.data", "backup")


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: str
    size_bytes: int
    tables: int


def _split_password(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the environment that carries it."""
    env = dict(os.environ)
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, env

    env["PGPASSWORD"] = unquote(parts.password)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (parts.username or "") + "@" + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), env


def _run(exe: str, args: list[str], dsn: str, bin_dir: Path | None) -> None:
    clean, env = _split_password(dsn)
    cmd = [str((bin_dir or find_bin_dir()) / exe), *args, f"--dbname={clean}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BackupError(
            f"{exe} failed on {mask(dsn)} (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}",
            dsn=mask(dsn),
        )


async def backup(conn: asyncpg.Connection, dsn: str, path: str | Path,
                 *, bin_dir: Path | None = None) -> BackupInfo:
    """Dump the database ``dsn`` points at to ``path`` (custom format)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    tables = len(await conn.fetch(_SQL("user_tables")))
    # A dump holds password hashes, MFA secrets and sessions: the file is its owner's alone from
    # the start (pg_dump truncates the file it is given and keeps its mode).
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(partial, 0o600)  # an older partial left by a crash keeps its mode otherwise
    try:
        await asyncio.to_thread(
            _run, "pg_dump", ["--format=custom", f"--file={partial}"], dsn, bin_dir
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(str(target), target.stat().st_size, tables)


async def restore(conn: asyncpg.Connection, dsn: str, path: str | Path,
                  *, bin_dir: Path | None = None) -> int:
    """Restore ``path`` into the empty database ``dsn`` points at; returns its table count."""
    source = Path(path)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}", path=str(source))
    existing = await conn.fetch(_SQL("user_tables"))
    if existing:
        names = ", ".join(f"{r['schema']}.{r['name']}" for r in existing[:5])
        raise BackupError(
            f"restore needs an empty database; {mask(dsn)} has {len(existing)} table(s) ({names})",
            dsn=mask(dsn),
        )
    await conn.execute(_SQL("ensure_tenant_role"))
    await asyncio.to_thread(
        _run, "pg_restore",
        ["--no-owner", "--exit-on-error", "--single-transaction", str(source)], dsn, bin_dir,
    )
    return len(await conn.fetch(_SQL("user_tables")))


async def fingerprint(conn: asyncpg.Connection) -> dict[str, tuple[int, str]]:
    """``{"schema.table": (rows, md5 of the rows in order)}`` for every user table.

    Reads as the connection's role: run it as a superuser (or a BYPASSRLS role) to see the rows
    row-level security would hide.
    """
    out: dict[str, tuple[int, str]] = {}
    for r in await conn.fetch(_SQL("user_tables")):
        row = await conn.fetchrow(_SQL("table_digest").format(table=ident(r["schema"], r["name"])))
        out[f"{r['schema']}.{r['name']}"] = (row["n"], row["h"])
    return out
