"""Rate limiting for the gateway: an exact sliding window per (principal, route), shared across
gateway replicas by quota leasing, enforced by a pure ASGI middleware before routing.

::

    request --> RateLimitMiddleware --(route template: own matcher over the app's routes)
                      |              --(principal: subject of a verified bearer token,
                      |                 else the client address)
                      v
                RateLimiter.hit(subject, roles, method, template)
                      |  rule = RateLimitRules.rule_for(method, template)      N per W
                      |  limit = this replica's share of N (x the roles' multiplier)
                      |  sliding window of the key: admit iff fewer than limit admissions in (t-W, t]
                      v
                Quota:  LocalQuota (one replica: the share is N, nothing leaves the process)
                        LeasedQuota --renew every renew_s--> QuotaCoordinator (Ray actor
                                                             "aria_ratelimit", namespace "aria")

Rules come from settings (see :meth:`RateLimiter.from_settings`): a default ``"600/60s"``,
per-route overrides keyed by ``"[METHOD ]/template"`` or a prefix ``"[METHOD ]/prefix*"`` (exact
beats prefix, the longest prefix wins, a rule naming the method beats one that does not), role
multipliers (``{"admin": "unlimited", "service": 10}``) and stricter built-in rules for the
login and token routes (:data:`DEFAULT_ROUTES`). A 429 is ``application/problem+json`` with type
``.../rate-limited``; every response of a limited route carries ``RateLimit-Limit`` (the key's
``N``), ``RateLimit-Remaining`` (what this replica will still admit in the window),
``RateLimit-Reset`` (seconds until the oldest counted admission leaves), ``RateLimit-Policy``
(``N;w=W``), and a 429 ``Retry-After`` (seconds until the window admits again, rounded up).

Wiring (the gateway)::

    limiter = install_rate_limits(app, settings, quota_from_settings(settings, namespace),
                                  verify=bearer_verify(bearer))   # before ObserveRequests

Guarantees and caveats
----------------------
- Sliding window, no burst at a window edge: a key is admitted at ``t`` iff fewer than ``limit``
  of its admissions are counted in ``(t-W, t]``, so no half-open interval of length ``W`` ever
  holds more than ``limit`` of them. Proof: take any such interval and the last admission ``a``
  in it; every admission in it lies in ``(a-W, a]`` and was counted when ``a`` was decided
  (counted admissions only ever stay longer than their true time, never shorter), that count was
  ``< limit``, so with ``a`` the interval holds ``<= limit``. A window that is not full admits.
- Exact for small limits, bounded memory for large ones: a key whose limit (``N`` x its
  multiplier) is at most ``max_runs`` keeps each admission time (a sliding log). Above that,
  admissions are grouped into ``W/max_runs`` buckets and each is counted until its bucket's end:
  never more than the limit (the proof above holds), but a request may be refused up to
  ``W/max_runs`` early. A key holds at most ``max_runs`` runs: about 450 bytes a key plus 16 a
  run (20,000 keys of 64 runs: under 30 MB).
- At most ``max_keys`` keys (LRU). Forgetting a key whose window is still live forgets its
  history: size ``max_keys`` above the (principal, route) pairs active within one window;
  :meth:`RateLimiter.stats` counts such ``unsafe_evictions``.
- Across replicas, no network round trip per request: each replica enforces its share ``n_i`` of
  every rule's ``N`` and renews a lease with the coordinator every ``renew_s`` (lease time
  ``lease_s``). The coordinator grants ``n_j <= N - sum(held_i, i != j)``, where ``held_i`` is
  the largest share of any grant of replica ``i`` that may still have admissions inside some
  window (a grant counts until it was superseded or expired, plus ``W``). So the shares that
  can still matter sum to at most ``N``, and since each replica's own window never exceeds the
  share it uses, the union admits at most ``N`` per key in any window (x the multiplier).
  A replica measures its lease from before it asked, on its own clock: clocks need the same rate,
  not the same time.
- Rebalancing: each renewal recomputes the replica's target, ``N * ((1-reserve) * its share of
  the recent demand + reserve / live replicas)`` (largest remainder). A share shrinks at once; the
  capacity it gives up reaches other replicas only after the old grant is known to be superseded
  (the next renewal) plus ``W``. So one busy replica among idle ones is held to its share for
  about ``2 * renew_s + W`` after demand moves; ``reserve`` keeps a floor for idle replicas. With
  ``N`` below the number of replicas some hold 0 of that rule until demand moves it. Shares are
  per rule, not per key: a key whose traffic all lands on one replica gets that replica's share.
- A replica that stops renewing loses its share when its lease ends; the share returns to the
  others ``W`` later. A replica whose renewals fail keeps its lease until it ends, then refuses
  that rule's requests for ``grace_s`` (a lost answer or a coordinator restart keeps the bound),
  then takes the coordinator for down and limits to ``N / (live replicas at its last lease)``
  per key, so the gateway keeps serving: the union bound then holds only if no replica was
  added meanwhile. A coordinator that restarts learns each replica's shares back at its
  renewal; a replica that has not renewed yet is invisible to it for up to ``lease_s``.
- Replicas must share the rules: a rule's id carries its pattern, ``N`` and ``W``, so replicas
  with different settings (a rolling update) hold separate pools meanwhile.
- The principal: the middleware runs before routing and before the app's dependencies, so it
  cannot wait for BearerAuth. It keys a request by the subject of a token it knows verified: one
  BearerAuth verified on an earlier request (learned from ``request.state.principal`` after the
  response; ``token_cache`` token digests, each until its ``exp``), or one the optional
  ``verify`` hook accepts (:func:`bearer_verify`: BearerAuth's cached keys, one signature check
  per new token). Anything else is keyed by the client address: ``addr:<ip>`` without a token,
  ``tok:<ip>`` with an unknown one, so a forged token never spends someone else's quota and
  anonymous traffic does not block a token's first use. Without ``verify`` a token is learned
  only once a request carrying it got through, so a flood of forged tokens from one address
  can hold back new tokens from that address; with it, it cannot. Behind a proxy, run uvicorn
  with ``--proxy-headers`` (trusted ``--forwarded-allow-ips``) or every caller without a known
  token shares the proxy's address.
- The route: the middleware matches the path against the app's routes itself, in FastAPI's
  order (first full match; a method mismatch takes the first path match), because
  ``scope["route"]`` is only set inside the router, after the point where a refusal is cheap.
  The template is the route's full path (a prefixed include's prefix included). Unmatched paths
  share the template ``(unmatched)`` under the default rule, so a 404 scan is limited too.
- One limiter per event loop: it is not thread-safe (a gateway replica runs one loop).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import logging
import math
import re
import time
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, NamedTuple, Protocol

from aria_actors.runtime import caches
from aria_actors.runtime.errors import AriaError, BadRequest
from aria_actors.runtime.principal import ANONYMOUS_ROLE, Principal

log = logging.getLogger("aria.ratelimit")

COORDINATOR_NAME = "aria_ratelimit"
COORDINATOR_NAMESPACE = "aria"
UNMATCHED = "(unmatched)"
UNLIMITED = ("unlimited", "exempt", "none")
DEFAULT_RULE = "600/60s"
# Credential-guessing routes: a password or client secret per request is the thing to slow down.
CREDENTIAL_ROUTES: dict[str, str] = {
    "POST /v1/auth/login": "10/60s",
    "POST /v1/auth/login/mfa": "10/60s",
    "POST /v1/auth/token": "30/60s",
    "POST /v1/auth/refresh": "60/60s",
    "POST /v1/security/tokens": "30/60s",
    # the other doors where a body or a browser's redirect is the credential (each also writes a row)
    "POST /v1/auth/login/passkey": "10/60s",
    "POST /v1/auth/passkeys/login/options": "30/60s",
    "POST /v1/auth/passkeys/login": "10/60s",
    "POST /v1/auth/oidc/authorize/login": "10/60s",
    "POST /v1/auth/oidc/authorize/mfa": "10/60s",
    "POST /v1/auth/oidc/token": "30/60s",
    "GET /v1/auth/sso/{provider}/login": "30/60s",
    "GET /v1/auth/sso/{provider}/callback": "30/60s",
}
# Probes a load balancer or Prometheus sends from one address: limiting them would take the
# gateway out of rotation (the routes are cheap, public reads).
PROBE_ROUTES: dict[str, str] = {"GET /health": "unlimited", "GET /metrics": "unlimited",
                                "GET /versions": "unlimited", "GET /v1/security/jwks": "unlimited"}
DEFAULT_ROUTES: dict[str, str] = {**CREDENTIAL_ROUTES, **PROBE_ROUTES}
DEFAULT_ROLES: dict[str, float | str] = {"admin": "unlimited"}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
STANDARD_METHODS = METHODS
_RULE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|m|min|h|hour|d|day)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
MAX_WINDOW_S = 86400.0
MAX_LIMIT = 10**9
MAX_GRANTS = 64  # per replica at the coordinator


class BadRateLimit(BadRequest):
    """A rate-limit setting cannot be read; the message names it and the accepted form."""

    type = "bad-rate-limit"
    title = "Bad rate limit"


class RateLimited(AriaError):
    """Too many requests from this caller to this route; retry after ``retry_after_s``."""

    type = "rate-limited"
    status = 429
    title = "Too many requests"


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """``limit`` admissions per ``window_s`` (``limit`` None: unlimited). ``id`` names the rule's
    pool at the coordinator: the same pattern and numbers on every replica give the same id."""

    limit: int | None
    window_s: float
    id: str = ""
    policy: bytes = b""  # the ``RateLimit-Policy`` value: ``b"10;w=60"``


def parse_rule(text: str | Rule, pattern: str = "default") -> Rule:
    """``"10/60s"``, ``"100/1m"``, ``"5/h"`` (a bare unit is one of it), ``"unlimited"``."""
    if isinstance(text, Rule):
        return text
    spec = str(text).strip()
    if spec.lower() in UNLIMITED:
        return Rule(None, 1.0, f"{pattern}=unlimited")
    m = _RULE.match(spec)
    if m is None:
        raise BadRateLimit(f"rate limit {text!r} for {pattern!r}: write '<count>/<window>' such as "
                           f"'10/60s', '100/1m', '5/h', or 'unlimited'", rule=str(text), route=pattern)
    limit = int(m.group(1))
    window = float(m.group(2) or 1) * _UNITS[(m.group(3) or "s").lower()]
    if not 0 < window <= MAX_WINDOW_S or limit > MAX_LIMIT:
        raise BadRateLimit(f"rate limit {text!r} for {pattern!r}: the window must be over 0 and at most "
                           f"one day, the count at most {MAX_LIMIT}", rule=str(text), route=pattern)
    return Rule(limit, window, f"{pattern}={limit}/{window:g}s", f"{limit};w={window:g}".encode())


def _parse_pattern(pattern: str) -> tuple[str | None, str, bool]:
    """``"POST /v1/auth/login"`` -> ``("POST", "/v1/auth/login", False)``; ``"/v1/x/*"`` is a prefix."""
    method, _, path = pattern.strip().rpartition(" ")
    method = method.strip().upper() or None
    if method is not None and method not in METHODS:
        raise BadRateLimit(f"rate-limit route {pattern!r}: unknown method {method!r}", route=pattern)
    prefix = path.endswith("*")
    path = path.rstrip("*")
    if not path.startswith("/") or "*" in path:
        raise BadRateLimit(f"rate-limit route {pattern!r}: write '[METHOD ]/path/template' or a prefix "
                           f"'[METHOD ]/path/prefix*'", route=pattern)
    return method, path, prefix


def _parse_multiplier(role: str, value: float | str) -> float | None:
    if isinstance(value, str) and value.strip().lower() in UNLIMITED:
        return None
    try:
        mult = float(str(value).strip().lstrip("xX")) if isinstance(value, str) else float(value)
    except ValueError:
        mult = math.nan
    if not (0 <= mult <= 1e6):
        raise BadRateLimit(f"rate-limit role {role!r}: {value!r} is neither a multiplier (a number from 0 "
                           f"to 1e6) nor 'unlimited'", role=role)
    return mult


class RateLimitRules:
    """The rule of each (method, route template) and the multiplier of each set of roles."""

    def __init__(self, default: str | Rule = DEFAULT_RULE, routes: Mapping[str, str | Rule] | None = None,
                 roles: Mapping[str, float | str] | None = None) -> None:
        self.default = parse_rule(default, "default")
        self._exact: dict[tuple[str | None, str], Rule] = {}
        self._prefixes: list[tuple[str | None, str, Rule]] = []
        for pattern, spec in (DEFAULT_ROUTES if routes is None else {**PROBE_ROUTES, **routes}).items():
            method, path, prefix = _parse_pattern(pattern)
            rule = parse_rule(spec, pattern.strip())
            if prefix:
                self._prefixes.append((method, path, rule))
            else:
                self._exact[(method, path)] = rule
        # longest prefix first; at equal length the one naming the method first
        self._prefixes.sort(key=lambda p: (-len(p[1]), p[0] is None))
        self.roles = {r: _parse_multiplier(r, v) for r, v in (DEFAULT_ROLES if roles is None else roles).items()}
        self._by_route: dict[tuple[str, str], Rule] = {}
        self._by_roles: dict[tuple[str, ...], float | None] = {}

    def all(self) -> list[Rule]:
        """Every limited rule (what a replica leases)."""
        rules = [self.default, *self._exact.values(), *(r for _, _, r in self._prefixes)]
        return list({r.id: r for r in rules if r.limit is not None}.values())

    def is_credential(self, method: str, template: str) -> bool:
        """Whether ``method template`` is one of the built-in credential routes."""
        return f"{method} {template}" in CREDENTIAL_ROUTES

    def rule_for(self, method: str, template: str) -> Rule:
        hit = self._by_route.get((method, template))
        if hit is not None:
            return hit
        rule = self._exact.get((method, template)) or self._exact.get((None, template))
        if rule is None:
            rule = next((r for m, p, r in self._prefixes if (m is None or m == method) and template.startswith(p)),
                        self.default)
        if len(self._by_route) < 65536:  # templates come from the app's routes: a finite set
            self._by_route[(method, template)] = rule
        return rule

    def multiplier(self, roles: tuple[str, ...]) -> float | None:
        """None: unlimited (any exempt role); else the largest multiplier of the roles (1 by default)."""
        try:
            return self._by_roles[roles]
        except KeyError:
            pass
        found = [self.roles[r] for r in roles if r in self.roles]
        mult = None if any(m is None for m in found) else max((m for m in found if m is not None), default=1.0)
        if len(self._by_roles) > 4096:
            self._by_roles.clear()
        self._by_roles[roles] = mult
        return mult


# --- one key's window ------------------------------------------------------------------------


class _Window:
    """The counted admissions of one key: runs of (anchor time, count), oldest first.

    An admission's anchor is its time (exact) or the end of its ``quantum`` bucket; it is
    counted while ``anchor > now - W``. Anchors are never earlier than the admission, which is
    all the no-overshoot proof in the module docstring needs. Hand-written rather than a
    library's moving window (``limits``): those keep one entry per admission and know nothing of
    leased shares.
    """

    __slots__ = ("anchors", "counts", "quantum", "total", "window_s")

    def __init__(self, window_s: float, quantum: float) -> None:
        self.anchors = array("d")
        self.counts = array("q")
        self.window_s = window_s
        self.quantum = quantum
        self.total = 0

    def expire(self, now: float) -> None:
        anchors, counts = self.anchors, self.counts
        edge = now - self.window_s
        while anchors and anchors[0] <= edge:
            self.total -= counts[0]
            del anchors[0]
            del counts[0]

    def add(self, now: float, max_runs: int) -> None:
        q = self.quantum
        anchor = now if q == 0.0 else max(now, math.ceil(now / q) * q)
        anchors = self.anchors
        if anchors and (anchors[-1] >= anchor or len(anchors) >= max_runs):
            # same bucket, or the run cap: fold into the newest run, moved later (never earlier)
            if anchor > anchors[-1]:
                anchors[-1] = anchor
            self.counts[-1] += 1
        else:
            anchors.append(anchor)
            self.counts.append(1)
        self.total += 1

    def wait_s(self, now: float, limit: int) -> float:
        """Seconds until fewer than ``limit`` admissions are counted (the oldest leaving first)."""
        excess = self.total - limit + 1
        if excess <= 0:
            return 0.0
        seen = 0
        for anchor, count in zip(self.anchors, self.counts, strict=True):
            seen += count
            if seen >= excess:
                return max(anchor + self.window_s - now, 0.0)
        return self.window_s


class Decision(NamedTuple):
    allowed: bool
    limit: int        # the key's limit (N x multiplier): what RateLimit-Limit shows
    remaining: int    # what this replica will still admit in the window
    reset_s: int      # until the oldest counted admission leaves (or the retry time when refused)
    retry_after_s: int
    rule: Rule


# --- quotas: how much of N this replica may admit --------------------------------------------


class Quota(Protocol):
    def bind(self, rules: Iterable[Rule]) -> None: ...
    def share(self, rule: Rule, now: float) -> int: ...
    def due(self, now: float) -> bool: ...
    async def refresh(self, now: float, timeout_s: float) -> None: ...
    def retry_s(self, rule: Rule) -> float: ...


class LocalQuota:
    """One replica: the share of every rule is all of it."""

    def bind(self, rules: Iterable[Rule]) -> None:
        pass

    def share(self, rule: Rule, now: float) -> int:
        return rule.limit or 0

    def due(self, now: float) -> bool:
        return False

    async def refresh(self, now: float, timeout_s: float) -> None:
        pass

    def retry_s(self, rule: Rule) -> float:
        return rule.window_s


LeaseCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class LeasedQuota:
    """This replica's shares, leased from a :class:`QuotaCoordinator` through ``call``.

    ``call`` sends one lease request and returns the answer: ``coordinator.lease`` wrapped in a
    coroutine in-process, ``handle.lease.remote`` over Ray (:func:`shared_quota`). Renewals run
    one at a time; the middleware starts one when ``due`` and waits for it only when the lease
    has ended (the first request, or after an idle spell longer than the lease).

    Without a lease (none yet, or it ended and renewing fails) the share is 0 for ``grace_s``:
    refusing keeps the guarantee through a lost answer or a coordinator restart. After that the
    coordinator counts as down and the replica takes ``N // replicas`` (live replicas at its last
    lease, else ``expected_replicas``) so the gateway keeps serving; the union bound then holds
    only if no replica was added meanwhile.
    """

    def __init__(self, call: LeaseCall, replica: str | None = None, renew_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic, expected_replicas: int = 1,
                 grace_s: float = 10.0) -> None:
        if renew_s <= 0 or expected_replicas < 1 or grace_s < 0:
            raise BadRateLimit("renew_s must be over 0, expected_replicas at least 1 and grace_s at least 0")
        self.call = call
        self.replica = replica or uuid.uuid4().hex
        self.renew_s = renew_s
        self.clock = clock
        self.grace_s = grace_s
        self.replicas = expected_replicas  # live replicas at the last lease: the fallback split
        self.shares: dict[str, int] = {}
        self.expires_at = clock()  # the grace period of the first lease starts now
        self.epoch = ""
        self.applied = 0
        self._rules: dict[str, Rule] = {}
        self._hits: dict[str, int] = {}
        self._since = clock()
        self._next = -math.inf
        self._task: asyncio.Future[None] | None = None
        self.failures = 0

    def bind(self, rules: Iterable[Rule]) -> None:
        self._rules = {r.id: r for r in rules if r.limit is not None}

    def share(self, rule: Rule, now: float) -> int:
        """This replica's share of ``rule`` now; counts the request as demand for the next renewal."""
        hits = self._hits
        hits[rule.id] = hits.get(rule.id, 0) + 1
        if now < self.expires_at:
            return self.shares.get(rule.id, 0)
        if now < self.expires_at + self.grace_s:
            return 0  # between leases: what we held may have been granted to others
        return (rule.limit or 0) // self.replicas  # the coordinator is down: the even split

    def due(self, now: float) -> bool:
        """Time to renew, or no lease while a renewal is on its way (wait for it)."""
        if now >= self._next:
            return True
        return now >= self.expires_at and self._task is not None and not self._task.done()

    def retry_s(self, rule: Rule) -> float:
        return min(self.renew_s, rule.window_s)

    def request(self) -> dict[str, Any]:
        now = self.clock()
        elapsed = max(now - self._since, 1e-3)
        demand = {rid: n / elapsed for rid, n in self._hits.items() if rid in self._rules}
        self._hits, self._since = {}, now
        return {"replica": self.replica, "epoch": self.epoch, "applied": self.applied,
                "rules": {rid: [r.limit, r.window_s] for rid, r in self._rules.items()},
                "demand": demand, "holding": dict(self.shares) if now < self.expires_at else {},
                "remaining_s": max(self.expires_at - now, 0.0)}

    async def renew(self) -> None:
        """One lease round trip; applies the grant (raises what ``call`` raises)."""
        sent = self.clock()
        answer = await self.call(self.request())
        # Measured from before the request on this clock: ends no later than the coordinator's.
        self.expires_at = sent + float(answer["lease_s"])
        self.shares = {str(k): int(v) for k, v in answer["shares"].items()}
        self.epoch, self.applied = str(answer["epoch"]), int(answer["seq"])
        self.replicas = max(int(answer.get("replicas", 1)), 1)
        self._next = self.clock() + self.renew_s

    async def _renew_quietly(self) -> None:
        try:
            await self.renew()
            self.failures = 0
        except Exception as exc:  # the coordinator away must not fail requests: keep the lease we have
            self.failures += 1
            now = self.clock()
            self._next = now + self.renew_s
            if self.failures not in (1, 10) and self.failures % 100:
                return  # one line when it starts, then now and then
            log.warning("rate-limit lease renewal failed (%s: %s); %s", type(exc).__name__, exc,
                        "keeping the current lease" if now < self.expires_at
                        else "refusing until a lease comes" if now < self.expires_at + self.grace_s
                        else f"coordinator down: limiting to 1/{self.replicas} of each rule")

    async def refresh(self, now: float, timeout_s: float) -> None:
        """Start a renewal when due (one at a time); wait for it only while there is no lease."""
        task = self._task
        if (task is None or task.done()) and now >= self._next:
            self._next = now + self.renew_s  # no second renewal while this one runs
            task = self._task = asyncio.ensure_future(self._renew_quietly())
        if task is not None and not task.done() and now >= self.expires_at:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
            except TimeoutError:
                log.warning("rate-limit lease renewal slower than %.1f s", timeout_s)


# --- the coordinator ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Grant:
    seq: int
    shares: dict[str, int]
    expires: float
    ended: float = math.inf  # when it was known to be superseded

    def end(self) -> float:
        return min(self.ended, self.expires)


@dataclass(slots=True)
class _Replica:
    grants: list[_Grant] = field(default_factory=list)
    demand: dict[str, float] = field(default_factory=dict)


class QuotaCoordinator:
    """Grants each replica a share of every rule, so that the shares that may still have
    admissions inside some window sum to at most the rule's limit (module docstring).

    Ray-free; :class:`RateLimitCoordinator` is the actor. Calls must not interleave (an actor
    runs them one at a time).
    """

    def __init__(self, lease_s: float = 10.0, reserve: float = 0.2, clock: Callable[[], float] = time.monotonic,
                 max_replicas: int = 1024, max_rules: int = 4096) -> None:
        if lease_s <= 0 or not 0 <= reserve <= 1:
            raise BadRateLimit("lease_s must be over 0 and reserve between 0 and 1")
        self.lease_s = lease_s
        self.reserve = reserve
        self.clock = clock
        self.max_replicas = max_replicas
        self.max_rules = max_rules
        self.epoch = uuid.uuid4().hex
        self._seq = 0
        self._replicas: dict[str, _Replica] = {}
        self._rules: dict[str, tuple[int, float]] = {}

    def _held(self, rep: _Replica, rule_id: str, window_s: float, now: float) -> int:
        return max((g.shares.get(rule_id, 0) for g in rep.grants if g.end() + window_s > now), default=0)

    def _prune(self, now: float) -> None:
        longest = max((w for _, w in self._rules.values()), default=0.0)
        for rid in list(self._replicas):
            rep = self._replicas[rid]
            rep.grants = [g for g in rep.grants if g.end() + longest > now]
            if not rep.grants:
                del self._replicas[rid]

    def _targets(self, live: list[str], limit: int, rule_id: str) -> dict[str, int]:
        """Largest-remainder split of ``limit``: ``reserve`` evenly, the rest by recent demand."""
        demand = {r: max(float(self._replicas[r].demand.get(rule_id, 0.0)), 0.0) for r in live}
        total = sum(demand.values())
        even = 1.0 / len(live)
        ideal = {r: limit * ((1 - self.reserve) * (demand[r] / total if total > 0 else even) + self.reserve * even)
                 for r in live}
        out = {r: int(v) for r, v in ideal.items()}
        spare = limit - sum(out.values())
        for r in sorted(live, key=lambda r: (out[r] - ideal[r], r))[:max(spare, 0)]:
            out[r] += 1
        return out

    def lease(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Renew one replica's lease: ``{"replica", "epoch", "applied", "rules": {id: [N, W]},
        "demand": {id: per second}, "holding": {id: share}, "remaining_s"}`` ->
        ``{"epoch", "seq", "shares": {id: n}, "lease_s", "replicas"}``."""
        now = self.clock()
        try:
            rid = str(request["replica"])
            rules = {str(k): (int(v[0]), float(v[1])) for k, v in dict(request["rules"]).items()}
            applied = int(request.get("applied", 0))
            demand = {str(k): float(v) for k, v in dict(request.get("demand") or {}).items()}
            holding = {str(k): int(v) for k, v in dict(request.get("holding") or {}).items()}
            remaining = min(float(request.get("remaining_s", 0.0)), self.lease_s)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BadRateLimit(f"malformed lease request: {type(exc).__name__}: {exc}") from None
        if any(n < 0 or w <= 0 for n, w in rules.values()):
            raise BadRateLimit("malformed lease request: a rule's limit is negative or its window not over 0")
        if len(self._rules) + len(rules) > self.max_rules:
            self._prune(now)
            keep = {k for rep in self._replicas.values() for g in rep.grants for k in g.shares}
            self._rules = {k: v for k, v in self._rules.items() if k in keep}
        self._rules.update(rules)
        self._prune(now)
        rep = self._replicas.get(rid)
        if rep is None:
            if len(self._replicas) >= self.max_replicas:
                raise BadRateLimit(f"more than {self.max_replicas} replicas hold rate-limit leases")
            rep = self._replicas[rid] = _Replica()
        if request.get("epoch") != self.epoch:
            # Granted by an earlier coordinator (this one restarted): take the replica's word for
            # what it holds until its lease ends, so it is counted against everyone else.
            if holding and remaining > 0:
                rep.grants.append(_Grant(0, holding, now + remaining))
        else:
            for g in rep.grants:
                if g.seq < applied and g.ended > now:
                    g.ended = now  # the replica applied a later grant before it sent this request
        rep.demand = demand
        live = sorted(r for r, x in self._replicas.items() if x is rep or any(g.expires > now for g in x.grants))
        shares = {}
        for rule_id, (limit, window_s) in rules.items():
            target = self._targets(live, limit, rule_id)[rid]
            others = sum(self._held(x, rule_id, window_s, now) for r, x in self._replicas.items() if x is not rep)
            shares[rule_id] = max(0, min(target, limit - others))
        self._seq += 1
        grant = _Grant(self._seq, shares, now + self.lease_s)
        # An older grant no larger anywhere ends no later than this one: it no longer changes
        # what the replica holds, so forget it (keeps the list short under steady shares).
        kept = [g for g in rep.grants if any(v > shares.get(k, 0) for k, v in g.shares.items())]
        while len(kept) >= MAX_GRANTS:  # many shrinking steps within a long window: merge, upward
            a, b = kept.pop(0), kept.pop(0)
            merged = {k: max(a.shares.get(k, 0), b.shares.get(k, 0)) for k in a.shares.keys() | b.shares.keys()}
            kept.insert(0, _Grant(max(a.seq, b.seq), merged, max(a.expires, b.expires), max(a.ended, b.ended)))
        rep.grants = [*kept, grant]
        return {"epoch": self.epoch, "seq": self._seq, "shares": shares, "lease_s": self.lease_s,
                "replicas": len(live)}

    def snapshot(self) -> dict[str, Any]:
        """What each replica holds now (for ``aria`` tooling and tests)."""
        now = self.clock()
        return {rid: {k: self._held(rep, k, w, now) for k, (_, w) in self._rules.items()}
                for rid, rep in self._replicas.items()}


class RateLimitCoordinator(QuotaCoordinator):
    """The Ray actor: one per namespace, named ``aria_ratelimit`` (see :func:`coordinator_actor`)."""

    def ping(self) -> str:
        return "pong"


def coordinator_actor(namespace: str = COORDINATOR_NAMESPACE, name: str = COORDINATOR_NAME,
                      lease_s: float = 10.0, reserve: float = 0.2) -> Any:
    """The coordinator actor of ``namespace``, created if it does not exist yet (Ray imported here)."""
    import ray  # ray: the rest of this module is Ray-free

    return ray.remote(RateLimitCoordinator).options(
        name=name, namespace=namespace, get_if_exists=True, lifetime="detached", num_cpus=0,
        max_restarts=-1, max_concurrency=1,
    ).remote(lease_s=lease_s, reserve=reserve)


def shared_quota(namespace: str = COORDINATOR_NAMESPACE, lease_s: float = 10.0, renew_s: float = 3.0,
                 reserve: float = 0.2, expected_replicas: int = 1, grace_s: float | None = None) -> LeasedQuota:
    """A :class:`LeasedQuota` of this replica, leasing from the namespace's coordinator actor."""
    handle = coordinator_actor(namespace, lease_s=lease_s, reserve=reserve)

    async def call(request: dict[str, Any]) -> dict[str, Any]:
        return await handle.lease.remote(request)

    return LeasedQuota(call, renew_s=renew_s, expected_replicas=expected_replicas,
                       grace_s=lease_s if grace_s is None else grace_s)


def quota_from_settings(settings: Any, namespace: str = COORDINATOR_NAMESPACE, expected_replicas: int = 1) -> Quota:
    """:class:`LocalQuota`, or with ``ratelimit_shared`` a lease from the namespace's coordinator."""
    get = {name: getattr(settings, name, default) for name, default in SETTINGS.items()}
    if not get["ratelimit_shared"]:
        return LocalQuota()
    return shared_quota(namespace, lease_s=float(get["ratelimit_lease_s"]), renew_s=float(get["ratelimit_renew_s"]),
                        reserve=float(get["ratelimit_reserve"]), expected_replicas=expected_replicas)


# --- the limiter -------------------------------------------------------------------------------


class RateLimiter:
    """Sliding windows per (subject, method, route template), limited by the rules and the quota."""

    def __init__(self, rules: RateLimitRules | None = None, quota: Quota | None = None, *,
                 max_keys: int = 20000, max_runs: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1 or max_runs < 2:
            raise BadRateLimit("max_keys must be at least 1 and max_runs at least 2")
        self.rules = rules or RateLimitRules()
        self.quota: Quota = quota or LocalQuota()
        self.quota.bind(self.rules.all())
        self.max_keys = max_keys
        self.max_runs = max_runs
        self.clock = clock
        self._windows: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()
        self._strict: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()
        self.admitted = 0
        self.denied = 0
        self.evictions = 0
        self.unsafe_evictions = 0

    @classmethod
    def from_settings(cls, settings: Any, quota: Quota | None = None) -> RateLimiter:
        """From the ``ratelimit_*`` fields of ``settings`` (each optional; see :data:`SETTINGS`).
        ``ratelimit_routes`` and ``ratelimit_roles`` add to (or override) the built-in login/token
        rules and the admin exemption, so adding one route never drops the login limit."""
        get = {name: getattr(settings, name, default) for name, default in SETTINGS.items()}
        rules = RateLimitRules(get["ratelimit_default"], {**DEFAULT_ROUTES, **dict(get["ratelimit_routes"])},
                               {**DEFAULT_ROLES, **dict(get["ratelimit_roles"])})
        return cls(rules, quota, max_keys=int(get["ratelimit_max_keys"]), max_runs=int(get["ratelimit_max_runs"]))

    def usage(self) -> list[tuple[tuple[str, str, str], _Window]]:
        """Every ``(subject, method, template)`` window of this replica, read-only (aria_interface's
        ``GET /v1/interface/limits`` shows a caller its own)."""
        return [*self._windows.items(), *self._strict.items()]

    def hit(self, subject: str, roles: tuple[str, ...], method: str, template: str,
            now: float | None = None) -> Decision | None:
        """Decide one request (and count it if admitted); None when the route or roles are unlimited."""
        rule = self.rules.rule_for(method, template)
        if rule.limit is None:
            return None
        mult = self.rules.multiplier(roles)
        if mult is None:
            return None
        if now is None:
            now = self.clock()
        share = self.quota.share(rule, now)
        if mult == 1.0:
            limit, full = share, rule.limit
        else:
            limit, full = int(share * mult), int(rule.limit * mult)
        # A method no route takes (PROPFIND, made-up tokens) must not make a fresh window per method.
        key = (subject, method if method in STANDARD_METHODS else "OTHER", template)
        strict = rule is not self.rules.default
        # Routes with their own (credential) rules keep their windows apart: a flood of keys on other
        # routes never evicts them, and when their own table is full of live windows, new keys are
        # refused (fail closed) rather than an attacker's live window being forgotten.
        windows = self._strict if strict else self._windows
        window = windows.get(key)
        if window is None:
            quantum = 0.0 if full <= self.max_runs else rule.window_s / self.max_runs
            if len(windows) >= self.max_keys and not self._make_room(windows, now, strict):
                self.denied += 1
                return Decision(False, full, 0, 1, 1, rule)
            window = windows[key] = _Window(rule.window_s, quantum)
        else:
            windows.move_to_end(key)
            if window.quantum == 0.0 and full > self.max_runs:  # the key's roles changed: bucket it now
                window.quantum = rule.window_s / self.max_runs
        window.expire(now)
        if window.total < limit:
            window.add(now, self.max_runs)
            self.admitted += 1
            reset = window.anchors[0] + rule.window_s - now
            return Decision(True, full, limit - window.total, math.ceil(reset), 0, rule)
        self.denied += 1
        wait = window.wait_s(now, limit) if limit > 0 else self.quota.retry_s(rule)
        retry = max(math.ceil(wait), 1)
        return Decision(False, full, 0, retry, retry, rule)

    def _make_room(self, windows: OrderedDict[Any, _Window], now: float, strict: bool) -> bool:
        """Drop the least recently used window; a strict table drops only one with nothing left
        in its window (looking at the 64 oldest), else there is no room."""
        if not strict:
            _, old = windows.popitem(last=False)
            self.evictions += 1
            old.expire(now)
            self.unsafe_evictions += old.total > 0
            return True
        for key in list(itertools.islice(windows, 64)):
            old = windows[key]
            old.expire(now)
            if old.total == 0:
                del windows[key]
                self.evictions += 1
                return True
        return False

    def stats(self) -> dict[str, int]:
        return {"keys": len(self._windows) + len(self._strict), "admitted": self.admitted, "denied": self.denied,
                "evictions": self.evictions, "unsafe_evictions": self.unsafe_evictions,
                "runs": sum(len(w.anchors) for w in self._windows.values())}


# Settings the gateway reads (coordinate section), with their defaults.
SETTINGS: dict[str, Any] = {
    "ratelimit_enabled": True,           # the gateway adds the middleware at all
    "ratelimit_default": DEFAULT_RULE,   # every route without its own rule, per principal
    "ratelimit_routes": {},              # "[METHOD ]/template" or "/prefix*" -> "N/Ws" | "unlimited"
    "ratelimit_roles": {},               # role -> multiplier | "unlimited" (admin: unlimited built in)
    "ratelimit_max_keys": 20000,         # (principal, route) windows kept, LRU
    "ratelimit_max_runs": 64,            # exact up to this limit; W/this buckets above
    "ratelimit_token_cache": 10000,      # verified token digests remembered
    "ratelimit_shared": False,           # lease shares from the "aria_ratelimit" actor (replicas > 1)
    "ratelimit_lease_s": 10.0,           # lease time
    "ratelimit_renew_s": 3.0,            # renewal period (< lease_s)
    "ratelimit_reserve": 0.2,            # share split evenly among live replicas, the rest by demand
}


# --- routes ------------------------------------------------------------------------------------


def _route_contexts(app: Any) -> list[Any]:
    try:  # compat: FastAPI before 0.16x copies included routes into app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(getattr(app, "routes", ()))
    return list(iter_route_contexts(getattr(app, "routes", ())))


def _static_head(template: str) -> tuple[str, ...]:
    parts = template.split("/")[1:3]
    head = []
    for p in parts:
        if "{" in p:
            break
        head.append(p)
    return tuple(head)


class RouteMatcher:
    """The route template of a request, matched in the app's order before the app routes it.

    Candidates are indexed by the path's first two segments, so a request tries the routes of
    its own service (plus the few with a parameter that early), not all of them.
    """

    def __init__(self, app: Any) -> None:
        from starlette.routing import WebSocketRoute  # starlette: the limiter core imports without it

        entries: list[tuple[int, Any, str, frozenset[str] | None, Any]] = []
        for ctx in _route_contexts(app):
            original = getattr(ctx, "original_route", ctx)
            regex, template = getattr(ctx, "path_regex", None), getattr(ctx, "path", None)
            if isinstance(original, WebSocketRoute) or regex is None or template is None:
                continue
            methods = getattr(ctx, "methods", None)
            entries.append((len(entries), regex, template, frozenset(methods) if methods else None, original))
        self.count = len(getattr(app, "routes", ()))
        by_head: dict[tuple[str, ...], list[Any]] = {}
        loose = []
        for entry in entries:
            head = _static_head(entry[2])
            if len(head) == 2:
                by_head.setdefault(head, []).append(entry)
            else:
                loose.append(entry)
        self._loose = [e[1:] for e in loose]
        self._by_head = {h: [e[1:] for e in sorted(es + loose, key=lambda e: e[0])] for h, es in by_head.items()}
        self._cache: dict[tuple[str, str], tuple[str, Any]] = {}

    def match(self, method: str, path: str) -> tuple[str, Any]:
        """``(template, route)``; ``(UNMATCHED, None)`` when no route matches."""
        found = self._cache.get((method, path))
        if found is not None:
            return found
        parts = path.split("/", 3)
        candidates = self._by_head.get(tuple(parts[1:3]), self._loose)
        found = (UNMATCHED, None)
        partial = None
        for regex, template, methods, route in candidates:
            if regex.match(path) is not None:
                if methods is None or method in methods:
                    found = (template, route)
                    break
                if partial is None:
                    partial = (template, route)
        else:
            if partial is not None:
                found = partial
        # Attacker-chosen paths: only matched, short ones are cached (count and size bounded).
        if found[1] is not None and len(path) <= 256:
            if len(self._cache) >= 8192:
                self._cache.clear()
            self._cache[(method, path)] = found
        return found


def client_key(scope: Mapping[str, Any]) -> str:
    """The client's address as a rate-limit key: an IPv6 address by its /64 (one host holds a
    whole /64), an IPv4 address as it is."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    if ":" in host:
        try:
            return str(ipaddress.ip_network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return host


def route_path(scope: Mapping[str, Any]) -> str:
    """The path the router matches (``root_path`` stripped), as Starlette's ``get_route_path``."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path


# --- the middleware ------------------------------------------------------------------------------


def bearer_verify(bearer: Any) -> Callable[[str], Mapping[str, Any] | None]:
    """The ``verify`` hook of :class:`RateLimitMiddleware` for a
    :class:`~aria_actors.security.middleware.BearerAuth`: checks a token with the keys it has
    already fetched (never fetches; None until it has some)."""

    def verify(token: str) -> Mapping[str, Any] | None:
        verifier = getattr(bearer, "_verifier", None)  # BearerAuth's cached JwtVerifier
        usable = getattr(bearer, "_usable", None)  # keys BearerAuth itself would still trust
        if verifier is None or (usable is not None and not usable(time.monotonic())):
            return None
        return verifier.verify(token)

    return verify


class RateLimitMiddleware:
    """Pure ASGI: refuses over-limit requests with 429 before routing, authentication and body
    parsing; adds the RateLimit headers to every response of a limited route.

    ``app.add_middleware(RateLimitMiddleware, limiter=limiter)`` before ``ObserveRequests`` so
    that the metrics middleware (outside it) counts the 429s under their route.
    """

    def __init__(self, app: Any, limiter: RateLimiter, *, token_cache: int = 10000,
                 verify: Callable[[str], Mapping[str, Any] | None] | None = None,
                 renew_timeout_s: float = 2.0, routes: Any = None) -> None:
        self.app = app
        self.limiter = limiter
        self.verify = verify
        self.token_cache = max(int(token_cache), 0)
        self.renew_timeout_s = renew_timeout_s
        self._routes_app = routes  # the app whose routes to match; default scope["app"]
        self._matcher: RouteMatcher | None = None
        self._matched_app: Any = None
        # token digest -> (subject key, roles, exp): tokens BearerAuth verified on earlier requests
        self._tokens: OrderedDict[bytes, tuple[str, tuple[str, ...], float]] = OrderedDict()
        # its lookups, for aria_tune's cache proposals (runtime/caches.py); the gateway has no
        # permission cache (a route's permission is checked per request from the token's claims)
        self.token_stats = caches.register(
            "token", "aria_coordinate", unit="tokens", setting="coordinate.ratelimit_token_cache",
            rate=1.0,  # one lookup per request: recording each is nothing beside the request
            description="verified bearer tokens the rate limiter knows the caller of without verifying again",
            size=lambda: len(self._tokens), capacity=lambda: self.token_cache, resize=self._resize_tokens)

    def _match(self, scope: dict[str, Any]) -> tuple[str, Any]:
        app = self._routes_app or scope.get("app")
        matcher = self._matcher
        if matcher is None or app is not self._matched_app or matcher.count != len(getattr(app, "routes", ())):
            matcher = self._matcher = RouteMatcher(app)
            self._matched_app = app
        return matcher.match(scope["method"], route_path(scope))

    def _caller(self, scope: dict[str, Any]) -> tuple[str, tuple[str, ...], bytes | None]:
        """``(subject key, roles, digest of a token to learn)``."""
        digest = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                token = token.strip()
                if scheme.lower() == b"bearer" and token:
                    digest = blake2b(token, digest_size=16).digest()
                    known = self._tokens.get(digest)
                    if known is not None and known[2] > time.time():
                        self._tokens.move_to_end(digest)
                        self.token_stats.hit(digest)
                        return known[0], known[1], None
                    self.token_stats.miss(digest)
                    if self.verify is not None:
                        known = self._remember(digest, self._verified(token))
                        if known is not None:
                            return known[0], known[1], None
                break
        kind = "addr" if digest is None else "tok"
        return f"{kind}:{client_key(scope)}", (ANONYMOUS_ROLE,), digest

    def _verified(self, token: bytes) -> Mapping[str, Any] | None:
        try:
            return self.verify(token.decode("latin-1")) if self.verify is not None else None
        except Exception:  # forged, expired, unknown key, no keys yet: all just "not verified"
            return None

    def _remember(self, digest: bytes, claims: Any) -> tuple[str, tuple[str, ...], float] | None:
        """The caller of verified ``claims`` (None: not usable), kept for the token's next requests."""
        if not isinstance(claims, Mapping) or not claims.get("sub"):
            return None
        try:
            exp = float(claims.get("exp", 0))
        except (TypeError, ValueError):
            return None
        if exp <= time.time():
            return None
        principal = Principal.from_claims(claims)
        known = (f"sub:{principal.subject}", principal.roles, exp)
        if self.token_cache:
            self._tokens[digest] = known
            while len(self._tokens) > self.token_cache:
                self._tokens.popitem(last=False)
                self.token_stats.evicted()
        return known

    def _resize_tokens(self, size: int) -> None:
        """Remember at most ``size`` tokens from now on (aria_tune's resize; until a restart)."""
        self.token_cache = size
        while len(self._tokens) > size:
            self._tokens.popitem(last=False)
            self.token_stats.evicted()

    def _learn(self, scope: dict[str, Any], digest: bytes) -> None:
        self._remember(digest, (scope.get("state") or {}).get("principal"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        now = limiter.clock()
        if limiter.quota.due(now):
            await limiter.quota.refresh(now, self.renew_timeout_s)
            now = limiter.clock()
        template, route = self._match(scope)
        if limiter.rules.is_credential(scope["method"], template):
            # Guessing credentials: limited by address whatever token comes along (a token must
            # not buy a fresh window or an admin's exemption on a login route).
            subject, roles, digest = f"addr:{client_key(scope)}", (ANONYMOUS_ROLE,), None
        else:
            subject, roles, digest = self._caller(scope)
        decision = limiter.hit(subject, roles, scope["method"], template, now)
        if digest is not None:
            scope.setdefault("state", {})
        if decision is None:
            await self.app(scope, receive, send)
        elif not decision.allowed:
            if route is not None:
                scope["route"] = route  # so the metrics middleware outside labels the 429 by route
            await self._refuse(scope, send, decision)
            return
        else:
            extra = [(b"ratelimit-limit", b"%d" % decision.limit),
                     (b"ratelimit-remaining", b"%d" % decision.remaining),
                     (b"ratelimit-reset", b"%d" % decision.reset_s),
                     (b"ratelimit-policy", decision.rule.policy)]

            async def send_with_headers(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *extra]
                await send(message)

            await self.app(scope, receive, send_with_headers)
        if digest is not None:
            self._learn(scope, digest)

    async def _refuse(self, scope: dict[str, Any], send: Any, decision: Decision) -> None:
        rule = decision.rule
        error = RateLimited(f"rate limit of {decision.limit} requests per {rule.window_s:g} s reached on this "
                            f"route; retry after {decision.retry_after_s} s", limit=decision.limit,
                            window_s=rule.window_s, retry_after_s=decision.retry_after_s)
        body = json.dumps(error.problem(instance=scope["path"])).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", b"%d" % len(body)),
                   (b"retry-after", b"%d" % decision.retry_after_s),
                   (b"ratelimit-limit", b"%d" % decision.limit), (b"ratelimit-remaining", b"0"),
                   (b"ratelimit-reset", b"%d" % decision.reset_s),
                   (b"ratelimit-policy", rule.policy)]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install_rate_limits(app: Any, settings: Any, quota: Quota | None = None,
                        verify: Callable[[str], Mapping[str, Any] | None] | None = None) -> RateLimiter | None:
    """Add :class:`RateLimitMiddleware` to ``app`` from the ``ratelimit_*`` settings (None when
    ``ratelimit_enabled`` is off). Call it before adding the metrics middleware, so that one sits
    outside and counts the 429s."""
    if not getattr(settings, "ratelimit_enabled", SETTINGS["ratelimit_enabled"]):
        return None
    limiter = RateLimiter.from_settings(settings, quota)
    cache = int(getattr(settings, "ratelimit_token_cache", SETTINGS["ratelimit_token_cache"]))
    app.add_middleware(RateLimitMiddleware, limiter=limiter, token_cache=cache, verify=verify)
    return limiter


__all__ = ["COORDINATOR_NAME", "DEFAULT_ROUTES", "SETTINGS", "BadRateLimit", "Decision", "LeasedQuota",
           "LocalQuota", "QuotaCoordinator", "RateLimitCoordinator", "RateLimitMiddleware", "RateLimitRules",
           "RateLimited", "RateLimiter", "RouteMatcher", "Rule", "bearer_verify", "coordinator_actor",
           "install_rate_limits", "parse_rule", "quota_from_settings", "shared_quota"]
