"""aria_debugger's log aggregation and search: every service's log records, collected and searchable.

Lifecycle::

    start --> (background) connect to PostgreSQL through aria_data (dsn, migrations), then every
              ``logs_interval_s``: read each service's ``logs`` door (runtime/logring.py) after
              its cursor, store the records with the cursor; every ``logs_prune_interval_s``:
              delete records past ``logs_retention_s`` and beyond ``logs_max_rows``
    logs(q, service, level, trace_id, since, until, limit)  the newest matching records first
    stop --> the tasks end, the pool closes (cursors are in the database: nothing is lost)

Guarantees and caveats:
- Deny by default: ``debugger:logs:read@any`` (logs span tenants): administrators and operators.
- Every parameter is checked here (400 on a bad one): ``q`` at most 500 characters with a letter
  or digit, searched with ``websearch_to_tsquery`` as a bound parameter (``"a phrase"``, ``-word``,
  ``or``); ``service`` a registered name; ``level`` a minimum level name; ``trace_id`` 32 hex
  digits; ``since``/``until`` ISO 8601 (no zone: UTC), epoch seconds, or a duration back from now
  (``90s``, ``15m``, ``2h``, ``7d``); ``limit`` 1-1000.
- aria_data down (no pool yet, or PostgreSQL unreachable): search answers 503 naming aria_data,
  collection waits and retries each round; rings keep what they hold meanwhile (their
  ``log_ring_size``), and what they drop is counted per service (``dropped``).
- Once per record: a batch and its service's cursor are stored in one transaction, and the cursor
  survives restarts. A process that restarted (a new ``start_id``) is read from its first record.
- No feedback loop: each round runs inside :func:`logring.quiet`, so what the debugger logs while
  storing (its pool, its own warnings) is not collected, and aria_data serves no call per batch
  (the debugger writes through its own pool, as aria_data's boundary allows).
- A Serve deployment's door answers from one replica: the records of its other replicas are
  not collected (each service but aria_coordinate runs one).
- Messages are the services' own text; obvious secrets are masked in each process before they
  leave it (runtime/logring.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
import time
from collections import Counter
from typing import Any

import asyncpg

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.debugger.config import DebuggerSettings
from aria_actors.debugger.logstore import SERVER_SETTINGS, LogStore, row_of
from aria_actors.runtime import logring
from aria_actors.runtime.errors import AriaError, BadRequest, ServiceUnavailable, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc

log = logging.getLogger("aria.debugger.logs")
NAME = "aria_debugger"
ME = Principal.internal(NAME)
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 500
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
SEARCH_TIMEOUT_S = 10.0
CONNECT_RETRY_S = 10.0   # a failed connection is tried again at most this often
CONNECT_TIMEOUT_S = 20.0  # asking aria_data for the DSN and migrations, then opening the pool
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_DURATION = re.compile(r"^(\d{1,9})([smhd])$")
_EPOCH = re.compile(r"^\d{1,11}(\.\d{1,9})?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SERVICES = frozenset(s.name for s in all_specs())


# -- checks (pure: tests/unit/debugger/test_logs.py) ------------------------------------------------
def check_query(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_QUERY_CHARS:
        raise BadRequest(f"q must be text of at most {MAX_QUERY_CHARS} characters", field="q")
    if "\x00" in value or not any(c.isalnum() for c in value):
        raise BadRequest("q must hold a word (a letter or a digit) and no NUL character", field="q")
    return value.strip()


def check_service(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in SERVICES:
        shown = "".join(c if c.isprintable() else "?" for c in value)[:60] if isinstance(value, str) else "?"
        raise BadRequest(f"no service named {shown!r}; `aria services` lists them", field="service")
    return value


def check_level(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.upper() not in LEVELS:
        raise BadRequest(f"level must be one of {', '.join(LEVELS)} (that level and above)", field="level")
    return LEVELS[value.upper()]


def check_trace_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _TRACE_ID.match(value.lower()):
        raise BadRequest("trace_id must be 32 hexadecimal digits", field="trace_id")
    return value.lower()


def check_limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}", field="limit")
    return value


def check_time(value: Any, field: str, now: float | None = None) -> dt.datetime | None:
    """ISO 8601 (UTC without a zone), epoch seconds, or a duration back from ``now`` (``15m``)."""
    if value is None or value == "":
        return None
    now = time.time() if now is None else now
    bad = BadRequest(f"{field} must be ISO 8601 (2026-01-31T12:00:00Z), epoch seconds, or a duration back "
                     f"from now (90s, 15m, 2h, 7d)", field=field)
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        seconds = now - int(m.group(1)) * _UNITS[m.group(2)]
    elif isinstance(value, str) and _EPOCH.match(value.strip()):
        seconds = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise bad from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    else:
        raise bad
    if not math.isfinite(seconds) or not 0 <= seconds <= 1e11:
        raise bad
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class LogSearch:
    """The log-search part of :class:`~aria_actors.debugger.service.DebuggerService` (a mixin: it
    uses the service's ``settings``, ``deps`` and ``services``)."""

    settings: Any
    deps: Any
    services: tuple[str, ...]

    def _logs_init(self) -> None:
        self.logs_config: DebuggerSettings = getattr(self.settings, "debugger", None) or DebuggerSettings()
        self._log_db: Database | None = None
        self._log_store: LogStore | None = None
        self._log_cursors: dict[str, tuple[str, int]] | None = None   # service -> (start_id, seq)
        self._log_tasks: list[asyncio.Task[None]] = []
        self._log_connecting = asyncio.Lock()
        self._log_tried = 0.0                          # when a connection was last tried
        self.log_problems: dict[str, str] = {}         # what failed last, by service or "store"
        self.log_counts: Counter[str] = Counter()       # collected, dropped, rounds, pruned

    async def _logs_start(self) -> None:
        if self.deps.get("aria_data") is None:
            return
        cfg = self.logs_config
        self._log_tasks = [
            periodic(cfg.logs_interval_s, self.collect_logs, what="collecting logs", log=log),
            periodic(cfg.logs_prune_interval_s, self.prune_logs, what="pruning logs", log=log),
        ]

    async def _logs_stop(self) -> None:
        for task in self._log_tasks:
            await stop_task(task)
        self._log_tasks = []
        if self._log_db is not None:
            await self._log_db.close()
        self._log_db = self._log_store = None
        self._log_cursors = None

    async def _logs_health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"store": self._log_store is not None, **dict(self.log_counts)}
        if self.log_problems:
            out["problems"] = dict(self.log_problems)
        if self._log_store is not None:
            try:
                out.update(await self._log_store.totals(timeout=2.0))
            except Exception as exc:  # the probe's job is to report it
                out["problems"] = {**out.get("problems", {}), "store": brief(exc)}
        return out

    # -- the store --------------------------------------------------------------------------------
    async def _store(self, *, wait: bool) -> LogStore:
        """The log store, connecting through aria_data first when needed (not more often than
        every ``CONNECT_RETRY_S`` unless ``wait``); ServiceUnavailable when it cannot be had."""
        if self._log_store is not None:
            return self._log_store
        if self.deps.get("aria_data") is None:
            raise ServiceUnavailable("log search needs aria_data, which is not a dependency here",
                                     service="aria_data")
        async with self._log_connecting:
            if self._log_store is None and (wait or time.monotonic() - self._log_tried >= CONNECT_RETRY_S):
                self._log_tried = time.monotonic()
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):  # a hung aria_data: a 503, not a hang
                        data = self.deps.of(DataClient)
                        dsn = await data.dsn(ME)
                        await data.migrate(ME, NAME)
                        self._log_db = await Database.connect(dsn, name=NAME + ".logs", min_size=1, max_size=4,
                                                              server_settings=SERVER_SETTINGS)
                    self._log_store = LogStore(self._log_db)
                    self.log_problems.pop("store", None)
                except Exception as exc:
                    self.log_problems["store"] = brief(exc)
            if self._log_store is None:
                raise ServiceUnavailable(f"log search is unavailable: aria_data or its database is down "
                                         f"({self.log_problems.get('store', 'not connected')})", service="aria_data")
            return self._log_store

    # -- collection -------------------------------------------------------------------------------
    async def collect_logs(self) -> int:
        """One round: every service's new records into the store; the number stored."""
        with logring.quiet():
            try:
                store = await self._store(wait=False)
                if self._log_cursors is None:
                    self._log_cursors = {s: (c["start_id"], c["seq"]) for s, c in (await store.cursors()).items()}
            except Exception as exc:
                self._note("store", exc)
                return 0
            got = await asyncio.gather(*(self._collect_one(store, s) for s in self.services))
            self.log_counts["rounds"] += 1
            return sum(got)

    async def _collect_one(self, store: LogStore, service: str) -> int:
        cfg = self.logs_config
        assert self._log_cursors is not None
        taken = 0
        try:
            while taken < cfg.logs_max_per_round:
                start_id, after = self._log_cursors.get(service, ("", 0))
                got = await self.deps.door(service, "logs", cfg.logs_door_timeout_s, after=after,
                                           limit=min(cfg.logs_batch, cfg.logs_max_per_round - taken))
                if got.get("start_id") is None:  # no ring in that process
                    break
                if got["start_id"] != start_id and after:  # it restarted: its numbers begin again
                    self._log_cursors[service] = (got["start_id"], 0)
                    continue
                records = got["records"]
                seq = records[-1]["seq"] if records else max(after, int(got.get("last_seq", 0)))
                if records or got["start_id"] != start_id or got.get("dropped"):
                    rows = [row_of(r, got["start_id"]) for r in records]
                    await store.store(service, got["start_id"], seq, int(got.get("dropped", 0)), rows)
                    self._log_cursors[service] = (got["start_id"], seq)
                    self.log_counts["collected"] += len(rows)
                    self.log_counts["dropped"] += int(got.get("dropped", 0))
                    taken += len(rows)
                if len(records) < cfg.logs_batch or not records:
                    break
            self.log_problems.pop(service, None)
        except Exception as exc:
            self._note(service, exc)
        return taken

    def _note(self, what: str, exc: BaseException) -> None:
        cause = getattr(exc, "cause", None)
        text = brief(cause if isinstance(cause, AriaError) else exc)
        if self.log_problems.get(what) != text:  # once per change, not once per round
            log.warning("log collection from %s failed: %s", what, text)
        self.log_problems[what] = text

    async def prune_logs(self) -> int:
        cfg = self.logs_config
        with logring.quiet():
            try:
                store = await self._store(wait=False)
                cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=cfg.logs_retention_s)
                n = await store.prune(cutoff, cfg.logs_max_rows)
            except Exception as exc:
                self._note("prune", exc)
                return 0
            self.log_problems.pop("prune", None)
            self.log_counts["pruned"] += n
            return n

    # -- RPC surface ------------------------------------------------------------------------------
    @rpc("debugger:logs:read", scope="any", feature="log-search")
    async def logs(self, caller: Principal, q: str | None = None, service: str | None = None,
                   level: str | None = None, trace_id: str | None = None, since: str | float | None = None,
                   until: str | float | None = None, limit: int = 100) -> dict[str, Any]:
        """The newest log records of every service matching words ``q`` (websearch syntax), a
        service, a minimum level, a trace id and a time window (since/until: ISO 8601, epoch
        seconds or a duration back from now such as 15m), newest first, at most ``limit`` (1-1000)."""
        now = time.time()
        text, name = check_query(q), check_service(service)
        min_level, trace = check_level(level), check_trace_id(trace_id)
        start, end = check_time(since, "since", now), check_time(until, "until", now)
        limit = check_limit(limit)
        if start is not None and end is not None and start >= end:
            raise BadRequest("since must be before until", field="since")
        store = await self._store(wait=True)
        try:
            records = await store.search(text, name, min_level, trace, start, end, limit, timeout=SEARCH_TIMEOUT_S)
        except AriaError as exc:
            if exc.status >= 500:
                raise ServiceUnavailable(f"log search is unavailable: {brief(exc)}", service="aria_data") from None
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise ServiceUnavailable(f"log search is unavailable: {brief(exc)}", service="aria_data") from None
        return {"records": records, "count": len(records), "limit": limit,
                "query": {"q": text, "service": name, "level": level.upper() if min_level else None,
                          "trace_id": trace, "since": start.timestamp() if start else None,
                          "until": end.timestamp() if end else None},
                "collection": {"interval_s": self.logs_config.logs_interval_s, **dict(self.log_counts)}}
