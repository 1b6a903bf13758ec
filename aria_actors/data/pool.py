"""The one way into PostgreSQL: asyncpg pools with Aria's settings, typed connect errors, stats.

``db = await Database.connect(dsn, config)`` then ``await db.fetch(...)``,
``await db.transaction(fn, tenant=...)``, ``db.stats()``, ``await db.close()``. Every service
opens its pool here, on the URL ``DataClient.dsn`` gives it::

    db = await Database.connect(dsn, name="aria_queue", min_size=1, max_size=cfg.pool_size)

and code that needs one connection of its own (``LISTEN``, a session advisory lock) takes it from
:func:`connect_one`. No other module calls ``asyncpg.create_pool`` (a unit test checks).

Guarantees and caveats:
- Connecting fails with one typed error within ``connect_timeout_s``, naming the setting the
  URL came from, password masked: :class:`DatabaseUrlInvalid` (malformed),
  :class:`DatabaseAuthFailed` (credentials refused), :class:`DatabaseUnreachable` (nothing
  answers, unknown host, unknown database, server starting up).
- Every connection runs with ``statement_timeout`` (server side, ``ARIA_DATA_STATEMENT_TIMEOUT_S``)
  and ``application_name`` = the pool's ``name`` (the service), plus the caller's
  ``server_settings``. Pool sizes are ``ARIA_DATA_POOL_MIN_SIZE``/``_MAX_SIZE`` unless the caller
  (a service, from its own ``pool_size``) passes ``min_size``/``max_size``.
- After the server restarts, broken connections are replaced on their next acquire (asyncpg
  checks ``is_closed``): the pool recovers without being re-created. A query running while the
  server goes away fails with :class:`DatabaseUnreachable` and is not retried (its effect is
  unknown); the next call gets a fresh connection.
- ``query_errors`` counts the database's errors only: in a ``transaction``, an exception of the
  body's own (a refusal it raises, an error of a call it makes to another service) passes through
  uncounted and untouched; an asyncpg error from it is counted, and an ``OSError`` or
  ``TimeoutError`` from it is counted and reported as a lost connection only when the body's
  connection is indeed closed.
- Queries slower than ``slow_query_ms`` are counted and logged with their text, never their
  arguments (arguments may hold secrets or personal data). Timed are the calls through this
  class (``fetch*``, ``execute``, and each ``transaction`` as a whole); statements on a raw
  ``acquire()``d connection are not (asyncpg's per-query logger cost ~16 % of simple-query
  throughput here, measured).
- The DSN is kept only inside the pool; ``repr``, logs and stats carry the masked form.
- Statements on ``db.pool`` or an ``acquire()``d connection get the settings and the statement
  timeout, but a lost connection surfaces as asyncpg's own error there, not DatabaseUnreachable.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from aria_actors.data import dsn as dsnlib
from aria_actors.data.config import DataConfig, load_data_config
from aria_actors.data.errors import DatabaseAuthFailed, DatabaseUnreachable, DatabaseUrlInvalid
from aria_actors.data.sql_files import name_of, query
from aria_actors.data.transactions import Isolation, RetryPolicy, run_transaction
from aria_actors.runtime import tracing

log = logging.getLogger("aria.data.pool")
_clock = time.perf_counter
T = TypeVar("T")
_LIVE: weakref.WeakSet[Database] = weakref.WeakSet()
_PING = query("aria_actors.data", "health", "ping")


# Errors meaning "the connection or the server went away".
_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionFailureError,
    # asyncpg's own state machine breaks when the socket dies mid-operation; its pool then
    # terminates the connection, and the next acquire opens a new one.
    asyncpg.InternalClientError,
)


def _loss(exc: BaseException) -> BaseException | None:
    """The lost connection ``exc`` reports, if it does. A transaction whose connection went away
    inside its body ends in asyncpg's InterfaceError from the ROLLBACK ("the underlying connection
    is closed"), with the loss itself as its context."""
    if isinstance(exc, _LOST):
        return exc
    if isinstance(exc, asyncpg.InterfaceError) and isinstance(exc.__context__, _LOST):
        return exc.__context__
    return None


def _from_database(exc: BaseException, conn: asyncpg.Connection) -> bool:
    """Whether ``exc``, raised by a transaction's body on ``conn``, is the database's (asyncpg's
    own, or a socket error of a connection that is now closed) rather than the body's own."""
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        return True
    if not isinstance(exc, OSError):  # TimeoutError is an OSError too
        return False
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # terminated, the pool's proxy let go of it: closed as well
        return True


class Database:
    """An asyncpg pool with Aria's settings, counters and error mapping."""

    def __init__(self, pool: asyncpg.Pool, config: DataConfig, masked_dsn: str, name: str) -> None:
        self.pool = pool
        self.config = config
        self.masked_dsn = masked_dsn
        self.name = name
        self.queries = 0
        self.slow_queries = 0
        self.query_errors = 0
        self.retries = 0
        self.recent_slow: deque[dict[str, Any]] = deque(maxlen=20)
        self._slow_s = config.slow_query_ms / 1000.0
        self._policy = RetryPolicy(
            config.retry_attempts, config.retry_base_delay_s, config.retry_max_delay_s
        )
        _LIVE.add(self)
        _register_metrics()

    def __repr__(self) -> str:
        return f"Database({self.name!r}, {self.masked_dsn})"

    @classmethod
    async def connect(
        cls,
        dsn: str,
        config: DataConfig | None = None,
        *,
        setting: str = "ARIA_DATABASE_URL",
        name: str = "aria",
        min_size: int | None = None,
        max_size: int | None = None,
        server_settings: dict[str, str] | None = None,
    ) -> Database:
        """Open the pool (``min_size`` connections, default ``pool_min_size``) or raise one typed
        error. ``name`` labels its stats and metrics and is its ``application_name``; ``setting``
        names where ``dsn`` came from in errors."""
        config = config or load_data_config()
        lo = config.pool_min_size if min_size is None else min_size
        hi = config.pool_max_size if max_size is None else max_size
        if not 0 <= lo <= hi or hi < 1:
            raise ValueError(f"pool {name!r}: need 0 <= min_size ({lo}) <= max_size ({hi}), "
                             f"max_size >= 1")
        dsnlib.validate(dsn, setting)
        masked = dsnlib.mask(dsn)
        try:
            async with asyncio.timeout(config.connect_timeout_s):
                pool = await asyncpg.create_pool(
                    dsn, min_size=lo, max_size=hi, timeout=config.connect_timeout_s,
                    server_settings=_settings(config, name, server_settings),
                )
        except Exception as exc:  # mapped to a typed error; unknown ones pass through
            raise _connect_error(exc, setting, masked, config.connect_timeout_s) from None
        return cls(pool, config, masked, name)

    # -- queries -----------------------------------------------------------------------------

    async def _query(self, run: Any, query: str, args: tuple[Any, ...], timeout: float | None,
                     own: Callable[[BaseException], bool] | None = None) -> Any:
        """One pool call, timed for the slow-query log, with a lost connection made typed;
        ``own(exc)``: ``exc`` is the caller's own, passed through uncounted and as it is."""
        t0 = _clock()
        try:
            with tracing.query(query, name_of):  # a span named by the statement's .sql name, no text
                return await run(query, *args, timeout=timeout)
        except Exception as exc:
            if own is not None and own(exc):
                raise
            self.query_errors += 1
            lost = _loss(exc)
            if lost is not None:
                raise self._lost(lost) from exc
            raise
        finally:
            self._observe(query, t0)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        return await self._query(self.pool.fetch, query, args, timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._query(self.pool.fetchrow, query, args, timeout)

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._query(self.pool.fetchval, query, args, timeout)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        return await self._query(self.pool.execute, query, args, timeout)

    def acquire(self) -> Any:
        """``async with db.acquire() as conn``: a raw pooled connection."""
        return self.pool.acquire()

    async def transaction(
        self,
        fn: Callable[[asyncpg.Connection], Awaitable[T]],
        *,
        isolation: Isolation = "read_committed",
        readonly: bool = False,
        tenant: str | None = None,
    ) -> T:
        """``fn(conn)`` in a transaction, retried on serialization failure/deadlock
        (see :mod:`aria_actors.data.transactions`)."""
        def _count(_attempt: int, _exc: BaseException) -> None:
            self.retries += 1

        body_errors: list[BaseException] = []  # raised by the body itself, not by the database

        async def body(conn: asyncpg.Connection) -> T:
            try:
                return await fn(conn)
            except Exception as exc:
                if not _from_database(exc, conn):
                    body_errors.append(exc)
                raise

        async def run(_label: str, *, timeout: float | None) -> T:
            return await run_transaction(
                self.pool, body, isolation=isolation, readonly=readonly, tenant=tenant,
                policy=self._policy, on_retry=_count,
            )

        # Through _query, so a transaction is timed, counted and typed like any one query. What
        # the body raised of its own passes through as it is; what failed around it (acquiring,
        # BEGIN, the tenant, COMMIT, a ROLLBACK on a dead connection) is the database's.
        return await self._query(run, f"transaction {getattr(fn, '__qualname__', 'fn')}", (), None,
                                 own=lambda exc: any(exc is e for e in body_errors))

    # -- health ------------------------------------------------------------------------------

    async def ping(self, timeout: float | None = None) -> float:
        """Round-trip seconds of ``SELECT 1`` (raises DatabaseUnreachable); ``timeout`` defaults
        to ``connect_timeout_s``."""
        t0 = time.perf_counter()
        await self.fetchval(_PING, timeout=timeout or self.config.connect_timeout_s)
        return time.perf_counter() - t0

    def stats(self) -> dict[str, Any]:
        p = self.pool
        size = p.get_size()
        idle = p.get_idle_size()
        return {
            "name": self.name, "dsn": self.masked_dsn,
            "size": size, "idle": idle, "in_use": size - idle,
            "min_size": p.get_min_size(), "max_size": p.get_max_size(),
            "queries": self.queries, "slow_queries": self.slow_queries,
            "query_errors": self.query_errors, "retries": self.retries,
            "slow_query_ms": self.config.slow_query_ms,
        }

    async def close(self) -> None:
        _LIVE.discard(self)
        if not self.pool._closed:  # asyncpg has no public "is closed"
            await self.pool.close()

    # -- internals ---------------------------------------------------------------------------

    def _observe(self, query: str, t0: float) -> None:
        self.queries += 1
        elapsed = _clock() - t0
        if elapsed >= self._slow_s:
            self.slow_queries += 1
            text = query if len(query) <= 500 else query[:500] + "..."
            self.recent_slow.append({"query": text, "ms": round(elapsed * 1000, 1),
                                     "at": time.time()})
            log.warning("slow query (%.0f ms > %.0f ms): %s", elapsed * 1000,
                        self.config.slow_query_ms, text)

    def _lost(self, exc: BaseException) -> DatabaseUnreachable:
        return DatabaseUnreachable(
            f"lost the database connection ({type(exc).__name__}: {exc}); the pool reconnects on "
            f"the next call: {self.masked_dsn}", dsn=self.masked_dsn,
        )


async def connect_one(
    dsn: str,
    config: DataConfig | None = None,
    *,
    setting: str = "ARIA_DATABASE_URL",
    name: str = "aria",
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Connection:
    """One connection outside any pool (for ``LISTEN`` or a session-level advisory lock), with the
    same settings and typed connect errors as :meth:`Database.connect`; the caller closes it."""
    config = config or load_data_config()
    dsnlib.validate(dsn, setting)
    masked = dsnlib.mask(dsn)
    try:
        async with asyncio.timeout(config.connect_timeout_s):
            return await asyncpg.connect(dsn, timeout=config.connect_timeout_s,
                                         server_settings=_settings(config, name, server_settings))
    except Exception as exc:  # mapped to a typed error; unknown ones pass through
        raise _connect_error(exc, setting, masked, config.connect_timeout_s) from None


def _settings(config: DataConfig, name: str, extra: dict[str, str] | None) -> dict[str, str]:
    # PostgreSQL keeps at most 63 bytes of application_name.
    settings = {"application_name": name[:63]}
    if config.statement_timeout_s:
        settings["statement_timeout"] = str(int(config.statement_timeout_s * 1000))
    settings.update(extra or {})
    return settings


def _connect_error(exc: Exception, setting: str, masked: str, timeout: float) -> Exception:
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseAuthFailed(
            f"{setting}: the server refused the credentials ({exc.sqlstate}: {exc}): {masked}",
            setting=setting, url=masked,
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseUnreachable(
            f"{setting}: the database does not exist ({exc}): {masked}", setting=setting, url=masked,
        )
    if isinstance(exc, TimeoutError):
        return DatabaseUnreachable(
            f"{setting}: no answer within the connect timeout ({timeout:g}s, "
            f"ARIA_DATA_CONNECT_TIMEOUT_S): {masked}", setting=setting, url=masked,
        )
    if isinstance(exc, OSError | asyncpg.CannotConnectNowError | asyncpg.ConnectionDoesNotExistError):
        return DatabaseUnreachable(
            f"{setting}: cannot connect ({type(exc).__name__}: {exc}): {masked}",
            setting=setting, url=masked,
        )
    if isinstance(exc, asyncpg.ClientConfigurationError | ValueError):
        return DatabaseUrlInvalid(
            f"{setting} is not a usable PostgreSQL URL ({exc}): {masked}", setting=setting, url=masked,
        )
    if isinstance(exc, asyncpg.PostgresError):
        return DatabaseUnreachable(
            f"{setting}: the server refused the connection ({exc.sqlstate}: {exc}): {masked}",
            setting=setting, url=masked,
        )
    return exc


_metrics_registered = False


def _register_metrics() -> None:
    """Export every live pool's stats to Prometheus (default registry) once per process."""
    global _metrics_registered
    if _metrics_registered:
        return
    _metrics_registered = True
    try:
        from prometheus_client import REGISTRY  # optional: prometheus_client may be absent (see below)
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError:  # metrics are optional
        return

    class _Collector:
        def collect(self) -> Any:
            gauges = {k: GaugeMetricFamily(f"aria_db_pool_{k}", f"asyncpg pool {k}", labels=["pool"])
                      for k in ("size", "idle", "in_use", "max_size")}
            counters = {k: CounterMetricFamily(f"aria_db_{k}", f"database {k}", labels=["pool"])
                        for k in ("queries", "slow_queries", "query_errors", "retries")}
            for db in list(_LIVE):
                st = db.stats()
                for k, g in gauges.items():
                    g.add_metric([db.name], st[k])
                for k, c in counters.items():
                    c.add_metric([db.name], st[k])
            yield from gauges.values()
            yield from counters.values()

    REGISTRY.register(_Collector())
