"""Versioned SQL migrations, one folder and one Postgres schema per service.

Layout (the convention every service follows)::

    aria_actors/<svc>/migrations/NNNN_<slug>.sql        applied by migrate_up
    aria_actors/<svc>/migrations/NNNN_<slug>.down.sql   optional; applied by migrate_down

Service ``aria_<svc>`` keeps its tables in schema ``aria_<svc>``. The migrator creates that schema
and runs each migration with ``search_path = aria_<svc>, public``, so unqualified names land in
the service's schema (qualified names work too). What is applied is recorded in
``aria_data.schema_migrations(service, version, name, checksum, applied_at)``.

Public API::

    discover(service) -> list[Migration]                  the files, in version order
    await migrate_up(conn, services=None) -> list[Applied]     pending ones, dependency order
    await migrate_database(dsn, services=None) -> list[Applied]  the same on a connection of its own
    await migrate_down(conn, service, steps=1) -> list[Applied]  newest first
    await migration_status(conn, services=None) -> list[MigrationState]

``conn`` is an ``asyncpg`` connection (a pooled one is fine) that is not inside a transaction.

Guarantees and caveats:
- Services are migrated in boot order (``runtime.graph.start_waves``): a service's migrations
  run after those of every service it depends on. Within a service, by version.
- Each migration runs in its own transaction together with its bookkeeping row: it is applied
  completely or not at all. Statements that cannot run in a transaction
  (``CREATE INDEX CONCURRENTLY``, ``ALTER TYPE ... ADD VALUE`` on old servers) are not supported.
- ``migrate_up``/``migrate_down`` hold a session-level advisory lock on the whole run, so any
  number of migrators started at once (many nodes booting) apply each migration exactly once;
  the others wait, then find nothing left to do.
- The checksum is the sha256 of the up file's bytes. Before applying anything, every applied
  migration of the services concerned is checked: an edited one raises
  :class:`MigrationChecksumMismatch`, a vanished one :class:`MigrationMissing`, and nothing runs.
- ``migrate_status`` takes no lock: it may see a run half done.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from aria_actors.data.errors import (
    MigrationChecksumMismatch,
    MigrationFailed,
    MigrationFileError,
    MigrationIrreversible,
    MigrationLockTimeout,
    MigrationMissing,
)
from aria_actors.data.pool import connect_one
from aria_actors.data.sql_files import ident, queries
from aria_actors.runtime.graph import start_waves
from aria_actors.runtime.registry import all_specs

_SQL = queries("aria_actors.data", "migrations")

__all__ = [
    "Applied",
    "Migration",
    "MigrationState",
    "discover",
    "migrate_database",
    "migrate_down",
    "migrate_up",
    "migration_status",
    "ordered_services",
    "schema_of",
]

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # aria_actors/
# 'aria' 'migr' as one bigint: the advisory lock every Aria migrator takes.
LOCK_KEY = 0x61726961_6D696772
_UP = re.compile(r"^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$")
_DOWN = re.compile(r"^(\d{4})_([a-z0-9][a-z0-9_]*)\.down\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file of a service (and its optional down file)."""

    service: str
    version: int
    name: str
    path: Path
    checksum: str
    down_path: Path | None = None

    def up_sql(self) -> str:
        return self.path.read_text()

    def down_sql(self) -> str:
        if self.down_path is None:
            raise MigrationIrreversible(
                f"{self.service} migration {self.version:04d}_{self.name} has no .down.sql file",
                service=self.service, version=self.version,
            )
        return self.down_path.read_text()


@dataclass(frozen=True, slots=True)
class Applied:
    """A migration applied (or, from migrate_down, reverted) by this call or earlier."""

    service: str
    version: int
    name: str
    checksum: str
    applied_at: datetime | None


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One row of ``migration_status``: state is ``applied``, ``pending``, ``changed`` (applied,
    but the file differs) or ``missing`` (applied, file gone)."""

    service: str
    version: int
    name: str
    state: str
    applied_at: datetime | None


def service_name(service: str) -> str:
    """``queue`` or ``aria_queue`` -> ``aria_queue``."""
    return service if service.startswith("aria_") else f"aria_{service}"


def schema_of(service: str) -> str:
    return service_name(service)


def _folder(service: str, root: Path | None) -> Path:
    return (root or PACKAGE_ROOT) / service_name(service).removeprefix("aria_") / "migrations"


def discover(service: str, root: Path | None = None) -> list[Migration]:
    """The migrations of ``service`` in version order; [] if it has no migrations folder.

    ``root`` is the folder holding ``<svc>/migrations`` (default: the ``aria_actors`` package).
    """
    svc = service_name(service)
    folder = _folder(svc, root)
    if not folder.is_dir():
        return []
    ups: dict[int, Path] = {}
    downs: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.name.endswith(".sql"):
            continue
        m = _DOWN.match(path.name) or _UP.match(path.name)
        if m is None:
            raise MigrationFileError(
                f"{path}: migration files must be named NNNN_<slug>.sql or NNNN_<slug>.down.sql "
                "(lowercase slug)", path=str(path),
            )
        target = downs if path.name.endswith(".down.sql") else ups
        version = int(m.group(1))
        if version in target:
            raise MigrationFileError(
                f"{svc}: two migration files with version {version:04d}: "
                f"{target[version].name} and {path.name}", path=str(path), version=version,
            )
        target[version] = path
    orphans = sorted(set(downs) - set(ups))
    if orphans:
        raise MigrationFileError(
            f"{svc}: down file(s) without an up file: {', '.join(downs[v].name for v in orphans)}",
            versions=orphans,
        )
    out = []
    for version in sorted(ups):
        path = ups[version]
        name = _UP.match(path.name).group(2)  # type: ignore[union-attr]
        down = downs.get(version)
        if down is not None and _DOWN.match(down.name).group(2) != name:  # type: ignore[union-attr]
            raise MigrationFileError(
                f"{svc}: {down.name} does not match {path.name}", path=str(down), version=version,
            )
        out.append(Migration(svc, version, name, path, _sha256(path), down))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ordered_services(services: Iterable[str] | None = None, root: Path | None = None) -> list[str]:
    """Service names in migration (boot) order. Default: every registered service with a
    migrations folder under ``root``. Names not in the registry go last, by name."""
    order = [name for wave in start_waves(all_specs()) for name in wave]
    if services is None:
        wanted = {n for n in order if _folder(n, root).is_dir()}
        base = root or PACKAGE_ROOT
        if base.is_dir():
            wanted |= {
                service_name(p.parent.name) for p in base.glob("*/migrations") if p.is_dir()
            }
    else:
        wanted = {service_name(s) for s in services}
    rank = {n: i for i, n in enumerate(order)}
    return sorted(wanted, key=lambda n: (rank.get(n, len(rank)), n))


async def _applied_rows(conn: asyncpg.Connection, services: Sequence[str]) -> dict[tuple[str, int], Applied]:
    if not await conn.fetchval(_SQL("table_exists")):
        return {}
    rows = await conn.fetch(_SQL("applied"), list(services))
    return {
        (r["service"], r["version"]): Applied(
            r["service"], r["version"], r["name"], r["checksum"], r["applied_at"]
        )
        for r in rows
    }


def _verify(files: dict[str, list[Migration]], applied: dict[tuple[str, int], Applied]) -> None:
    by_key = {(m.service, m.version): m for ms in files.values() for m in ms}
    for key, row in sorted(applied.items()):
        m = by_key.get(key)
        if m is None:
            raise MigrationMissing(
                f"{row.service} migration {row.version:04d}_{row.name} is applied but its file is "
                f"gone from {_folder(row.service, None).name}/", service=row.service, version=row.version,
            )
        if m.checksum != row.checksum:
            raise MigrationChecksumMismatch(
                f"{m.path.name} of {m.service} was edited after it was applied "
                f"(applied sha256 {row.checksum[:12]}, file {m.checksum[:12]}); restore it and put "
                "the change in a new migration",
                service=m.service, version=m.version, file=str(m.path),
            )


class _Locked:
    """Session advisory lock for the duration of a migrate run (released even on error)."""

    def __init__(self, conn: asyncpg.Connection, timeout: float | None) -> None:
        self.conn, self.timeout = conn, timeout

    async def __aenter__(self) -> None:
        try:
            await self.conn.execute(_SQL("lock"), LOCK_KEY, timeout=self.timeout)
        except TimeoutError:
            # The cancel may race the grant: release what we may hold (a no-op if we do not).
            await self.__aexit__()
            raise MigrationLockTimeout(
                f"waited {self.timeout}s for the migrations lock held by another migrator",
                timeout_s=self.timeout,
            ) from None

    async def __aexit__(self, *exc: object) -> None:
        if self.conn.is_closed():
            return  # the server dropped the session and its lock with it
        # A broken session: the server releases the lock when the session goes.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await self.conn.execute(_SQL("unlock"), LOCK_KEY)


async def migrate_up(
    conn: asyncpg.Connection,
    services: Iterable[str] | None = None,
    *,
    target: int | None = None,
    root: Path | None = None,
    lock_timeout_s: float | None = 300.0,
) -> list[Applied]:
    """Apply pending migrations of ``services`` (default: all) in dependency order.

    ``target`` stops at that version (only meaningful for one service). Returns what this call
    applied, in order; [] when everything was already applied.
    """
    requested = None if services is None else {service_name(s) for s in services}
    if services is not None and _folder("aria_data", root).is_dir():
        # Every service's migrations may call aria_data's functions (tenant isolation).
        services = [*services, "aria_data"]
    names = ordered_services(services, root)
    files = {s: discover(s, root) for s in names}
    done: list[Applied] = []
    async with _Locked(conn, lock_timeout_s):
        async with conn.transaction():
            await conn.execute(_SQL("bootstrap"))
        applied = await _applied_rows(conn, names)
        _verify(files, applied)
        for svc in names:
            for m in files[svc]:
                beyond = target is not None and m.version > target and (requested is None or svc in requested)
                if (svc, m.version) in applied or beyond:
                    continue
                try:
                    async with conn.transaction():
                        schema = ident(schema_of(svc))
                        await conn.execute(_SQL("create_schema").format(schema=schema))
                        await conn.execute(_SQL("search_path").format(schema=schema))
                        await conn.execute(m.up_sql())
                        at = await conn.fetchval(
                            _SQL("record"), svc, m.version, m.name, m.checksum
                        )
                except asyncpg.PostgresError as exc:
                    raise MigrationFailed(
                        f"{svc} migration {m.path.name} failed and was rolled back: "
                        f"{type(exc).__name__}: {exc}",
                        service=svc, version=m.version, file=str(m.path),
                    ) from exc
                done.append(Applied(svc, m.version, m.name, m.checksum, at))
    return done


async def migrate_database(
    dsn: str,
    services: Iterable[str] | None = None,
    *,
    setting: str = "ARIA_DATABASE_URL",
    lock_timeout_s: float | None = 300.0,
) -> list[Applied]:
    """:func:`migrate_up` on a connection of its own to ``dsn``: the migrate step where no aria_data
    service runs (tests, benchmarks, a service given its own database without aria_data). A
    running service asks aria_data instead: ``deps.of(DataClient).migrate(ME, "<service>")``."""
    conn = await connect_one(dsn, setting=setting, name="aria_migrate")
    try:
        return await migrate_up(conn, services, lock_timeout_s=lock_timeout_s)
    finally:
        await conn.close()


async def migrate_down(
    conn: asyncpg.Connection,
    service: str,
    *,
    steps: int = 1,
    to_version: int | None = None,
    root: Path | None = None,
    lock_timeout_s: float | None = 300.0,
) -> list[Applied]:
    """Revert the newest ``steps`` applied migrations of ``service`` (or all above
    ``to_version``, 0 meaning all), newest first, each with its ``.down.sql``.

    Reverting is refused (:class:`MigrationIrreversible`) before anything runs when one of them
    has no down file. Dependents are not checked: reverting a schema others use breaks them.
    """
    if steps < 0 or (to_version is not None and to_version < 0):
        raise ValueError("steps and to_version must be >= 0")
    svc = service_name(service)
    files = {svc: discover(svc, root)}
    done: list[Applied] = []
    async with _Locked(conn, lock_timeout_s):
        applied = await _applied_rows(conn, [svc])
        _verify(files, applied)
        versions = sorted((v for (_, v) in applied), reverse=True)
        chosen = (
            versions[:steps] if to_version is None else [v for v in versions if v > to_version]
        )
        by_version = {m.version: m for m in files[svc]}
        plan = [by_version[v] for v in chosen]
        for m in plan:
            if m.down_path is None:
                m.down_sql()  # raises MigrationIrreversible with the details
        for m in plan:
            try:
                async with conn.transaction():
                    await conn.execute(_SQL("search_path").format(schema=ident(schema_of(svc))))
                    await conn.execute(m.down_sql())
                    await conn.execute(_SQL("forget"), svc, m.version)
            except asyncpg.PostgresError as exc:
                raise MigrationFailed(
                    f"{svc} down migration {m.down_path.name if m.down_path else m.name} failed and "
                    f"was rolled back: {type(exc).__name__}: {exc}",
                    service=svc, version=m.version,
                ) from exc
            done.append(Applied(svc, m.version, m.name, m.checksum, applied[(svc, m.version)].applied_at))
    return done


async def migration_status(
    conn: asyncpg.Connection, services: Iterable[str] | None = None, *, root: Path | None = None
) -> list[MigrationState]:
    """Every known migration (files and applied rows) with its state, in migration order."""
    names = ordered_services(services, root)
    files = {s: discover(s, root) for s in names}
    applied = await _applied_rows(conn, names)
    out: list[MigrationState] = []
    for svc in names:
        seen: set[int] = set()
        for m in files[svc]:
            row = applied.get((svc, m.version))
            seen.add(m.version)
            if row is None:
                out.append(MigrationState(svc, m.version, m.name, "pending", None))
            else:
                state = "applied" if row.checksum == m.checksum else "changed"
                out.append(MigrationState(svc, m.version, m.name, state, row.applied_at))
        gone = [r for (s, v), r in applied.items() if s == svc and v not in seen]
        out.extend(MigrationState(svc, r.version, r.name, "missing", r.applied_at) for r in gone)
        out.sort(key=lambda st: (names.index(st.service), st.version))
    return out
