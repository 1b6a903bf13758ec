"""Endpoint protection, aria_auth's side: a feed of ended sessions, disabled machine clients and
account lockouts, which every gateway replica polls so that it refuses a revoked session's access
tokens, a disabled client's tokens and a locked account's logins within a second
(:mod:`aria_actors.coordinate.protection` is the gateway's side).

::

    logout / revoke / revoke_all / password change / disable or delete user / refresh-token reuse
        -> UPDATE or DELETE aria_auth.sessions --trigger--> aria_auth.revocations (migration 0004)
    disable or delete client, lockout begins or ends --trigger--> aria_auth.revocations
    gateway: revocations(cursor) every revocation_poll_s -> {"sessions", "clients", "locks", "cursor"}

Guarantees and caveats
----------------------
- Complete: the rows are written by triggers in the transaction that ends the session, so no
  code path that ends one can forget to record it, and a rolled-back end records nothing.
- No row is skipped: the cursor is the oldest transaction still running when a poll began
  (``pg_snapshot_xmin``), and the next poll reads every row of that transaction or a later one.
  A row of a slow transaction that commits after a faster one's is still delivered; the price is
  that rows of transactions at or above that mark come again (the gateway's sets are idempotent).
  A long transaction anywhere on the database holds the mark back and makes answers repeat more.
- Bounded: one answer holds at most ``revocation_page`` rows (``more`` says another page
  follows; the cursor then carries the page position). Rows are kept for the feed's horizon,
  ``max(access_ttl_s, lockout_max_s) + 60`` s, then pruned: a first poll (no cursor) gets every
  revocation whose tokens may still be alive and every lockout that may still run.
- Locks are ``tenant`` + lower-cased ``username`` with ``until`` (None: unlocked); the newest
  row of an account wins (rows come in commit order of their transactions, by id within one).
- Reading the feed needs ``auth:session:read`` across tenants (the gateway's internal identity
  holds it): it names session and client ids of every tenant, and locked usernames.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aria_actors.auth import access
from aria_actors.data.sql_files import queries
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

log = logging.getLogger("aria.auth.revocation")
_SQL = queries("aria_actors.auth", "revocation")
# "<xmin>" or, between pages, "<since>><next xmin>:<page xid>:<page id>" (since empty: a first poll)
_CURSOR = re.compile(r"^(?:(\d{1,20})|(\d{0,20})>(\d{1,20}):(\d{1,20}):(\d{1,20}))$")
HORIZON_MARGIN_S = 60  # past the longest token lifetime and lockout: clock skew, the JWT leeway


class InvalidCursor(BadRequest):
    """The revocation feed's cursor is not one it handed out; start again without one."""

    type = "auth-invalid-cursor"
    title = "Invalid revocation cursor"


def parse_cursor(cursor: str | None) -> tuple[str | None, str | None, str | None, int | None]:
    """``(since, next, page xid, page id)`` of a cursor (all None: a first poll)."""
    if cursor is None or cursor == "":
        return None, None, None, None
    m = _CURSOR.match(cursor) if isinstance(cursor, str) and len(cursor) <= 100 else None
    if m is None:
        raise InvalidCursor(f"{str(cursor)[:40]!r} is not a revocation cursor", field="cursor")
    if m.group(1) is not None:
        return m.group(1), None, None, None
    return m.group(2) or None, m.group(3), m.group(4), int(m.group(5))


class Revocations:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    _revocation_pruner: asyncio.Task[None] | None = None

    async def _start_revocation(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        self._revocation_pruner = periodic(self.config.revocation_prune_s,  # type: ignore[attr-defined]
                                           self.prune_revocations, what="pruning the revocation feed", log=log)

    async def _stop_revocation(self) -> None:
        """Called by the service's stop before the pool closes."""
        await stop_task(self._revocation_pruner)
        self._revocation_pruner = None

    def revocation_horizon_s(self) -> int:
        """How long a feed row matters: the longest an access token or a lockout can outlive it."""
        config = self.config  # type: ignore[attr-defined]
        return max(config.access_ttl_s, config.lockout_max_s) + HORIZON_MARGIN_S

    async def prune_revocations(self) -> int:
        """Forget feed rows older than the horizon; how many."""
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            status = await conn.execute(_SQL("prune"), self.revocation_horizon_s())
        return int(status.split()[-1])

    @rpc("auth:session:read", scope="any", feature="endpoint-protection")
    async def revocations(self, caller: Principal, since_cursor: str | None = None) -> dict[str, Any]:
        """Sessions ended, machine clients disabled and account lockouts begun or lifted since
        ``since_cursor`` (None: all that still matter), and the cursor to pass next time.

        ``{"cursor", "more", "horizon_s", "token_ttl_s", "sessions": [{"sid", "at", "why"}],
        "clients": [{"client_id", "at"}], "locks": [{"tenant", "username", "until"}]}``; times are
        Unix seconds. ``more``: call again at once with the new cursor (a page was full).
        """
        access.gate().require(caller, "auth:session:read", {"type": "session", "tenant": access.ALL_TENANTS})
        since, following, page_xid, page_id = parse_cursor(since_cursor)
        limit = self.config.revocation_page  # type: ignore[attr-defined]
        horizon = self.revocation_horizon_s()
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            # The mark first: whatever is invisible to the feed's read below is at or above it.
            nxt = following if page_xid is not None else await conn.fetchval(_SQL("snapshot_xmin"))
            rows = await conn.fetch(_SQL("feed"), since, page_xid, page_id, horizon, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = f"{since or ''}>{nxt}:{rows[-1]['xid']}:{rows[-1]['id']}" if more else str(nxt)
        out: dict[str, Any] = {"cursor": cursor, "more": more, "horizon_s": horizon,
                               "token_ttl_s": self.config.access_ttl_s,  # type: ignore[attr-defined]
                               "sessions": [], "clients": [], "locks": []}
        for r in rows:
            at = r["at"].timestamp()
            if r["kind"] == "session":
                out["sessions"].append({"sid": r["subject"], "at": at, "why": r["why"]})
            elif r["kind"] == "client":
                out["clients"].append({"client_id": r["subject"], "at": at})
            else:
                tenant, _, username = r["subject"].partition("/")
                until = r["until"].timestamp() if r["until"] is not None else None
                out["locks"].append({"tenant": tenant, "username": username, "until": until, "at": at})
        return out
