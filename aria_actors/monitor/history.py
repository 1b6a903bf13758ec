"""The lifecycle of aria_monitor's PostgreSQL parts (dashboards.py's rollups, usage.py's daily rows):
one connection (store.HistoryLink, made in the background) and four timers.

    start ─► HistoryLink.start() (DSN from aria_data, migrate, pool; retried until it works)
          ─► every dashboard_sample_s: sample_panels     every usage_interval_s: read_usage
          ─► every history_flush_s: flush (rollups, usage), and expiry once an hour
    stop ─► a last flush (bounded by the scrape timeout), timers cancelled, pool closed

Guarantees and caveats:
- Without aria_data, or while it is down, every part runs from memory and ``history_status``
  says so (``store: "memory"`` and the error); nothing waits on PostgreSQL at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.monitor.dashboards import PanelHistory
from aria_actors.monitor.rollup import Rollups
from aria_actors.monitor.store import HistoryLink
from aria_actors.monitor.usage import UsageBook
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal

if TYPE_CHECKING:
    from aria_actors.monitor.config import MonitorSettings
    from aria_actors.runtime.service import Deps

log = logging.getLogger("aria.monitor")
ME = Principal.internal("aria_monitor")
EXPIRE_EVERY_S = 3600.0


class HistoryParts:
    """Mixin of :class:`~aria_actors.monitor.service.MonitorService`: state and timers of the
    PostgreSQL-backed parts."""

    config: MonitorSettings

    def _init_history(self) -> None:
        self.history = HistoryLink(None)
        self.rollups = Rollups(self.config.max_pending_rows)
        self.usage_book = UsageBook(max_pending=self.config.max_pending_rows)
        self.panel_history = PanelHistory(self.config.retention_s)
        self.sampled_at: float | None = None
        self._expired_at = 0.0
        self._history_tasks: list[asyncio.Task[None]] = []

    def _start_history(self, deps: Deps) -> None:
        if deps.get("aria_data") is not None:
            data = deps.of(DataClient)

            async def connect() -> Database:
                dsn = await data.dsn(ME)
                await data.migrate(ME, "aria_monitor")
                return await Database.connect(dsn, name="aria_monitor", min_size=1, max_size=2)

            self.history = HistoryLink(connect)
            self.history.start()
        self._history_tasks = [
            periodic(self.config.dashboard_sample_s, self.sample_panels, what="sampling dashboards", log=log),
            periodic(self.config.usage_interval_s, self.read_usage, what="reading usage", log=log),
            periodic(self.config.history_flush_s, self.flush_history, what="writing history", log=log),
        ]

    async def flush_history(self) -> None:
        await self.flush_rollups()  # type: ignore[attr-defined]
        await self.flush_usage()  # type: ignore[attr-defined]
        store = self.history.store
        if store is not None and time.time() - self._expired_at > EXPIRE_EVERY_S:
            self._expired_at = time.time()
            try:
                await store.expire(self.config.history_minute_days, self.config.history_hour_days,
                                   self.config.usage_days)
            except Exception as exc:
                self.history.failed(exc)

    async def _stop_history(self) -> None:
        for task in self._history_tasks:
            await stop_task(task)
        self._history_tasks = []
        try:  # what is pending would be lost with the process: one last write, bounded
            await asyncio.wait_for(self.flush_history(), self.config.scrape_timeout_s)
        except Exception as exc:
            log.warning("last history write failed: %s", exc)
        await self.history.close()

    def history_status(self) -> dict[str, Any]:
        return {**self.history.status(), **self.dashboards_status(), **self.usage_status()}  # type: ignore[attr-defined]
