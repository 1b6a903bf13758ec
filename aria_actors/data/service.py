"""aria_data: PostgreSQL for every stateful service: embedded server, pool, migrations, health.

Start::

    credentials: ARIA_DATABASE_URL set ----------------------------> use it (stored in aria_security)
                 empty, aria_security holds services/aria_data/database (not embedded) -> use that,
                   with user/password from OpenBao's database engine when it names a db_role
                 otherwise ------------------------------------------> start the embedded server
    -> open the pool -> apply aria_data's migrations (failure fails the start)
    -> apply every other service's migrations in dependency order (a failure is kept and shown as
       DEGRADED; that service's own migrate() call raises it)
    -> maintain time partitions now and every ARIA_DATA_ARCHIVE_INTERVAL_S (archival.py)

Guarantees and caveats:
- ``health()`` pings the server and reports pool stats, server connections, table sizes, slow
  queries and migration state; it is READY only when the ping answers and nothing is pending.
- ``stop()`` closes the pool and stops the embedded server it started (or found running).
- Dynamic database credentials (``db_role_kind: dynamic``) carry a lease; the lease is not
  renewed here, so set its TTL longer than Aria runs or use a static role (rotated by OpenBao).
- ``dsn()`` returns the URL with its credentials: services open their own pools with it. It is
  never logged; health and errors carry the masked form.

RPC surface (every call's first argument is the caller's principal; see ``aria_actors.runtime.rpc``):
``dsn`` and ``migrate`` (what every stateful service calls at start), ``maintain_partitions``,
``query_advice``, ``statement_stats``, ``explain_statement``, ``check_index`` (statements.py:
pg_stat_statements, generic plans, an index tried on a rolled-back copy of a table), ``backup`` and
``backups`` need an ``@any`` grant (admin, operator, or a service
acting for itself), since they hand out credentials, change every schema, read all tenants'
statistics or dump every tenant's rows; ``probe`` (the health route) too, since it shows the
server, table sizes and slow queries' text; ``migrate_status`` is a plain ``data:migration:read``.
``backup`` writes only under ``<ARIA_HOME>/backups`` on the service's node, to a name it makes:
no caller chooses a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from aria_actors.data.archival import maintain
from aria_actors.data.backup import backup as dump_database
from aria_actors.data.embedded import EmbeddedPostgres
from aria_actors.data.errors import DataError, DataNotStarted
from aria_actors.data.migrations import migrate_up, migration_status, ordered_services
from aria_actors.data.migrations import service_name as full_name
from aria_actors.data.optimize import advice
from aria_actors.data.pool import Database
from aria_actors.data.spec import SPEC
from aria_actors.data.sql_files import queries
from aria_actors.data.statements import StatsState, check_index, explain_statement, prepare_stats, statement_stats
from aria_actors.runtime.errors import AriaError, BadRequest, Conflict
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.security.client import SecurityClient

if TYPE_CHECKING:
    from aria_actors.data.config import DataConfig

log = logging.getLogger("aria.data")

ME = Principal.internal(SPEC.name)
SECRET_PATH = "services/aria_data/database"
# A service's migrations folder is found from its name, so a name must not be able to walk paths.
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ADVICE_MIN_ROWS = 10**9
MAX_STATEMENTS = 1000
_HEALTH = queries("aria_actors.data", "health")


class DataService(Service):
    SPEC = SPEC

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.config: DataConfig | None = None
        self.db: Database | None = None
        self.embedded: EmbeddedPostgres | None = None
        self._dsn: str | None = None
        self.dsn_source = ""
        self.migration_errors: dict[str, str] = {}
        self.lease_id: str | None = None
        self.last_maintenance: dict[str, Any] | None = None
        self._maintainer: Any = None
        self._maintaining = asyncio.Lock()  # partition maintenance: the timer and calls, one at a time
        self._index_checking = False  # check_index: one at a time (an event loop: no lock needed)
        self._early_server: Any = None  # asyncio future of the embedded server's start (prepare)
        self.stats_state = StatsState(False, "not started")  # pg_stat_statements (statements.py)

    # -- lifecycle ---------------------------------------------------------------------------
    async def prepare(self) -> None:
        # With no database configured, the embedded server (initdb on the first boot, then its
        # start: 0.6-1.5 s on the 2-core machine) needs nothing from aria_security: it starts now,
        # while aria_security boots. start() stops it again if aria_security holds the URL of
        # another database (a URL given once with ARIA_DATABASE_URL is remembered there).
        if self.settings.database_url.get_secret_value() or self._early_server is not None:
            return
        try:
            self.embedded = self._new_embedded(self.settings.data)
        except Exception:  # start() does the same again and reports what is wrong
            log.exception("preparing the embedded PostgreSQL failed")
            self.embedded = None
            return
        self._early_server = asyncio.ensure_future(asyncio.to_thread(self.embedded.start))

    def _new_embedded(self, config: DataConfig) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.settings.home / "postgres", start_timeout_s=config.embedded_start_timeout_s,
                                bin_dir=Path(config.pg_bin_dir) if config.pg_bin_dir else None,
                                max_connections=config.embedded_max_connections)

    async def _drop_early_server(self) -> None:
        """Stop the embedded server prepare() started (the database is elsewhere, or the service
        stops without having started)."""
        early, self._early_server = self._early_server, None
        if early is None or self.embedded is None:
            return
        with contextlib.suppress(Exception):  # a failed start has nothing to stop
            await early
        await asyncio.to_thread(self.embedded.stop)
        self.embedded = None

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        self.config = self.settings.data  # the tree's [data] section, validated at load
        dsn, setting = await self._resolve_dsn()
        self.db = await Database.connect(dsn, self.config, setting=setting, name="aria_data")
        self._dsn, self.dsn_source = dsn, setting
        lock = self.config.migrate_lock_timeout_s
        async with self.db.acquire() as conn:
            await migrate_up(conn, ["aria_data"], lock_timeout_s=lock)
            for svc in ordered_services():
                if svc == "aria_data":
                    continue
                try:
                    await migrate_up(conn, [svc], lock_timeout_s=lock)
                except Exception as exc:  # one service's bad migration must not stop the others
                    self.migration_errors[svc] = f"{type(exc).__name__}: {exc}"
                    log.error("migrations of %s failed: %s", svc, exc)
            try:
                self.stats_state = await prepare_stats(conn)
            except Exception as exc:  # statement statistics are optional: never a failed start
                self.stats_state = StatsState(False, f"checking pg_stat_statements failed: {exc}")
        if not self.stats_state.available:
            log.info("no statement statistics: %s", self.stats_state.reason)
        await self._maintain()
        self._maintainer = asyncio.create_task(self._maintain_loop(), name="aria_data.partitions")

    async def _maintain_loop(self) -> None:
        assert self.config is not None
        while True:
            await asyncio.sleep(self.config.archive_interval_s)
            try:
                await self._maintain()
            except Exception as exc:  # keep the loop; health shows the error
                self.last_maintenance = {"error": f"{type(exc).__name__}: {exc}"}
                log.error("partition maintenance failed: %s", exc)

    async def stop(self) -> None:
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
            self._maintainer = None
        if self.db is not None:
            await self.db.close()
            self.db = None
        await self._drop_early_server()  # prepared, never started
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None

    async def health(self) -> Health:
        if self.db is None:
            return Health(Status.STARTING if self.config is None else Status.FAILED, "not started")
        try:
            latency = await self.db.ping()
            async with self.db.acquire() as conn:
                connections = await conn.fetchval(_HEALTH("connections"))
                sizes = [dict(r) for r in await conn.fetch(_HEALTH("table_sizes"))]
                states = await migration_status(conn)
        except DataError as exc:
            return Health(Status.FAILED, exc.message, {"pool": self.db.stats()})
        except Exception as exc:  # a probe reports, it does not raise: the pool recovers by itself
            return Health(Status.FAILED, f"database probe failed: {type(exc).__name__}: {exc}",
                          {"pool": self.db.stats()})
        pending = [f"{s.service}:{s.version:04d}" for s in states if s.state != "applied"]
        stats = self.db.stats()
        details = {
            "dsn": self.db.masked_dsn, "dsn_source": self.dsn_source,
            "embedded": self.embedded is not None,
            "embedded_pid": self.embedded.pid() if self.embedded else None,
            "ping_ms": round(latency * 1000, 2), "server_connections": connections,
            "pool": stats, "slow_queries": stats["slow_queries"],
            "recent_slow_queries": list(self.db.recent_slow)[-5:],
            "table_sizes": sizes, "migrations_applied": sum(s.state == "applied" for s in states),
            "migrations_not_applied": pending, "migration_errors": dict(self.migration_errors),
            "partition_maintenance": self.last_maintenance,
            "pg_stat_statements": "loaded" if self.stats_state.available else f"absent: {self.stats_state.reason}",
        }
        if pending or self.migration_errors:
            return Health(Status.DEGRADED, f"{len(pending)} migration(s) not applied", details)
        if stats["in_use"] >= stats["max_size"]:
            return Health(Status.DEGRADED, "pool exhausted: every connection is in use", details)
        return Health(Status.READY, f"PostgreSQL answers in {details['ping_ms']} ms", details)

    # -- the declared RPC surface --------------------------------------------------------------

    @rpc("data:health:read", scope="any", features=("postgres", "db-health", "pools"))
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (ping, pool, connections, table sizes, migrations), as a dict."""
        return (await self.health()).to_dict()

    @rpc("data:database:connect", scope="any")
    async def dsn(self, caller: Principal) -> str:
        """The URL (with credentials) other services open their own pools with."""
        if self._dsn is None:
            raise DataNotStarted()
        return self._dsn

    @rpc("data:migration:run", scope="any", features=("migrations", "schema"))
    async def migrate(self, caller: Principal, service_name: str) -> list[str]:
        """Apply ``service_name``'s pending migrations; returns the applied ``NNNN_slug`` names."""
        _check_service_name(service_name)
        db = self._db()
        async with db.acquire() as conn:
            done = await migrate_up(conn, [service_name],
                                    lock_timeout_s=db.config.migrate_lock_timeout_s)
        self.migration_errors.pop(full_name(service_name), None)
        return [f"{a.version:04d}_{a.name}" for a in done]

    @rpc("data:partition:maintain", scope="any", feature="archival")
    async def maintain_partitions(self, caller: Principal) -> dict[str, Any]:
        """Create, archive and drop time partitions of registered tables (see archival.py)."""
        return await self._maintain()

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def query_advice(self, caller: Principal, min_rows: int = 10_000) -> list[dict[str, Any]]:
        """Indexing and vacuum advice from PostgreSQL's statistics (see optimize.py)."""
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or not (
                1 <= min_rows <= MAX_ADVICE_MIN_ROWS):
            raise BadRequest(f"min_rows must be an integer from 1 to {MAX_ADVICE_MIN_ROWS}",
                             min_rows=repr(min_rows)[:40])
        async with self._db().acquire() as conn:
            return [{"kind": a.kind, "target": a.target, "message": a.message}
                    for a in await advice(conn, min_rows=min_rows)]

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def statement_stats(self, caller: Principal, limit: int = 50, min_calls: int = 1) -> dict[str, Any]:
        """This database's statements from pg_stat_statements, most total time first: queryid (text),
        normalized query (no literals), calls, total/mean ms, rows. ``available`` false (with the
        reason) where the server does not load pg_stat_statements."""
        limit = _bounded(limit, "limit", 1, MAX_STATEMENTS)
        min_calls = _bounded(min_calls, "min_calls", 1, 10**12)
        if not self.stats_state.available:
            self._db()
            return {"available": False, "reason": self.stats_state.reason, "statements": []}
        async with self._db().acquire() as conn:
            rows = await statement_stats(conn, self.stats_state, limit, min_calls)
        return {"available": True, "reason": None, "statements": rows}

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def explain_statement(self, caller: Principal, queryid: int | str) -> dict[str, Any]:
        """The generic plan of statement ``queryid`` (pg_stat_statements) on the real tables, nothing
        executed, with the columns of the tables it reads."""
        db = self._db()
        assert self.config is not None
        async with db.acquire() as conn:
            return await explain_statement(conn, self.stats_state, queryid, self.config.index_check_timeout_s)

    @rpc("data:query:explain", scope="any", feature="query-optimization")
    async def check_index(self, caller: Principal, queryid: int | str, table: str, columns: list[str]
                          ) -> dict[str, Any]:
        """Plan statement ``queryid`` on a sampled copy of ``table`` (``schema.table``) before and after
        an index on ``columns``: costs, scans, whether the index is used. The copy lives in a scratch
        schema inside a transaction that is rolled back (statements.py). One at a time: each copies
        up to ``index_check_rows`` rows; a second while one runs is a 409."""
        db = self._db()
        assert self.config is not None
        if self._index_checking:
            raise Conflict("an index check is running (each copies a sample of a table); retry when it is done")
        self._index_checking = True
        try:
            async with db.acquire() as conn:
                return await check_index(conn, self.stats_state, queryid, table, columns,
                                         rows=self.config.index_check_rows,
                                         timeout_s=self.config.index_check_timeout_s)
        finally:
            self._index_checking = False

    @rpc("data:backup:run", scope="any", feature="backup")
    async def backup(self, caller: Principal) -> dict[str, Any]:
        """Dump the whole database (pg_dump, custom format) to a new file in ``<ARIA_HOME>/backups``
        on the service's node; ``aria data restore FILE`` loads it into an empty database."""
        db = self._db()
        if self._dsn is None:
            raise DataNotStarted()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        async with db.acquire() as conn:
            info = await dump_database(conn, self._dsn, self._backup_dir() / f"aria-{stamp}.dump")
        return {"name": Path(info.path).name, "path": info.path, "size_bytes": info.size_bytes,
                "tables": info.tables}

    @rpc("data:backup:list", scope="any", feature="backup")
    async def backups(self, caller: Principal) -> list[dict[str, Any]]:
        """The backups :meth:`backup` wrote, newest first: name, path, size, time (UTC)."""
        self._db()  # as every call: not before the service has started
        folder = self._backup_dir()

        def _list() -> list[dict[str, Any]]:
            out = []
            for f in folder.glob("aria-*.dump"):
                st = f.stat()
                out.append({"name": f.name, "path": str(f), "size_bytes": st.st_size,
                            "created_at": datetime.fromtimestamp(st.st_mtime, UTC).isoformat()})
            return sorted(out, key=lambda b: b["name"], reverse=True)

        return await asyncio.to_thread(_list)

    @rpc("data:migration:read", features=("migrations", "schema"))
    async def migrate_status(self, caller: Principal, services: list[str] | None = None
                             ) -> list[dict[str, Any]]:
        """Every migration of ``services`` (default: all) and whether it is applied."""
        if services is not None:
            if not isinstance(services, list | tuple) or len(services) > 64:
                raise BadRequest("services must be a list of at most 64 service names")
            for name in services:
                _check_service_name(name)
        async with self._db().acquire() as conn:
            states = await migration_status(conn, services)
        return [
            {"service": s.service, "version": s.version, "name": s.name, "state": s.state,
             "applied_at": s.applied_at.isoformat() if s.applied_at else None}
            for s in states
        ]

    # -- internals ---------------------------------------------------------------------------

    async def _maintain(self) -> dict[str, Any]:
        db = self._db()
        # One round at a time: the timer and an operator's call would race to create or drop
        # the same partition.
        async with self._maintaining, db.acquire() as conn:
            report = await maintain(conn, default_retention_days=db.config.archive_retention_days)
        self.last_maintenance = {"at": time.time(), "created": report.created,
                                 "archived": report.archived, "dropped": report.dropped}
        return self.last_maintenance

    def _db(self) -> Database:
        if self.db is None:
            raise DataNotStarted()
        return self.db

    def _backup_dir(self) -> Path:
        folder = self.settings.home / "backups"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    async def _resolve_dsn(self) -> tuple[str, str]:
        """(dsn, the setting it came from) per the start diagram in the module docstring."""
        # Unit tests and tools may start aria_data alone; the runtime always gives aria_security.
        security = self.deps.of(SecurityClient) if "aria_security" in self.deps else None
        stored = await self._read_secret(security)
        url = self.settings.database_url.get_secret_value()
        if url:
            if security is not None and (stored or {}).get("url") != url:
                await self._write_secret(security, {"url": url, "embedded": False})
            return url, "ARIA_DATABASE_URL"
        if stored and stored.get("url") and not stored.get("embedded"):
            await self._drop_early_server()
            if stored.get("db_role"):
                return await self._with_openbao_creds(security, stored), (
                    f"aria_security:{SECRET_PATH} + database role {stored['db_role']}")
            return stored["url"], f"aria_security:{SECRET_PATH}"
        assert self.config is not None
        if self._early_server is not None:  # begun by prepare()
            early, self._early_server = self._early_server, None
            dsn = await early
        else:
            self.embedded = self._new_embedded(self.config)
            dsn = await asyncio.to_thread(self.embedded.start)
        if security is not None and (stored or {}).get("url") != dsn:
            await self._write_secret(security, {"url": dsn, "embedded": True})
        return dsn, "embedded PostgreSQL"

    async def _with_openbao_creds(self, security: SecurityClient, stored: dict[str, Any]) -> str:
        """The stored URL with a user and password from OpenBao's database secrets engine:
        ``{"url": ..., "db_role": R, "db_role_kind": "static"|"dynamic"}``."""
        if stored.get("db_role_kind", "dynamic") == "static":
            creds = await security.db_static_creds(ME, stored["db_role"])
        else:
            creds = await security.db_creds(ME, stored["db_role"])
        parts = urlsplit(stored["url"])
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{quote(creds['username'], safe='')}:{quote(creds['password'], safe='')}@{host}"
        self.lease_id = creds.get("lease_id")
        return urlunsplit(parts._replace(netloc=netloc))

    async def _read_secret(self, security: SecurityClient | None) -> dict[str, Any] | None:
        if security is None:
            return None
        try:
            got = await security.kv_get(ME, SECRET_PATH)
        except AriaError as exc:
            if exc.status != 404:
                log.warning("cannot read %s from aria_security (%s); using settings",
                            SECRET_PATH, exc.type)
            return None
        data = got.get("data", got) if isinstance(got, dict) else None
        return data if isinstance(data, dict) else None

    async def _write_secret(self, security: SecurityClient, data: dict[str, Any]) -> None:
        try:
            await security.kv_put(ME, SECRET_PATH, data)
        except AriaError as exc:
            log.warning("cannot store %s in aria_security (%s)", SECRET_PATH, exc.type)


def _bounded(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def _check_service_name(name: Any) -> None:
    if not isinstance(name, str) or not _SERVICE_NAME.match(name):
        raise BadRequest("a service name is lowercase letters, digits and '_' (like aria_queue or "
                         "queue), at most 64 characters", service=str(name)[:80])
