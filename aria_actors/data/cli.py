"""``aria data ...``: the running aria_data through the gateway, and migrations, backup and
restore talking to the database directly.

Through the gateway (``/v1/data``; ``ARIA_TOKEN`` or ``--token`` is the bearer token, an operator's
or admin's)::

    aria data health              ping, pool, connections, table sizes, slow queries
    aria data migrations [--service S]
    aria data advice [--min-rows N]
    aria data archive             create, archive and drop time partitions now
    aria data backup              the service dumps the database into <ARIA_HOME>/backups
    aria data backups             the backups it wrote

On the database directly (no running Aria needed)::

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
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.data import dsn as dsnlib
from aria_actors.data.config import load_data_config
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.settings import load_settings

app = typer.Typer(help="aria_data: health, migrations, partitions, backup and restore.", no_args_is_help=True)
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
                                    start_timeout_s=config.embedded_start_timeout_s,
                                    bin_dir=Path(config.pg_bin_dir) if config.pg_bin_dir else None)
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
def backup_cmd(path: str | None = typer.Argument(None, help="File to write (pg_dump custom format); "
                                                            "without it the running service writes one."),
               token: str | None = TokenOpt) -> None:
    """Dump the whole database to PATH, or have the running aria_data write a backup on its node."""
    if path is None:
        b = sdk_call(token, lambda aria: aria.data.backup(), timeout=3600)
        Console().print(f"backup written to {b['path']} ({b['size_bytes']} bytes, {b['tables']} tables)")
        return
    from aria_actors.data.backup import backup  # light: as in _database

    info = _run(lambda conn, url: backup(conn, url, path))
    Console().print(f"backup written to {info.path} ({info.size_bytes} bytes, {info.tables} tables)")


@app.command("restore")
def restore_cmd(path: str = typer.Argument(..., help="A file written by `aria data backup`.")) -> None:
    """Restore PATH into the (empty) database."""
    from aria_actors.data.backup import restore  # light: as in _database

    tables = _run(lambda conn, url: restore(conn, url, path))
    Console().print(f"restored {tables} tables from {path}")


# -- through the gateway -------------------------------------------------------------------------
@app.command()
def health(token: str | None = TokenOpt) -> None:
    """The running aria_data's health: ping, pool, server connections, migrations (exit 1 unless up)."""
    h = sdk_call(token, lambda aria: aria.data.health())
    Console().print(f"{h['status']}: {h['message']}", highlight=False)
    d = h.get("details") or {}
    for key in ("dsn", "ping_ms", "server_connections", "pool", "slow_queries", "migrations_applied",
                "migrations_not_applied", "migration_errors", "partition_maintenance"):
        if key in d:
            Console().print(f"  {key}: {d[key]}", highlight=False)
    if h["status"] not in ("ready", "degraded"):
        raise typer.Exit(1)


@app.command()
def migrations(service: str | None = ServiceOpt, token: str | None = TokenOpt) -> None:
    """Every migration (of one service) and whether the running aria_data has applied it."""
    table = Table("service", "version", "name", "state", "applied at")
    for m in sdk_call(token, lambda aria: aria.data.migrate_status(service)):
        table.add_row(m["service"], f"{m['version']:04d}", m["name"], m["state"], m["applied_at"] or "")
    Console().print(table)


@app.command()
def advice(min_rows: int = typer.Option(10_000, "--min-rows", min=1, help="Only tables this large."),
           token: str | None = TokenOpt) -> None:
    """Indexing and vacuum advice from PostgreSQL's statistics."""
    found = sdk_call(token, lambda aria: aria.data.query_advice(min_rows))
    for a in found:
        Console().print(f"{a['kind']:<12} {a['target']}: {a['message']}", highlight=False)
    if not found:
        Console().print("no advice")


@app.command()
def archive(token: str | None = TokenOpt) -> None:
    """Create the coming time partitions, archive and drop old ones now (the service also does it on
    its timer, every ARIA_DATA_ARCHIVE_INTERVAL_S)."""
    r = sdk_call(token, lambda aria: aria.data.maintain_partitions(), timeout=600)
    Console().print(f"created {r['created']}; archived {r['archived']}; dropped {r['dropped']}", highlight=False)


@app.command()
def backups(token: str | None = TokenOpt) -> None:
    """The backups the running aria_data wrote (`aria data backup`), newest first."""
    for b in sdk_call(token, lambda aria: aria.data.backups()):
        Console().print(f"{b['created_at']}  {b['size_bytes']:>12}  {b['path']}", highlight=False)
