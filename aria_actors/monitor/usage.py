"""aria_monitor's usage analytics and business metrics: per tenant and UTC day, from every service's
``usage`` door (runtime/usage.py), kept in PostgreSQL.

    every usage_interval_s: door "usage" of every service ─► UsageBook.feed(service, snapshot)
        ─► deltas against the last snapshot of the same process (start id) ─► memory book + pending
    every history_flush_s: pending ─► one batch upsert (usage_daily, usage_subjects); put back on failure
    usage(days, tenant, service)   calls and errors per day, tenant, service, method; active users
    business(days, tenant)         named events per day and tenant (BUSINESS: successful calls of methods)

Guarantees and caveats:
- Deltas across restarts: a service process's counts are cumulative with a start id; a new id
  means a new process whose counts start at zero, so they count whole. A process this monitor
  first sees that started before the monitor did is a baseline (its earlier calls were counted by
  the monitor that ran then, or are lost with it): a monitor restart never counts a call twice,
  and loses at most the calls between its predecessor's last flush and its own first read.
- Counted are calls made by users, operators and service tokens, not a service acting for
  itself. One request through the gateway that fans out counts once in each service it reaches.
- Business metrics are successful calls (``ok``) of the methods named in :data:`BUSINESS`:
  characters created = aria_shape ``create_character``; plans made = aria_engine's planning
  methods; jobs run = jobs submitted to aria_queue (``enqueue``, ``enqueue_many``: one call may
  carry several jobs); models trained = training runs started in aria_shape or aria_interpret.
- Tenants are rows, never Prometheus labels. Active users are distinct subject digests.
- When PostgreSQL is unreachable the answers come from memory (``source: "memory"``: the days
  since this monitor started, bounded) and the deltas wait, bounded by ``max_pending_rows``.
- Reads are ``monitor:usage:read``: an ``@any`` grant (operator, admin) reads every tenant; a
  tenant-scoped one (a viewer of a tenant) reads its own tenant only, and asking for another is 403.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aria_actors.monitor.store import HistoryLink, SubjectRow, UsageRow
from aria_actors.runtime.errors import BadRequest, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import default_gate, rpc

if TYPE_CHECKING:
    from aria_actors.monitor.collector import Collector
    from aria_actors.monitor.config import MonitorSettings
    from aria_actors.runtime.service import Deps

log = logging.getLogger("aria.monitor")
MAX_DAYS = 366
MAX_ROWS = 20_000  # rows one usage answer carries
STARTS_KEPT = 8  # processes remembered per service (a deployment's replicas, recent restarts)
BOOK_KEYS = 200_000  # (day, tenant, service, method) rows the memory book holds
BOOK_DAYS = 8
PERMISSION = "monitor:usage:read"
_ELSEWHERE = "\x00another-tenant"

# name -> (description, ((service, method), ...)): successful calls of these methods
BUSINESS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "characters_created": ("characters created (aria_shape create_character)",
                           (("aria_shape", "create_character"),)),
    "plans_made": ("plans made (aria_engine plan, plan_many, plan_learned, goap)",
                   (("aria_engine", "plan"), ("aria_engine", "plan_many"), ("aria_engine", "plan_learned"),
                    ("aria_engine", "goap"))),
    "jobs_run": ("jobs submitted to aria_queue (enqueue, enqueue_many calls)",
                 (("aria_queue", "enqueue"), ("aria_queue", "enqueue_many"))),
    "models_trained": ("training runs started (aria_shape, aria_interpret start_training; aria_interpret retrain)",
                       (("aria_shape", "start_training"), ("aria_interpret", "start_training"),
                        ("aria_interpret", "retrain"))),
}
EVENT_OF = {pair: name for name, (_, pairs) in BUSINESS.items() for pair in pairs}

Counts = list[int]  # calls, errors, ok


class UsageBook:
    """Deltas of the services' cumulative usage snapshots; the memory book and the pending batch."""

    def __init__(self, *, started: float | None = None, max_pending: int = 100_000) -> None:
        self.started = time.time() if started is None else started
        self.max_pending = max_pending
        self.last: dict[str, OrderedDict[str, dict[tuple[str, str, str], tuple[int, int, int]]]] = {}
        self.book: dict[tuple[str, str, str, str], Counts] = {}
        self.book_subjects: dict[tuple[str, str], set[str]] = {}
        self.pending: dict[tuple[str, str, str, str], Counts] = {}
        self.pending_subjects: set[SubjectRow] = set()
        # held while a batch moves from pending to the store, and by readers of both: a reader sees
        # the batch pending or stored, never in flight (taken from pending, not yet committed)
        self.moving = asyncio.Lock()
        self.dropped = 0
        self.overflow: dict[str, int] = {}

    def feed(self, service: str, snap: dict[str, Any]) -> int:
        """One service's snapshot; returns the calls it added."""
        start_id = str(snap.get("start_id") or "")
        starts = self.last.setdefault(service, OrderedDict())
        prev = starts.get(start_id)
        baseline = prev is None and float(snap.get("started") or 0.0) < self.started
        now: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        added = 0
        for day, tenant, method, calls, errors, ok in snap.get("rows") or ():
            key = (str(day), str(tenant), str(method))
            cur = (int(calls), int(errors), int(ok))
            now[key] = cur
            if baseline:
                continue
            before = (prev or {}).get(key, (0, 0, 0))
            delta = [max(0, c - b) for c, b in zip(cur, before, strict=True)]
            if any(delta):
                self._add((key[0], key[1], service, key[2]), delta)
                added += delta[0]
        for day, tenant, digests in snap.get("subjects") or ():
            for d in digests:
                self._add_subject((str(day), str(tenant), str(d)))
        starts[start_id] = now
        starts.move_to_end(start_id)
        while len(starts) > STARTS_KEPT:
            starts.popitem(last=False)
        self.overflow[service] = int(snap.get("overflow") or 0)
        return added

    def _add(self, key: tuple[str, str, str, str], delta: list[int]) -> None:
        for target, cap in ((self.book, BOOK_KEYS), (self.pending, self.max_pending)):
            row = target.get(key)
            if row is None:
                if len(target) >= cap:
                    if target is self.pending:
                        self.dropped += 1
                    continue
                row = target[key] = [0, 0, 0]
            for i in range(3):
                row[i] += delta[i]

    def _add_subject(self, row: SubjectRow) -> None:
        who = self.book_subjects.setdefault((row[0], row[1]), set())
        if row[2] in who:
            return  # sent already (the store keeps each once anyway)
        who.add(row[2])
        if len(self.pending_subjects) < self.max_pending:
            self.pending_subjects.add(row)
        else:
            self.dropped += 1

    def forget_before(self, day: str) -> None:
        for d in (self.book, self.book_subjects):
            for key in [k for k in d if k[0] < day]:
                del d[key]

    def take(self) -> tuple[list[UsageRow], list[SubjectRow]]:
        rows = [(*k, *c) for k, c in self.pending.items()]
        subjects = sorted(self.pending_subjects)
        self.pending, self.pending_subjects = {}, set()
        return rows, subjects  # type: ignore[return-value]

    def put_back(self, rows: list[UsageRow], subjects: list[SubjectRow]) -> None:
        for r in rows:
            key = (r[0], r[1], r[2], r[3])
            row = self.pending.get(key)
            if row is None:
                if len(self.pending) >= self.max_pending:
                    self.dropped += 1
                    continue
                row = self.pending[key] = [0, 0, 0]
            for i in range(3):
                row[i] += r[4 + i]
        for s in subjects:
            if len(self.pending_subjects) < self.max_pending:
                self.pending_subjects.add(s)

    def rows(self, since: str, tenant: str | None, service: str | None) -> list[UsageRow]:
        return sorted((*k, *c) for k, c in self.book.items()  # type: ignore[misc]
                      if k[0] >= since and (tenant is None or k[1] == tenant) and (service is None or k[2] == service))

    def active(self, since: str, tenant: str | None) -> dict[tuple[str, str], int]:
        return {k: len(v) for k, v in self.book_subjects.items()
                if k[0] >= since and (tenant is None or k[1] == tenant)}


# -- answers (pure) ------------------------------------------------------------------------------
def usage_view(rows: list[UsageRow], active: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Rows per method and a daily summary per tenant (calls, errors, active users)."""
    daily: dict[tuple[str, str], dict[str, Any]] = {}
    for day, tenant, _service, _method, calls, errors, _ok in rows:
        d = daily.setdefault((day, tenant), {"day": day, "tenant": tenant, "calls": 0, "errors": 0,
                                             "active_users": 0})
        d["calls"] += calls
        d["errors"] += errors
    for (day, tenant), n in active.items():
        daily.setdefault((day, tenant), {"day": day, "tenant": tenant, "calls": 0, "errors": 0,
                                         "active_users": 0})["active_users"] = n
    return {"rows": [{"day": r[0], "tenant": r[1], "service": r[2], "method": r[3], "calls": r[4], "errors": r[5]}
                     for r in rows],
            "daily": [daily[k] for k in sorted(daily)]}


def business_view(rows: list[UsageRow]) -> dict[str, Any]:
    """Each named event per day and tenant, and their totals."""
    daily: dict[tuple[str, str], dict[str, Any]] = {}
    totals = dict.fromkeys(BUSINESS, 0)
    for day, tenant, service, method, _calls, _errors, ok in rows:
        name = EVENT_OF.get((service, method))
        if name is None or not ok:
            continue
        d = daily.setdefault((day, tenant), {"day": day, "tenant": tenant, **dict.fromkeys(BUSINESS, 0)})
        d[name] += ok
        totals[name] += ok
    return {"metrics": {n: desc for n, (desc, _) in BUSINESS.items()}, "daily": [daily[k] for k in sorted(daily)],
            "totals": totals}


# -- arguments -------------------------------------------------------------------------------------
def check_days(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}", field="days")
    return days


def since_of(days: int, now: float) -> str:
    return (dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=days - 1)).isoformat()


def check_tenant(tenant: Any) -> str | None:
    if tenant is None:
        return None
    if not isinstance(tenant, str) or len(tenant) > 256:
        raise BadRequest("tenant must be a tenant name of at most 256 characters", field="tenant")
    return tenant


def check_service(service: Any) -> str | None:
    if service is None:
        return None
    names = {s.name for s in all_specs()}
    if service not in names:
        raise BadRequest(f"service must be one of {', '.join(sorted(names))}", field="service")
    return str(service)


def tenant_view(caller: Principal, tenant: str | None) -> str | None:
    """The tenant the caller may read: any (their choice, None = all) with an @any grant, else their own."""
    gate = default_gate()
    if gate.allowed(caller, PERMISSION, {"tenant": _ELSEWHERE}):
        return tenant
    own = caller.tenant or ""
    if tenant is not None and tenant != own:
        raise Forbidden(f"{caller.subject!r} may read only its own tenant's usage", action=PERMISSION)
    return own


class UsageAnalytics:
    """The mixin of :class:`~aria_actors.monitor.service.MonitorService` serving usage and business metrics."""

    config: MonitorSettings
    collector: Collector | None
    deps: Deps
    history: HistoryLink
    usage_book: UsageBook

    async def read_usage(self) -> int:
        """Read every service's usage door once; returns the calls added."""
        if self.collector is None:
            return 0
        names = self.collector.services
        timeout = self.config.scrape_timeout_s
        got = await asyncio.gather(*(self.deps.door(n, "usage", timeout) for n in names), return_exceptions=True)
        added = 0
        for name, snap in zip(names, got, strict=True):
            if isinstance(snap, BaseException):  # down or slow: its counts wait in its process
                continue
            if isinstance(snap, dict):
                added += self.usage_book.feed(name, snap)
        self.usage_book.forget_before(since_of(BOOK_DAYS, time.time()))
        return added

    async def flush_usage(self) -> None:
        store = self.history.store
        if store is None:
            return
        async with self.usage_book.moving:
            rows, subjects = self.usage_book.take()
            if not rows and not subjects:
                return
            try:
                await store.merge_usage(rows, subjects)
            except Exception as exc:  # kept for the next flush: memory only meanwhile
                self.usage_book.put_back(rows, subjects)
                self.history.failed(exc)
                return
        self.history.ok(len(rows) + len(subjects))

    async def _usage_rows(self, since: str, tenant: str | None,
                          service: str | None) -> tuple[str, list[UsageRow], dict[tuple[str, str], int]]:
        store = self.history.store
        if store is not None and self.history.up:
            try:
                async with self.usage_book.moving:
                    rows = [(r["day"].isoformat(), r["tenant"], r["service"], r["method"], r["calls"], r["errors"],
                             r["ok"]) for r in await store.usage_rows(since, tenant, service, MAX_ROWS)]
                    active = {(r["day"].isoformat(), r["tenant"]): int(r["subjects"])
                              for r in await store.active_subjects(since, tenant)}
                    for day, who, _digest in self.usage_book.pending_subjects:  # not written yet: not counted
                        if day >= since and (tenant is None or who == tenant):
                            active[(day, who)] = active.get((day, who), 0) + 1
                    return "postgres", _with_pending(rows, self.usage_book, since, tenant, service), active
            except Exception as exc:  # answered from memory, and health says why
                self.history.failed(exc)
        return "memory", self.usage_book.rows(since, tenant, service), self.usage_book.active(since, tenant)

    @rpc(PERMISSION, feature="usage-analytics")
    async def usage(self, caller: Principal, days: int = 7, tenant: str | None = None,
                    service: str | None = None) -> dict[str, Any]:
        """Calls and errors per UTC day, tenant, service and method, and active users per day and tenant."""
        n, want, svc = check_days(days), check_tenant(tenant), check_service(service)
        scope = tenant_view(caller, want)
        since = since_of(n, time.time())
        source, rows, active = await self._usage_rows(since, scope, svc)
        if svc is not None:
            active = {}  # distinct users are counted across services, not per service
        return {"days": n, "since": since, "tenant": scope, "service": svc, "source": source,
                **usage_view(rows[:MAX_ROWS], active)}

    @rpc(PERMISSION, feature="business-metrics")
    async def business(self, caller: Principal, days: int = 30, tenant: str | None = None) -> dict[str, Any]:
        """Characters created, plans made, jobs run and models trained per UTC day and tenant."""
        n, want = check_days(days), check_tenant(tenant)
        scope = tenant_view(caller, want)
        since = since_of(n, time.time())
        source, rows, _ = await self._usage_rows(since, scope, None)
        return {"days": n, "since": since, "tenant": scope, "source": source, **business_view(rows)}

    def usage_status(self) -> dict[str, Any]:
        return {"pending_rows": len(self.usage_book.pending), "dropped_rows": self.usage_book.dropped,
                "overflow": sum(self.usage_book.overflow.values())}


def _with_pending(rows: list[UsageRow], book: UsageBook, since: str, tenant: str | None,
                  service: str | None) -> list[UsageRow]:
    """The stored rows plus what waits for the next flush (so an answer is never behind the book)."""
    if not book.pending:
        return rows
    merged: dict[tuple[str, str, str, str], Counts] = {(r[0], r[1], r[2], r[3]): list(r[4:]) for r in rows}
    for k, c in book.pending.items():
        if k[0] >= since and (tenant is None or k[1] == tenant) and (service is None or k[2] == service):
            row = merged.setdefault(k, [0, 0, 0])
            for i in range(3):
                row[i] += c[i]
    return sorted((*k, *c) for k, c in merged.items())  # type: ignore[misc]
