"""Endpoint protection at the gateway: revoked sessions refused within a second, locked accounts
and per-account login throttles enforced before aria_auth, and every denial audited.

::

    request -> ObserveRequests -> CORS -> ProtectionMiddleware -> RateLimitMiddleware -> routing
                                            |  POST /v1/auth/login, /v1/auth/token: peek the body
                                            |    (bounded, replayed downstream) for the account:
                                            |    locked (from the feed) -> 429 auth-account-locked
                                            |    over the per-account window -> 429 account-rate-limited
                                            |  response 401/403/429 -> AuditBatcher -> aria_security
                                            v
                                         routing -> BearerAuth (invalid tokens per address: Lockout)
                                                 -> Protection.check(claims): sid revoked -> 401 session-revoked

    RevocationPoller: aria_auth.revocations(cursor) every poll_s -> RevocationSet (sessions,
    machine clients, locked accounts), one poller per gateway replica, started by the first request.

Guarantees and caveats
----------------------
- Within a second: a session ended in aria_auth (logout, revoke, revoke_all, password change,
  disabled or deleted user, refresh-token reuse) is in the feed when its transaction commits; the
  gateway polls every ``protection_poll_s`` (0.25 s), so its access tokens are refused about
  ``poll_s`` + one round trip later (measured in the tests: well under 1 s). Each replica polls
  for itself, one small query per poll.
- Fail closed, by default: when no poll has succeeded for ``protection_stale_s`` (10 s), or none
  yet, a token that belongs to a session (``sid``) or a machine client (``client_id``) is answered
  503 (``Retry-After``) rather than let through unchecked; service tokens and public routes are
  unaffected. ``protection_fail_closed = false`` serves on instead, with a warning logged every
  ``stale_s``: revocations are then late by as long as the feed is down. A gateway whose
  directory has no aria_auth (a test app, a partial system) has nothing to poll: the check is off.
- Bounded: at most ``protection_max_revoked`` session ids are kept, each until the longest token
  lifetime after its revocation (the feed's ``token_ttl_s`` plus 60 s); past the bound the
  oldest go first and ``stats()["unsafe_evictions"]`` counts them (a token of an evicted session
  passes again until it expires). Locked accounts and disabled clients are bounded the same way.
- A disabled or deleted machine client: its tokens issued (``iat``) up to the moment it was
  disabled are refused; one enabled again gets new tokens that pass.
- Locked accounts: the feed carries ``tenant``/``username`` and ``until`` of each lockout, so a
  login (or password grant) for a locked account is refused at the gateway with aria_auth's own
  answer (429 ``auth-account-locked``, ``Retry-After``) without reaching its password check. The
  lockout itself is still decided by aria_auth; the gateway learns it within a poll.
- Per-account throttle: ``protection_account_limit`` (``"10/60s"``) attempts per account (tenant +
  lower-cased username, or the client id of a token request) in any sliding window, 429
  ``account-rate-limited`` with ``Retry-After``. It adds to the per-address limit of
  ``ratelimit``; an attempt counts even when the per-address limit then refuses it, so anyone
  can spend a known account's window (as with any per-account throttle: the account's owner then
  waits at most one window; it does not lock the account). At most ``protection_max_accounts``
  accounts are remembered (least recently used forgotten first).
- The body is peeked only on those two routes, only up to ``protection_body_max`` bytes (a larger
  or unparsable one is passed on untouched and not throttled per account: the route refuses it),
  and handed to the route unchanged.
- Invalid-token lockout per client address (``BearerAuth(lockout=...)``): an address (an IPv6
  one by its /64) sending ``protection_token_lockout`` invalid tokens within 60 s is refused with
  429 for ``protection_token_lockout_s``. Behind a proxy every client has the proxy's address, so
  one client sending bad tokens locks everyone out: run uvicorn with ``--proxy-headers`` and a
  trusted ``--forwarded-allow-ips``, or set ``protection_token_lockout = 0`` (off). Addresses are
  bounded (``protection_max_accounts``).
- Audit: every 401, 403 and 429 the gateway answers (its own and the services') becomes one
  record (reason = the problem's type slug, method, route template, the denied subject: token
  subject, account, or address; never a token, password or body) sent to aria_security in
  batches every ``protection_audit_flush_s``. At most ``protection_audit_max_pending`` wait; past
  that a denial is dropped and counted (``aria_gateway_denials_dropped_total``); a failing
  aria_security is retried with backoff (up to 30 s), never more than one batch in flight.
  ``aria_gateway_denials_total{reason,status}`` counts every denial (reasons bounded to 64).
  A gateway with no aria_security (tests) writes them to the log ``aria.gateway.audit``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ipaddress
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from prometheus_client import CollectorRegistry, Counter
from starlette.responses import JSONResponse

from aria_actors.auth.client import AuthClient
from aria_actors.auth.errors import AccountLocked
from aria_actors.auth.oauth import oauth_problem
from aria_actors.coordinate.ratelimit import client_key, parse_rule, route_path
from aria_actors.runtime.errors import AriaError, ServiceUnavailable
from aria_actors.runtime.http import PROBLEM_JSON
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.security.audit import Lockout
from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.gateway.protection")
audit_log = logging.getLogger("aria.gateway.audit")
GATEWAY = Principal.internal("aria_coordinate")
AUTH, SECURITY = "aria_auth", "aria_security"
LOGIN_ROUTES = {"/v1/auth/login": "login", "/v1/auth/token": "token"}
DENIALS = frozenset({401, 403, 429})
TOKEN_LEEWAY_S = 60.0  # past a revoked session's last token's expiry: the JWT leeway, clock skew
MAX_REASONS = 64  # distinct reason labels of the denial counter
AUDIT_OP = "gateway_denial"  # the op of the gateway's records in aria_security's audit log
_MAX_BACKOFF_S = 30.0


class SessionRevoked(AriaError):
    """This access token's session was ended (logout, revocation, a disabled user); log in again."""

    type = "session-revoked"
    status = 401
    title = "Session revoked"


class ClientRevoked(AriaError):
    """This machine client was disabled or deleted after the token was issued; ask for a new one."""

    type = "client-revoked"
    status = 401
    title = "Client revoked"


class AccountThrottled(AriaError):
    """Too many login attempts for this account; retry after ``retry_after_s``."""

    type = "account-rate-limited"
    status = 429
    title = "Too many attempts for this account"


def _settings(settings: Any, name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- the revoked set ------------------------------------------------------------------------------


class RevocationSet:
    """Revoked session ids, disabled clients and locked accounts, each kept while it matters."""

    def __init__(self, max_entries: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._sessions: OrderedDict[str, float] = OrderedDict()  # sid -> forget after (Unix s)
        self._clients: OrderedDict[str, tuple[float, float]] = OrderedDict()  # id -> (revoked at, forget after)
        self._locks: OrderedDict[str, float] = OrderedDict()  # tenant/username -> until
        self.unsafe_evictions = 0

    @staticmethod
    def account(tenant: str, username: str) -> str:
        return f"{tenant}/{username.lower()}"

    def _put(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_entries:
            table.popitem(last=False)
            self.unsafe_evictions += 1

    def apply(self, feed: Mapping[str, Any]) -> int:
        """Take in one answer of ``AuthClient.revocations``; how many entries it held."""
        keep = float(feed.get("token_ttl_s") or 900) + TOKEN_LEEWAY_S
        n = 0
        for s in feed.get("sessions", ()):
            self._put(self._sessions, str(s["sid"]), float(s["at"]) + keep)
            n += 1
        for c in feed.get("clients", ()):
            self._put(self._clients, str(c["client_id"]), (float(c["at"]), float(c["at"]) + keep))
            n += 1
        for lk in feed.get("locks", ()):
            key = self.account(str(lk["tenant"]), str(lk["username"]))
            if lk.get("until") is None:
                self._locks.pop(key, None)
            else:
                self._put(self._locks, key, float(lk["until"]))
            n += 1
        self.expire()
        return n

    def expire(self) -> None:
        """Forget what no longer matters (entries come roughly in time order: the front first)."""
        now = self.clock()
        for table, end in ((self._sessions, lambda v: v), (self._clients, lambda v: v[1]),
                           (self._locks, lambda v: v)):
            while table:
                key, value = next(iter(table.items()))
                if end(value) > now:
                    break
                del table[key]

    def session_revoked(self, sid: str) -> bool:
        return sid in self._sessions

    def client_revoked(self, client_id: str, issued_at: float) -> bool:
        """Whether a token of ``client_id`` issued at ``issued_at`` predates the client's revocation."""
        known = self._clients.get(client_id)
        return known is not None and issued_at <= known[0]

    def locked_for(self, tenant: str, username: str) -> float:
        """Seconds the account stays locked (0: not locked)."""
        until = self._locks.get(self.account(tenant, username))
        return max(0.0, until - self.clock()) if until is not None else 0.0

    def stats(self) -> dict[str, int]:
        return {"sessions": len(self._sessions), "clients": len(self._clients), "locks": len(self._locks),
                "unsafe_evictions": self.unsafe_evictions}


# --- the poller -----------------------------------------------------------------------------------

Fetch = Callable[[str | None], Awaitable[Mapping[str, Any]]]


class RevocationPoller:
    """Polls the feed into a :class:`RevocationSet`; knows how fresh its view is."""

    def __init__(self, fetch: Fetch, revoked: RevocationSet, *, poll_s: float = 0.25, stale_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch = fetch
        self.revoked = revoked
        self.poll_s = poll_s
        self.stale_s = stale_s
        self.clock = clock
        self.cursor: str | None = None
        self.synced_at: float | None = None  # monotonic time of the last complete poll
        self.started_at = clock()
        self.polls = 0
        self.failures = 0
        self.last_error: str | None = None
        self._warned_at = 0.0
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def poll(self) -> None:
        """One round: every page until the feed says there is no more."""
        for _ in range(1000):  # a runaway feed must not pin the loop: the next round goes on
            answer = await self.fetch(self.cursor)
            self.revoked.apply(answer)
            self.cursor = str(answer["cursor"])
            if not answer.get("more"):
                break
            await asyncio.sleep(0)
        self.polls += 1
        self.synced_at = self.clock()
        self.last_error = None
        self._synced.set()

    def stale(self, now: float | None = None) -> bool:
        """Whether the view is too old to trust (no poll succeeded within ``stale_s``, or none yet)."""
        now = self.clock() if now is None else now
        return self.synced_at is None or now - self.synced_at > self.stale_s

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:300]
                now = self.clock()
                if self.stale(now) and now - self._warned_at >= self.stale_s:
                    self._warned_at = now
                    log.warning("revocation feed from %s failing for %.1f s: %s", AUTH,
                                now - (self.synced_at or self.started_at), self.last_error)
            self.revoked.expire()
            await asyncio.sleep(self.poll_s)

    def ensure_running(self) -> None:
        """Start the loop in the running event loop (again, if the loop changed or it ended)."""
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._synced = asyncio.Event()
            if self.synced_at is not None:
                self._synced.set()
            self._task = loop.create_task(self.run())

    async def first_sync(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for the first complete poll."""
        if self.synced_at is not None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._synced.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        return {"running": self._task is not None and not self._task.done(), "polls": self.polls,
                "failures": self.failures, "last_error": self.last_error, "stale": self.stale(now),
                "age_s": None if self.synced_at is None else round(now - self.synced_at, 3),
                "poll_s": self.poll_s, "stale_s": self.stale_s, **self.revoked.stats()}


# --- per-account throttle -------------------------------------------------------------------------


class AccountThrottle:
    """Sliding-window log per account: admit iff fewer than ``limit`` admissions in ``(t-W, t]``."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._log: OrderedDict[str, deque[float]] = OrderedDict()
        self.refused = 0

    def hit(self, key: str) -> float:
        """Count an attempt for ``key``; 0 when admitted, else seconds until one would be."""
        now = self.clock()
        q = self._log.get(key)
        if q is None:
            q = self._log[key] = deque(maxlen=self.limit)
            while len(self._log) > self.max_keys:
                self._log.popitem(last=False)
        else:
            self._log.move_to_end(key)
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if len(q) >= self.limit:
            self.refused += 1
            return max(q[0] + self.window_s - now, 0.001)
        q.append(now)
        return 0.0


class AddressLockout(Lockout):
    """aria_security's :class:`Lockout` of invalid-token senders, keyed by address (an IPv6 one by
    its /64) and bounded to ``max_keys`` addresses (the oldest forgotten first)."""

    def __init__(self, threshold: int, window_s: float, lockout_s: float, max_keys: int = 50_000) -> None:
        super().__init__(threshold=threshold, window_s=window_s, lockout_s=lockout_s)
        self.max_keys = max_keys

    @staticmethod
    def _key(address: str) -> str:
        return client_key({"client": (address, 0)}) if address else "unknown"

    def locked(self, principal: str, now: float | None = None) -> bool:
        return super().locked(self._key(principal), now)

    def denied(self, principal: str, now: float | None = None) -> bool:
        key = self._key(principal)
        if key not in self._denials:
            while len(self._denials) >= self.max_keys:  # dicts keep insertion order: oldest first
                del self._denials[next(iter(self._denials))]
            while len(self._locked_until) >= self.max_keys:
                del self._locked_until[next(iter(self._locked_until))]
        return super().denied(key, now)


def token_lockout(settings: Any) -> AddressLockout | None:
    """The invalid-token lockout of the gateway's BearerAuth from settings (None: off)."""
    threshold = int(_settings(settings, "protection_token_lockout", 50))
    if threshold <= 0 or not _settings(settings, "protection_enabled", True):
        return None
    return AddressLockout(threshold, 60.0, float(_settings(settings, "protection_token_lockout_s", 300.0)),
                          int(_settings(settings, "protection_max_accounts", 50_000)))


# --- audit of denials ----------------------------------------------------------------------------

Sink = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass
class AuditBatcher:
    """Bounded queue of denial records, sent in batches by one background flusher."""

    sink: Sink
    max_pending: int = 10_000
    batch: int = 500
    flush_s: float = 1.0
    registry: CollectorRegistry | None = None
    pending: deque[dict[str, Any]] = field(default_factory=deque, init=False)
    dropped: int = field(default=0, init=False)
    sent: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    _reasons: set[str] = field(default_factory=set, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _wake: asyncio.Event | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        registry = self.registry if self.registry is not None else CollectorRegistry()
        self.denials = Counter("aria_gateway_denials", "Requests the gateway answered 401, 403 or 429, by reason",
                               ["reason", "status"], registry=registry)
        self.dropped_total = Counter("aria_gateway_denials_dropped",
                                     "Denial audit records dropped (queue full)", registry=registry)

    def _reason_label(self, reason: str) -> str:
        if reason in self._reasons or len(self._reasons) < MAX_REASONS:
            self._reasons.add(reason)
            return reason
        return "other"

    def denied(self, status: int, reason: str, method: str, route: str, subject: str) -> None:
        """Count a denial and queue its record (dropped and counted when the queue is full)."""
        self.denials.labels(self._reason_label(reason), str(status)).inc()
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
            self.dropped_total.inc()
            return
        self.pending.append({"ts": round(time.time(), 3), "status": status, "reason": reason[:64],
                             "method": method[:10], "route": route[:200], "subject": subject[:160]})
        self._ensure_running()
        if len(self.pending) >= self.batch and self._wake is not None:
            self._wake.set()

    def _ensure_running(self) -> None:
        task = self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test counting only): flushed by flush()
            return
        if task is None or task.done() or task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run())

    async def flush(self) -> int:
        """Send one batch now; how many records it held (raises what the sink raised, records kept)."""
        if not self.pending:
            return 0
        records = [self.pending[i] for i in range(min(self.batch, len(self.pending)))]
        await self.sink(records)
        for _ in records:
            self.pending.popleft()
        self.sent += len(records)
        return len(records)

    async def _run(self) -> None:
        backoff = self.flush_s
        while True:
            wake = self._wake
            if wake is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await wake.wait()
                wake.clear()
            try:
                while await self.flush() == self.batch:
                    pass
                backoff = self.flush_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                backoff = min(max(backoff, self.flush_s) * 2, _MAX_BACKOFF_S)
                log.warning("sending %d denial records to %s failed (%s); retrying in %.0f s",
                            len(self.pending), SECURITY, type(exc).__name__, backoff)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    def stats(self) -> dict[str, int]:
        return {"pending": len(self.pending), "sent": self.sent, "dropped": self.dropped, "failures": self.failures}


def security_sink(clients: Callable[[], Any]) -> Sink:
    """Records to aria_security's audit log (``record_events``, as the gateway): one event each,
    ``op`` ``gateway_denial``, ``outcome`` ``denied``, ``target`` ``<reason> <status> <method> <route>``."""

    async def sink(records: list[dict[str, Any]]) -> None:
        transport = _client(clients(), SECURITY)  # raises while aria_security is down: retried later
        if transport is None:  # a gateway without aria_security (tests): the log keeps them
            for record in records:
                audit_log.info(json.dumps({"actor": GATEWAY.subject, "op": AUDIT_OP, **record}))
            return
        events = [{"op": AUDIT_OP, "outcome": "denied", "subject": _printable(r["subject"], 120) or None,
                   "target": _printable(f"{r['reason']} {r['status']} {r['method']} {r['route']}", 300)}
                  for r in records]
        await bind(SecurityClient, transport).record_events(GATEWAY, events)

    return sink


def _printable(text: object, size: int) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text)[:size])


def _client(clients: Any, name: str) -> Any:
    """The transport to ``name`` in ``app.state.clients`` (a dict or a lookup), or None when this
    gateway has none; a lookup raises (503) while the service is down."""
    if clients is None:
        return None
    return clients.get(name) if isinstance(clients, dict) else clients(name)


# --- request body peeking ------------------------------------------------------------------------


def account_of(kind: str, headers: Mapping[bytes, bytes], body: bytes) -> str | None:
    """The account a login or token request is for (``tenant/username`` or ``client:<id>``), or None.

    Reads JSON or form bodies as the routes do; anything it cannot read is None (the route decides).
    """
    media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if media == b"application/json":
            data = json.loads(text or "{}")
            params = {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        elif kind == "token" and media in (b"", b"application/x-www-form-urlencoded"):
            params = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=20).items()}
        else:
            return None
    except (UnicodeDecodeError, ValueError):
        return None
    username = params.get("username", "")
    if username and (kind == "login" or params.get("grant_type") == "password"):
        return RevocationSet.account(params.get("tenant", "")[:63], username[:64])
    if kind == "token":
        client_id = params.get("client_id", "") or _basic_client_id(headers.get(b"authorization", b""))
        if client_id:
            return f"client:{client_id[:64]}"
    return None


def _basic_client_id(header: bytes) -> str:
    scheme, _, value = header.partition(b" ")
    if scheme.lower() != b"basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return unquote_plus(decoded.partition(":")[0])


async def read_bounded(receive: Any, limit: int) -> tuple[list[dict[str, Any]], bytes | None]:
    """The request's messages read so far and its whole body, or None once it exceeds ``limit``
    bytes (the messages read are then replayed and the rest streams on)."""
    messages, size, chunks = [], 0, []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    """A ``receive`` that hands out ``messages`` first, then the original's."""
    queue = deque(messages)

    async def again() -> dict[str, Any]:
        if queue:
            return queue.popleft()
        return await receive()

    return again


# --- the whole ------------------------------------------------------------------------------------


class Protection:
    """The gateway's endpoint protection (one per app): the revoked set, its poller, the account
    throttle and the denial auditor. Built by :func:`install_protection`."""

    def __init__(self, app: Any, settings: Any, registry: CollectorRegistry | None = None) -> None:
        self.app = app
        self.enabled = bool(_settings(settings, "protection_enabled", True))
        self.fail_closed = bool(_settings(settings, "protection_fail_closed", True))
        self.body_max = int(_settings(settings, "protection_body_max", 8192))
        stale_s = float(_settings(settings, "protection_stale_s", 10.0))
        self.first_sync_s = min(stale_s, 5.0)
        max_keys = int(_settings(settings, "protection_max_accounts", 50_000))
        self.revoked = RevocationSet(int(_settings(settings, "protection_max_revoked", 200_000)))
        self.poller = RevocationPoller(self._fetch, self.revoked, poll_s=float(_settings(settings, "protection_poll_s",
                                                                                         0.25)), stale_s=stale_s)
        rule = parse_rule(str(_settings(settings, "protection_account_limit", "10/60s")), "protection_account_limit")
        self.throttle = None if rule.limit is None else AccountThrottle(rule.limit, rule.window_s, max_keys)
        self.audit = AuditBatcher(security_sink(lambda: getattr(app.state, "clients", None)),
                                  max_pending=int(_settings(settings, "protection_audit_max_pending", 10_000)),
                                  flush_s=float(_settings(settings, "protection_audit_flush_s", 1.0)),
                                  registry=registry) \
            if _settings(settings, "protection_audit", True) else None
        self.locked_refusals = 0

    def _auth(self) -> Any:
        return _client(getattr(self.app.state, "clients", None), AUTH)

    async def _fetch(self, cursor: str | None) -> Mapping[str, Any]:
        transport = self._auth()
        if transport is None:
            raise ServiceUnavailable(f"{AUTH} is not reachable from this gateway", service=AUTH)
        return await bind(AuthClient, transport).revocations(GATEWAY, cursor)

    def active(self) -> bool:
        """Whether revocations are checked: on, and this gateway fronts an aria_auth (down or not:
        a down one is a stale feed, which fails closed)."""
        if not self.enabled:
            return False
        try:
            return self._auth() is not None
        except AriaError:
            return True

    async def check(self, claims: Mapping[str, Any] | None) -> None:
        """Refuse a verified token whose session or client was revoked (BearerAuth's claims)."""
        if not claims or not self.active():
            return
        sid, client_id = claims.get("sid"), claims.get("client_id")
        if not sid and not client_id:
            return  # a service or hand-minted token: nothing aria_auth can revoke
        self.poller.ensure_running()
        if self.poller.stale():
            await self.poller.first_sync(self.first_sync_s)
        if self.poller.stale() and self.fail_closed:
            raise ServiceUnavailable(f"revocations from {AUTH} cannot be checked right now", service=AUTH)
        if sid and self.revoked.session_revoked(str(sid)):
            raise SessionRevoked(session_id=str(sid))
        if client_id:
            try:
                issued = float(claims.get("iat", 0))
            except (TypeError, ValueError):
                issued = 0.0
            if self.revoked.client_revoked(str(client_id), issued):
                raise ClientRevoked(client_id=str(client_id))

    def stats(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "active": self.active(), "fail_closed": self.fail_closed,
                "feed": self.poller.stats(), "locked_refusals": self.locked_refusals,
                "account_throttle": None if self.throttle is None else {
                    "limit": self.throttle.limit, "window_s": self.throttle.window_s,
                    "refused": self.throttle.refused},
                "audit": None if self.audit is None else self.audit.stats()}

    async def stop(self) -> None:
        await self.poller.stop()
        if self.audit is not None:
            await self.audit.stop()


class ProtectionMiddleware:
    """Pure ASGI: the login routes' account checks, and the audit of every denial."""

    def __init__(self, app: Any, protection: Protection) -> None:
        self.app = app
        self.protection = protection

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.protection.enabled:
            await self.app(scope, receive, send)
            return
        kind = LOGIN_ROUTES.get(route_path(scope)) if scope["method"] == "POST" else None
        account = None
        if kind is not None:
            messages, body = await read_bounded(receive, self.protection.body_max)
            receive = replay(messages, receive)
            if body is not None:
                account = account_of(kind, dict(scope["headers"]), body)
            if account is not None and await self._refused(scope, receive, send, kind, account):
                return
        scope.setdefault("state", {})  # shared with request.state: the verified principal lands here
        await self.app(scope, receive, self._watch(scope, send, account) if self.protection.audit else send)

    async def _refused(self, scope: dict[str, Any], receive: Any, send: Any, kind: str, account: str) -> bool:
        protection = self.protection
        error: AriaError | None = None
        if not account.startswith("client:") and protection.active():
            tenant, _, username = account.partition("/")
            left = protection.revoked.locked_for(tenant, username)
            if left > 0:
                protection.locked_refusals += 1
                error = AccountLocked(retry_after_s=max(1, int(left + 0.999)))
        if error is None and protection.throttle is not None:
            wait = protection.throttle.hit(account)
            if wait > 0:
                retry = max(1, int(wait + 0.999))
                error = AccountThrottled(f"too many attempts for this account; retry after {retry} s",
                                         retry_after_s=retry)
        if error is None:
            return False
        retry_after = str(error.fields.get("retry_after_s", 1))
        path = scope["path"]
        response = oauth_problem(error, path) if kind == "token" else \
            JSONResponse(error.problem(instance=path), status_code=error.status, media_type=PROBLEM_JSON)
        response.headers["Retry-After"] = retry_after
        await response(scope, receive, self._watch(scope, send, account) if protection.audit else send)
        return True

    def _watch(self, scope: dict[str, Any], send: Any, account: str | None) -> Any:
        """``send``, noting a 401/403/429 answer (its problem type from the body's first 4 KiB)."""
        audit = self.protection.audit
        assert audit is not None
        state: dict[str, Any] = {"status": 0, "body": b""}

        async def watched(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body" and state["status"] in DENIALS:
                if len(state["body"]) < 4096:
                    state["body"] += message.get("body", b"")[:4096]
                if not message.get("more_body", False):
                    audit.denied(state["status"], _reason(state["status"], state["body"]), scope["method"],
                                 _template(scope), _subject(scope, account))
                    state["status"] = 0

        return watched


def _reason(status: int, body: bytes) -> str:
    """The problem's type slug (``session-revoked``), else the status."""
    try:
        doc = json.loads(body)
        kind = doc.get("type") if isinstance(doc, dict) else None
    except ValueError:
        kind = None
    if isinstance(kind, str) and kind:
        return kind.rstrip("/").rsplit("/", 1)[-1][:64]
    return str(status)


def _template(scope: Mapping[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


def _subject(scope: Mapping[str, Any], account: str | None) -> str:
    """Who was denied: the verified token's subject, else the account tried, else the address."""
    principal = (scope.get("state") or {}).get("principal")
    if isinstance(principal, Mapping) and principal.get("sub"):
        return f"sub:{principal['sub']}"
    if account is not None:
        return f"account:{account}"
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = "unknown"
    return f"addr:{host}"


def install_protection(app: Any, settings: Any, registry: CollectorRegistry | None = None) -> Protection:
    """Add :class:`ProtectionMiddleware` to ``app`` (after the rate limits, so it wraps them and
    audits their 429s); returns the :class:`Protection` whose ``check`` the bearer dependency calls."""
    protection = Protection(app, settings, registry)
    app.add_middleware(ProtectionMiddleware, protection=protection)
    shutdown = getattr(getattr(app, "router", None), "on_shutdown", None)
    if isinstance(shutdown, list):
        shutdown.append(protection.stop)
    return protection


__all__ = ["AccountThrottle", "AccountThrottled", "AddressLockout", "AuditBatcher", "ClientRevoked", "Protection",
           "ProtectionMiddleware", "RevocationPoller", "RevocationSet", "SessionRevoked", "account_of",
           "install_protection", "security_sink", "token_lockout"]
