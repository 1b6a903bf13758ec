"""``aria data ...``: migrations, backup and restore, talking to the database directly.

    aria data migrate status [--service S]
    aria data migrate up [--service S]
    aria data migrate down --service S [--steps N | --to VERSION]
    aria data backup PATH
    aria data restore PATH        (into an empty database)

The database is ``ARIA_DATABASE_URL``, or the embedded server under ``ARIA_HOME`` (started for
the command and stopped again if it was not running). Errors print one red line and exit 1; bad
usage exits 2. Passwords are never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.data import dsn as dsnlib
from aria_actors.data.config import load_data_config
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.settings import load_settings

app = typer.Typer(help="aria_data: migrations, backup and restore.", no_args_is_help=True)
migrate_app = typer.Typer(help="Per-service SQL migrations.", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
T = TypeVar("T")


@contextlib.asynccontextmanager
async def _database() -> AsyncIterator[tuple[Any, str]]:
    """(asyncpg connection, dsn) for the configured or embedded server."""
    # light: every `aria` command imports this module; asyncpg and the server code load only for the command that runs
    from aria_actors.data.embedded import EmbeddedPostgres
    from aria_actors.data.pool import Database

    settings = load_settings()
    config = load_data_config(pool_min_size=1, pool_max_size=1)
    url = settings.database_url.get_secret_value()
    embedded = None
    started = False
    if url:
        dsnlib.validate(url)
        setting = "ARIA_DATABASE_URL"
    else:
        embedded = EmbeddedPostgres(settings.home / "postgres",
                                    start_timeout_s=config.embedded_start_timeout_s)
        started = not embedded.is_running()
        url = await asyncio.to_thread(embedded.start)
        setting = "embedded PostgreSQL"
    db = await Database.connect(url, config, setting=setting, name="aria_cli")
    try:
        async with db.acquire() as conn:
            yield conn, url
    finally:
        await db.close()
        if embedded is not None and started:
            await asyncio.to_thread(embedded.stop)


def _run(fn: Callable[[Any, str], Awaitable[T]]) -> T:
    async def _main() -> T:
        async with _database() as (conn, url):
            return await fn(conn, url)

    try:
        return asyncio.run(_main())
    except AriaError as exc:
        _fail(exc.message)
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _print_states(rows: list[Any]) -> None:
    table = Table("service", "version", "name", "state", "applied at")
    for s in rows:
        table.add_row(s.service, f"{s.version:04d}", s.name, s.state,
                      s.applied_at.isoformat(timespec="seconds") if s.applied_at else "")
    Console().print(table)


ServiceOpt = typer.Option(None, "--service", "-s", help="One service (aria_queue or queue).")


@migrate_app.command("status")
def status(service: str | None = ServiceOpt) -> None:
    """Every migration and whether it is applied, pending, changed or missing."""
    from aria_actors.data.migrations import migration_status  # light: as in _database

    _print_states(_run(lambda conn, _url: migration_status(conn, [service] if service else None)))


@migrate_app.command("up")
def up(service: str | None = ServiceOpt) -> None:
    """Apply pending migrations (all services in dependency order, or one)."""
    from aria_actors.data.migrations import migrate_up  # light: as in _database

    done = _run(lambda conn, _url: migrate_up(conn, [service] if service else None))
    for a in done:
        Console().print(f"applied {a.service} {a.version:04d}_{a.name}")
    if not done:
        Console().print("nothing to apply")


@migrate_app.command("down")
def down(
    service: str = typer.Option(..., "--service", "-s", help="The service to revert."),
    steps: int = typer.Option(1, "--steps", min=1, help="How many migrations to revert."),
    to: int | None = typer.Option(None, "--to", min=0, help="Revert everything above this version."),
) -> None:
    """Revert the newest migration(s) of one service with their .down.sql files."""
    from aria_actors.data.migrations import migrate_down  # light: as in _database

    done = _run(lambda conn, _url: migrate_down(conn, service, steps=steps, to_version=to))
    for a in done:
        Console().print(f"reverted {a.service} {a.version:04d}_{a.name}")
    if not done:
        Console().print("nothing to revert")


@app.command("backup")
def backup_cmd(path: str = typer.Argument(..., help="File to write (pg_dump custom format).")) -> None:
    """Dump the whole database to PATH."""
    from aria_actors.data.backup import backup  # light: as in _database

    info = _run(lambda conn, url: backup(conn, url, path))
    Console().print(f"backup written to {info.path} ({info.size_bytes} bytes, {info.tables} tables)")


@app.command("restore")
def restore_cmd(path: str = typer.Argument(..., help="A file written by `aria data backup`.")) -> None:
    """Restore PATH into the (empty) database."""
    from aria_actors.data.backup import restore  # light: as in _database

    tables = _run(lambda conn, url: restore(conn, url, path))
    Console().print(f"restored {tables} tables from {path}")
