"""One service process's usage counts: RPC calls by day, tenant, method and outcome, and who called.

``ServiceHost.call`` records every call here (:meth:`UsageCounter.record`, a few dict operations);
the shell's caller-less ``usage`` door returns :meth:`UsageCounter.snapshot`, which aria_monitor
reads every collection and turns into daily rows in PostgreSQL (monitor/usage.py).

Lifecycle::

    process start ─► start id (random) ─► record(method, caller, exc) on every call
                  ─► snapshot(): cumulative counts since the start, with the start id
    restart ─► new start id, counts from zero: the reader sees the id change and counts the new
               process's numbers from zero instead of subtracting the old ones

Guarantees and caveats:
- Cumulative per process, never reset while it lives: a reader computes deltas between two
  snapshots of the same start id, so a lost read loses nothing (the next one carries it).
- Bounded: at most ``MAX_KEYS`` (day, tenant, method) rows and ``MAX_SUBJECTS`` distinct subjects
  per (day, tenant), ``MAX_SUBJECT_KEYS`` (day, tenant) sets in all; what does not fit is counted
  in ``overflow`` (never silently dropped). Days older than ``KEEP_DAYS`` are forgotten.
- Subjects leave the process only as a short SHA-256 digest (``subject_digest``): enough to count
  distinct users, not to name them. Tenants are data here, never Prometheus labels.
- A service acting for itself (``Principal.internal``) is not usage; nor is a call without a
  principal (refused before it ran). Anonymous calls (a login) count as calls, not as users.
- ``method`` is a declared RPC method of the service (anything else is ``other``, as in telemetry).
- Not thread-safe: the shell's event loop is the one writer and reader.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.telemetry import OTHER, outcome_of

MAX_KEYS = 20_000
MAX_SUBJECTS = 5_000
MAX_SUBJECT_KEYS = 2_000
KEEP_DAYS = 2  # today and yesterday: the reader reads every few seconds
DAY_S = 86_400


def day_of(t: float) -> str:
    """The UTC day of Unix time ``t`` (``YYYY-MM-DD``): usage days are UTC days."""
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def subject_digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:16]


def is_error(outcome: str) -> bool:
    """A call that failed (the caller's fault or the service's); a caller that went away is not."""
    return outcome not in ("ok", "cancelled")


class UsageCounter:
    def __init__(self, methods: frozenset[str] | set[str] | None = None, *, clock: Any = time.time) -> None:
        self.methods = frozenset(methods or ())
        self.clock = clock
        self.start_id = uuid.uuid4().hex[:16]
        self.started = clock()
        # (day, tenant, method) -> [calls, errors, ok]
        self.counts: dict[tuple[str, str, str], list[int]] = {}
        self.subjects: dict[tuple[str, str], dict[str, str]] = {}  # subject -> its digest (hashed once)
        self.overflow = 0
        self._day = ""
        self._day_ends = -1.0  # the UTC day is recomputed only when it ends (strftime per call is not free)

    def record(self, method: str, caller: Any, exc: BaseException | None) -> None:
        if not isinstance(caller, Principal) or caller.is_internal:
            return
        now = self.clock()
        if now >= self._day_ends or now < self._day_ends - DAY_S:
            self._forget_before(day_of(now))
            self._day_ends = now - now % DAY_S + DAY_S
        day = self._day
        tenant = caller.tenant or ""
        name = method if not self.methods or method in self.methods else OTHER
        key = (day, tenant, name)
        row = self.counts.get(key)
        if row is None:
            if len(self.counts) >= MAX_KEYS:
                self.overflow += 1
                return
            row = self.counts[key] = [0, 0, 0]
        outcome = outcome_of(exc)
        row[0] += 1
        if is_error(outcome):
            row[1] += 1
        elif outcome == "ok":
            row[2] += 1
        if caller.authenticated:  # an anonymous call (a login) is usage, but no user
            who = self.subjects.get((day, tenant))
            if who is None:
                if len(self.subjects) >= MAX_SUBJECT_KEYS:
                    self.overflow += 1
                    return
                who = self.subjects[(day, tenant)] = {}
            if caller.subject in who:
                return
            if len(who) < MAX_SUBJECTS:
                who[caller.subject] = subject_digest(caller.subject)
            else:
                self.overflow += 1

    def _forget_before(self, day: str) -> None:
        self._day = day
        oldest = day_of(self.clock() - (KEEP_DAYS - 1) * DAY_S)
        for key in [k for k in self.counts if k[0] < oldest]:
            del self.counts[key]
        for key in [k for k in self.subjects if k[0] < oldest]:
            del self.subjects[key]

    def snapshot(self) -> dict[str, Any]:
        """Cumulative counts since this process started (plain data: it crosses Ray)."""
        return {"start_id": self.start_id, "started": self.started, "at": self.clock(),
                "rows": [[d, t, m, c[0], c[1], c[2]] for (d, t, m), c in self.counts.items()],
                "subjects": [[d, t, sorted(s.values())] for (d, t), s in self.subjects.items()],
                "overflow": self.overflow}
