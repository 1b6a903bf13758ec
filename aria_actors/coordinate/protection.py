"""Endpoint protection at the gateway: revoked sessions refused within a second, locked accounts
and per-account login throttles enforced before aria_auth, and every denial audited.

::

    request -> ObserveRequests -> CORS -> ProtectionMiddleware -> RateLimitMiddleware -> routing
                                            |  a credential route (login, token, login/mfa, login/passkey,
                                            |    the OpenID provider's login and MFA forms; by the
                                            |    AuthClient method it fronts, any version): read the body
                                            |    as the route will (bounded, replayed downstream):
                                            |    too large -> 413 body-too-large; unreadable -> 400
                                            |    locked (from the feed) -> 429 auth-account-locked
                                            |    over the per-account window -> 429 account-rate-limited
                                            |  response 401/403/429 -> AuditBatcher -> aria_security
                                            v
                                         routing -> BearerAuth (invalid tokens per address: Lockout)
                                                 -> refuse_foreign: an OpenID client's token (azp) -> 403
                                                    token-not-for-this-api, but on UserInfo
                                                 -> Protection.check(claims): sid revoked -> 401 session-revoked
    WebSocket /v1/interface/ws: the same lockout and checks at the handshake (refused: close 1008,
    audited); an open connection is closed 1008 when its session or client is revoked (``watch``).

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
  unaffected. Until a replica's first poll succeeds, the requests share one wait of at most
  ``min(stale_s, 5)`` s for it; once that wait has ended each is answered at once.
  ``protection_fail_closed = false`` serves on instead, with a warning logged every
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
  lower-cased username; the client id of a token request; the lower-cased username of the OpenID
  provider's login form, whose tenant only aria_auth knows, so that form has a window of its own;
  the challenge of an MFA step, by its digest) in any sliding window, 429
  ``account-rate-limited`` with ``Retry-After``. It adds to the per-address limit of
  ``ratelimit``; an attempt counts even when the per-address limit then refuses it, so anyone
  can spend a known account's window (as with any per-account throttle: the account's owner then
  waits at most one window; it does not lock the account). At most ``protection_max_accounts``
  accounts are remembered (least recently used forgotten first).
- The body is read only on the credential routes, as each route reads it (JSON as FastAPI does:
  ``application/json`` or ``application/*+json``, ``json.loads`` on the bytes, so a BOM, UTF-16 or
  UTF-32 too; the token route's and the OpenID forms' own parsers), and handed to the route
  unchanged. One larger than ``protection_body_max`` (never less than the route's own bound: 8 KiB
  for the token route, 16 KiB for the OpenID forms, 32 KiB for a passkey step) is refused 413
  ``body-too-large``, one the route would not read either 400 (``unreadable-body``; the token
  route's own OAuth error there): no attempt reaches a password check uncounted. A body that
  names no account (a refresh grant, a JSON object without ``username``) passes (the route
  refuses what it cannot use).
- OpenID Connect access tokens (``azp``, issued by aria_auth's provider to a third-party client)
  open only ``/v1/auth/oidc/userinfo`` (GET and POST, or a route fronting ``oidc_userinfo``):
  anywhere else, the WebSocket channel included, 403 ``token-not-for-this-api``.
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
import contextlib
import email.message
import hashlib
import ipaddress
import json
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from aria_actors.auth import oauth
from aria_actors.auth import provider_wire as wire
from aria_actors.auth.client import AuthClient
from aria_actors.auth.errors import AccountLocked
from aria_actors.auth.oauth import grant_request, oauth_problem
from aria_actors.coordinate.ratelimit import RouteMatcher, client_key, parse_rule, route_path
from aria_actors.runtime.errors import AriaError, ServiceUnavailable
from aria_actors.runtime.http import PROBLEM_JSON, Permits
from aria_actors.runtime.periodic import stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.security.audit import Lockout
from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.gateway.protection")
audit_log = logging.getLogger("aria.gateway.audit")
GATEWAY = Principal.internal("aria_coordinate")
AUTH, SECURITY = "aria_auth", "aria_security"
# The credential doors: the AuthClient methods whose routes take a password, a client secret, a
# second factor or a challenge in the body, and the kind of body each reads (see ``account_of``).
# A route is one of them when it fronts such a method (``permits(AuthClient.login)``: a /v2 copy
# of a route fronts the same method) or when its template, in any version, is in LOGIN_ROUTES.
PROTECTED_METHODS = {"login": "login", "client_token": "token", "login_mfa": "mfa", "login_passkey": "passkey",
                     "oidc_login": "oidc_login", "oidc_login_mfa": "oidc_mfa"}
LOGIN_ROUTES = {"/v1/auth/login": "login", "/v1/auth/token": "token", "/v1/auth/login/mfa": "mfa",
                "/v1/auth/login/passkey": "passkey", "/v1/auth/oidc/authorize/login": "oidc_login",
                "/v1/auth/oidc/authorize/mfa": "oidc_mfa"}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The largest body each kind's route itself accepts: the gateway never refuses less than that.
# A passkey assertion's fields (passkeys.LIMITS) add up to about 21 KiB at most.
ROUTE_BODY_MAX = {"token": oauth.MAX_BODY, "passkey": 32_768, "oidc_login": wire.MAX_BODY, "oidc_mfa": wire.MAX_BODY}
# Routes an OpenID Connect access token (one with ``azp``) may call: the UserInfo endpoint only.
OIDC_TOKEN_METHODS = frozenset({"oidc_userinfo"})
OIDC_TOKEN_ROUTES = frozenset({("GET", "/v1/auth/oidc/userinfo"), ("POST", "/v1/auth/oidc/userinfo")})
_VERSION = re.compile(r"^/v[0-9]{1,3}/")
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


class LoginBodyTooLarge(AriaError):
    """The body of a login route is larger than the gateway reads for its account; send a smaller one."""

    type = "body-too-large"
    status = 413
    title = "Request body too large"


class UnreadableLoginBody(AriaError):
    """The body of a login route cannot be read the way the route reads it (content type, encoding, syntax)."""

    type = "unreadable-body"
    status = 400
    title = "Unreadable request body"


class TokenNotForThisApi(AriaError):
    """This access token was issued to an OpenID Connect client for the UserInfo endpoint, not for Aria's API."""

    type = "token-not-for-this-api"
    status = 403
    title = "Token not for this API"


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
        # Told of each applied page's sessions and clients (``(client_id, revoked at)``): open
        # connections (the WebSocket channel) end theirs (see ``Protection.watch``).
        self.listeners: list[Callable[[list[str], list[tuple[str, float]]], None]] = []

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
        sids: list[str] = []
        clients: list[tuple[str, float]] = []
        for s in feed.get("sessions", ()):
            sids.append(str(s["sid"]))
            self._put(self._sessions, sids[-1], float(s["at"]) + keep)
            n += 1
        for c in feed.get("clients", ()):
            clients.append((str(c["client_id"]), float(c["at"])))
            self._put(self._clients, clients[-1][0], (clients[-1][1], clients[-1][1] + keep))
            n += 1
        for lk in feed.get("locks", ()):
            key = self.account(str(lk["tenant"]), str(lk["username"]))
            if lk.get("until") is None:
                self._locks.pop(key, None)
            else:
                self._put(self._locks, key, float(lk["until"]))
            n += 1
        self.expire()
        if sids or clients:
            for listener in list(self.listeners):
                try:
                    listener(sids, clients)
                except Exception:  # a listener's fault must not stop the feed
                    log.exception("a revocation listener failed")
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
        await stop_task(task)

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
        await stop_task(task)

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


def account_of(kind: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """The account a credential request is for, read from its body as its route reads it.

    ``tenant/username`` (login, password grant), ``client:<id>`` (client credentials),
    ``oidc:<username>`` (the OpenID provider's login form: its tenant is the client's, which only
    aria_auth knows), ``challenge:<digest>`` (an MFA step: the challenge stands for the account
    whose password was given). None: the body names none (the route refuses it, or it is a
    refresh). :class:`UnreadableLoginBody` (or the route's own error): a body the route would not
    read either; the gateway refuses it rather than pass on an uncounted attempt.
    """
    if kind == "token":
        grant = grant_request(headers, body)  # the token route's own parser, and its own 400s
        if grant.type == "password" and grant.username:
            return RevocationSet.account(grant.tenant[:63], grant.username[:64])
        return f"client:{grant.client_id[:64]}" if grant.client_id else None  # its secret is checked
    if kind in ("oidc_login", "oidc_mfa"):
        params = _form_of(headers, body)
        if kind == "oidc_login":
            return f"oidc:{params['username'][:64].lower()}" if params.get("username") else None
        return _challenge(params.get("challenge"))
    data = _json_of(headers, body)
    if not isinstance(data, dict):
        return None  # the route refuses anything but an object (422)
    if kind == "login":
        username, tenant = data.get("username"), data.get("tenant", "")
        if not isinstance(username, str) or not username:
            return None
        return RevocationSet.account(tenant[:63] if isinstance(tenant, str) else "", username[:64])
    return _challenge(data.get("challenge"))  # mfa, passkey


def _challenge(value: object) -> str | None:
    """An MFA challenge as a key: its digest (the challenge is a credential: never kept or audited)."""
    if not isinstance(value, str) or not value:
        return None
    return "challenge:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def reads_json(content_type: str | None) -> bool:
    """Whether a FastAPI route with a body model reads this body as JSON: ``application/json`` or
    any ``application/*+json`` (parameters and case ignored), as ``fastapi.routing`` decides; no
    content type counts too (FastAPI's non-strict mode)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _json_of(headers: Mapping[str, str], body: bytes) -> Any:
    """The body as the route's ``request.json()`` gives it: ``json.loads`` on the bytes, which
    also reads a UTF-8 BOM, UTF-16 and UTF-32."""
    if not reads_json(headers.get("content-type")):
        raise UnreadableLoginBody("send the body as application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UnreadableLoginBody("the body is not JSON") from None


def _form_of(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """An OpenID provider form as its routes read it (``provider_api._form``: form-urlencoded only)."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UnreadableLoginBody("send the parameters as application/x-www-form-urlencoded")
    return wire.form(body)  # the route's own parser; raises its own 400 for what it refuses


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
        self._first_wait: asyncio.Task[None] | None = None  # the one wait for the first poll (see check)
        self._matcher: RouteMatcher | None = None
        self._kinds: dict[int, str | None] = {}  # id(route) -> credential kind (None: not a credential door)
        # Open connections to end when their session or client is revoked (``watch``).
        self._watch_sids: dict[str, set[Callable[[AriaError], None]]] = {}
        self._watch_clients: dict[str, set[tuple[float, Callable[[AriaError], None]]]] = {}
        self.revoked.listeners.append(self._revoked_now)

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
        if self.poller.synced_at is None:
            await self._first_sync()
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

    async def _first_sync(self) -> None:
        """Wait for the first poll once per replica: every request until then shares one wait of at
        most ``first_sync_s``; once it has ended, a request is answered at once (503 while stale)."""
        wait = self._first_wait
        loop = asyncio.get_running_loop()
        if wait is None or wait.get_loop() is not loop:
            wait = self._first_wait = loop.create_task(self.poller.first_sync(self.first_sync_s))
        if not wait.done():
            await asyncio.shield(wait)  # a cancelled request must not cancel the others' wait

    async def admit(self, claims: Mapping[str, Any] | None, scope: Mapping[str, Any]) -> None:
        """Everything the gateway checks of a verified token on a route: :func:`refuse_foreign`,
        then :meth:`check` (revoked sessions and clients)."""
        refuse_foreign(claims, scope)
        await self.check(claims)

    def watch(self, claims: Mapping[str, Any], end: Callable[[AriaError], None]) -> Callable[[], None]:
        """Call ``end(error)`` once if the session (``sid``) or machine client (``client_id``) of
        ``claims`` is revoked while a connection made with them is open; returns the unwatch.

        Already revoked (since the connection's token was checked): ``end`` is called soon."""
        sid, client_id = claims.get("sid"), claims.get("client_id")
        try:
            issued = float(claims.get("iat", 0))
        except (TypeError, ValueError):
            issued = 0.0
        entry = (issued, end)
        if sid:
            self._watch_sids.setdefault(str(sid), set()).add(end)
        if client_id:
            self._watch_clients.setdefault(str(client_id), set()).add(entry)
        if sid and self.revoked.session_revoked(str(sid)):
            asyncio.get_running_loop().call_soon(end, SessionRevoked(session_id=str(sid)))
        elif client_id and self.revoked.client_revoked(str(client_id), issued):
            asyncio.get_running_loop().call_soon(end, ClientRevoked(client_id=str(client_id)))

        def unwatch() -> None:
            if sid:
                ends = self._watch_sids.get(str(sid))
                if ends is not None:
                    ends.discard(end)
                    if not ends:
                        del self._watch_sids[str(sid)]
            if client_id:
                entries = self._watch_clients.get(str(client_id))
                if entries is not None:
                    entries.discard(entry)
                    if not entries:
                        del self._watch_clients[str(client_id)]

        return unwatch

    def _revoked_now(self, sids: list[str], clients: list[tuple[str, float]]) -> None:
        """The feed brought these revocations: end the open connections they concern."""
        for sid in sids:
            for end in list(self._watch_sids.get(sid, ())):
                end(SessionRevoked(session_id=sid))
        for client_id, at in clients:
            for issued, end in list(self._watch_clients.get(client_id, ())):
                if issued <= at:
                    end(ClientRevoked(client_id=client_id))

    def record_denial(self, error: AriaError, scope: Mapping[str, Any],
                      claims: Mapping[str, Any] | None = None) -> None:
        """Audit a 401/403/429 the gateway answers outside HTTP (a WebSocket handshake refused)."""
        if self.audit is None or error.status not in DENIALS:
            return
        subject = f"sub:{claims['sub']}" if claims and claims.get("sub") else _subject(scope, None)
        route = getattr(scope.get("route"), "path", None) or str(scope.get("path", "(unmatched)"))
        self.audit.denied(error.status, error.type, str(scope.get("method") or "GET"), route, subject)

    def kind_of(self, scope: Mapping[str, Any]) -> str | None:
        """The credential kind of the route a request goes to (a key of ROUTE kinds), or None."""
        if scope["method"] not in BODY_METHODS:
            return None
        routes = getattr(self.app, "routes", None)
        if routes is None:  # not an app with routes (a bare ASGI app): by path alone
            return LOGIN_ROUTES.get(_VERSION.sub("/v1/", route_path(scope))) if scope["method"] == "POST" else None
        matcher = self._matcher
        if matcher is None or matcher.count != len(routes):  # routes were added (a /v2 copy)
            matcher, self._kinds = RouteMatcher(self.app), {}
            self._matcher = matcher
        template, route = matcher.match(scope["method"], route_path(scope))
        if route is None or scope["method"] not in (getattr(route, "methods", None) or ()):
            return None
        key = id(route)
        if key not in self._kinds:
            fronted = [PROTECTED_METHODS[m] for m in fronts(route) if m in PROTECTED_METHODS]
            self._kinds[key] = fronted[0] if fronted else (
                LOGIN_ROUTES.get(_VERSION.sub("/v1/", template)) if scope["method"] == "POST" else None)
        return self._kinds[key]

    def body_limit(self, kind: str) -> int:
        """The largest body of a ``kind`` route read for its account (larger: 413)."""
        return max(self.body_max, ROUTE_BODY_MAX.get(kind, 0))

    def stats(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "active": self.active(), "fail_closed": self.fail_closed,
                "feed": self.poller.stats(), "locked_refusals": self.locked_refusals,
                "account_throttle": None if self.throttle is None else {
                    "limit": self.throttle.limit, "window_s": self.throttle.window_s,
                    "refused": self.throttle.refused},
                "audit": None if self.audit is None else self.audit.stats()}

    async def stop(self) -> None:
        wait, self._first_wait = self._first_wait, None
        if wait is not None and not wait.done():
            wait.cancel()
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
        kind = self.protection.kind_of(scope)
        account = None
        if kind is not None:
            headers = Headers(scope=scope)  # first value wins, as the route's request.headers
            limit = self.protection.body_limit(kind)
            error: AriaError | None = None
            if _content_length(headers) > limit:  # refused before reading it
                error = LoginBodyTooLarge(f"the body is larger than {limit} bytes", limit=limit)
            else:
                messages, body = await read_bounded(receive, limit)
                receive = replay(messages, receive)  # the route gets the body unchanged
                if messages[-1]["type"] != "http.request":  # the client left: the route sees it leave
                    await self.app(scope, receive, send)
                    return
                if body is None:
                    error = LoginBodyTooLarge(f"the body is larger than {limit} bytes", limit=limit)
                else:
                    try:
                        account = account_of(kind, headers, body)
                    except AriaError as exc:
                        error = exc
            if error is not None:
                await self._answer(scope, receive, send, kind, error, None)
                return
            if account is not None and await self._refused(scope, receive, send, kind, account):
                return
        scope.setdefault("state", {})  # shared with request.state: the verified principal lands here
        await self.app(scope, receive, self._watch(scope, send, account) if self.protection.audit else send)

    async def _answer(self, scope: dict[str, Any], receive: Any, send: Any, kind: str, error: AriaError,
                      account: str | None) -> None:
        """Answer ``error`` as the route would: problem+json (the token endpoint's with OAuth members)."""
        path = scope["path"]
        response = oauth_problem(error, path) if kind == "token" else \
            JSONResponse(error.problem(instance=path), status_code=error.status, media_type=PROBLEM_JSON)
        if "retry_after_s" in error.fields:
            response.headers["Retry-After"] = str(error.fields["retry_after_s"])
        await response(scope, receive, self._watch(scope, send, account) if self.protection.audit else send)

    async def _refused(self, scope: dict[str, Any], receive: Any, send: Any, kind: str, account: str) -> bool:
        protection = self.protection
        error: AriaError | None = None
        if kind in ("login", "token") and not account.startswith("client:") and protection.active():
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
        await self._answer(scope, receive, send, kind, error, account)
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


def _content_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0  # not a number: the body is read (bounded) instead


def fronts(route: Any) -> set[str]:
    """The AuthClient methods a route fronts (its ``permits(AuthClient.x)`` dependencies)."""
    found, stack = set(), [getattr(route, "dependant", None)]
    while stack:
        dep = stack.pop()
        if dep is None:
            continue
        if isinstance(dep.call, Permits) and dep.call.proto is AuthClient:
            found.add(dep.call.method)
        stack.extend(dep.dependencies)
    return found


def refuse_foreign(claims: Mapping[str, Any] | None, scope: Mapping[str, Any]) -> None:
    """Refuse (403 ``token-not-for-this-api``) an OpenID Connect access token, one issued by
    aria_auth's provider to a third-party client (it carries ``azp``), on every route but the
    UserInfo endpoint (GET and POST, any version of it): the client was granted the user's
    identity claims, not the user's Aria API."""
    if not claims or "azp" not in claims:
        return
    route, method = scope.get("route"), scope.get("method")
    template = getattr(route, "path", None)
    if method in ("GET", "POST") and template and (
            (method, _VERSION.sub("/v1/", template)) in OIDC_TOKEN_ROUTES or fronts(route) & OIDC_TOKEN_METHODS):
        return
    raise TokenNotForThisApi("this token was issued to an OpenID Connect client: it opens only "
                             "/v1/auth/oidc/userinfo", client_id=str(claims["azp"])[:64])


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


__all__ = ["AccountThrottle", "AccountThrottled", "AddressLockout", "AuditBatcher", "ClientRevoked",
           "LoginBodyTooLarge", "Protection", "ProtectionMiddleware", "RevocationPoller", "RevocationSet",
           "SessionRevoked", "TokenNotForThisApi", "UnreadableLoginBody", "account_of", "fronts", "install_protection",
           "reads_json", "refuse_foreign", "security_sink", "token_lockout"]
