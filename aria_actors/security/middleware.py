"""The FastAPI dependency that authenticates every request with an Aria JWT.

The gateway applies :class:`BearerAuth` to the whole app::

    auth = BearerAuth()                       # exempts /health and the public JWKS
    app = FastAPI(dependencies=[Depends(auth)])

Routers do not authorise: each route names the RPC method it fronts
(``permits(StorageClient.put)``) and the service decides, as the caller, inside.

Guarantees and caveats
----------------------
- Verification is local: the JWKS is fetched from aria_security once and cached for
  ``jwks_ttl_s``; a token whose ``kid`` is unknown triggers at most one refetch a second, so a
  key rotation is picked up at once and a flood of forged kids cannot hammer aria_security.
- Missing, malformed, forged or expired token -> 401 ``invalid-token`` problem+json (raised as an
  :class:`~aria_actors.runtime.errors.AriaError`, so the problem handler renders it; no stack
  trace leaves the server).
- aria_security unreachable (or its circuit breaker open) while a JWKS is cached: the cached keys
  go on verifying (a signing key stays valid for ``jwt_max_ttl_s`` after its successor, so a
  cached JWKS is sound well past its refresh time), a refresh is retried at most every
  ``retry_s``, and a token with an unknown ``kid`` is a 401. Only with no JWKS fetched yet, or
  one older than ``max_stale_s`` (default: the JWT maximum lifetime), is a request a 503.
  One refresh runs at a time; the requests meanwhile use the cached keys.
- The verified claims are left on ``request.state.principal``; ``runtime.http.caller_of`` makes
  the caller's :class:`~aria_actors.runtime.principal.Principal` of them.
- With ``lockout=Lockout(...)`` a client address that keeps sending invalid tokens is refused
  with 429 for a while (``aria_security_lockouts_total`` counts it). Off by default: behind a
  proxy every client shares one address, so the gateway must opt in knowingly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import Request

from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.http import transport
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.security import metrics
from aria_actors.security.audit import Lockout
from aria_actors.security.client import SecurityClient
from aria_actors.security.errors import InvalidToken, LockedOut
from aria_actors.security.tokens import JwtVerifier

SECURITY = "aria_security"
PUBLIC_PATHS = ("/health", "/v1/security/jwks")
GATEWAY = Principal.internal("aria_coordinate")  # fetching the public JWKS is the gateway's own work
log = logging.getLogger(__name__)


class BearerAuth:
    """Dependency: verifies ``Authorization: Bearer <jwt>``; returns the claims (None if exempt)."""

    def __init__(self, exempt: tuple[str, ...] = PUBLIC_PATHS, jwks_ttl_s: float = 60.0,
                 issuer: str = "aria", leeway_s: int = 5, lockout: Lockout | None = None,
                 retry_s: float = 5.0, max_stale_s: float = 3600.0) -> None:
        self.exempt = frozenset(exempt)
        self.lockout = lockout
        self.jwks_ttl_s = jwks_ttl_s
        self.issuer = issuer
        self.leeway_s = leeway_s
        self.retry_s = retry_s
        self.max_stale_s = max_stale_s
        self._verifier: JwtVerifier | None = None
        self._fetched_at = 0.0    # last successful fetch
        self._attempted_at = 0.0  # last fetch, successful or not
        self._refreshing = False
        self._background: asyncio.Future[None] | None = None  # held: a task needs a reference

    async def _refresh(self, request: Request) -> JwtVerifier:
        self._attempted_at = time.monotonic()
        self._refreshing = True
        try:
            client = bind(SecurityClient, transport(request, SECURITY))
            verifier = JwtVerifier(await client.jwks(GATEWAY), self.issuer, self.leeway_s)
        except Exception as exc:
            raise ServiceUnavailable(f"cannot fetch JWKS from {SECURITY}: {type(exc).__name__}",
                                     service=SECURITY) from None
        finally:
            self._refreshing = False
        self._verifier = verifier
        self._fetched_at = time.monotonic()
        return verifier

    def _usable(self, now: float) -> JwtVerifier | None:
        """The cached verifier, unless there is none or it is older than ``max_stale_s``."""
        if self._verifier is None or now - self._fetched_at > self.max_stale_s:
            return None
        return self._verifier

    async def _current(self, request: Request) -> JwtVerifier:
        """The verifier to use now: the cached one while fresh (or while a refresh fails)."""
        now = time.monotonic()
        cached = self._usable(now)
        failed_lately = self._attempted_at > self._fetched_at and now - self._attempted_at < self.retry_s
        if cached is not None and (now - self._fetched_at <= self.jwks_ttl_s or self._refreshing
                                   or failed_lately):
            return cached
        if cached is not None:
            # Expired by age only: refresh in the background and verify with the keys at hand, so
            # no request waits on the Ray round trip (it was a tail-latency spike once a minute).
            # A key rotation shows as an unknown kid, which refreshes inline (verify below).
            running = self._background
            if running is None or running.done() or running.get_loop() is not asyncio.get_running_loop():
                self._background = asyncio.ensure_future(self._refresh_quietly(request))
            return cached
        try:
            return await self._refresh(request)
        except ServiceUnavailable:
            if cached is None:
                raise  # nothing to verify with: 503
            log.warning("JWKS refresh from %s failed; verifying with the keys fetched %.0f s ago",
                        SECURITY, now - self._fetched_at)
            return cached

    async def _refresh_quietly(self, request: Request) -> None:
        try:
            await self._refresh(request)
        except ServiceUnavailable:
            log.warning("JWKS refresh from %s failed; verifying with the keys fetched %.0f s ago",
                        SECURITY, time.monotonic() - self._fetched_at)

    async def verify(self, request: Request, token: str) -> dict[str, Any]:
        verifier = await self._current(request)
        try:
            return verifier.verify(token)
        except InvalidToken as exc:
            # an unknown kid may be a rotation: refetch, at most once a second
            if "kid" not in exc.fields or time.monotonic() - self._attempted_at < 1.0:
                raise
            try:
                verifier = await self._refresh(request)
            except ServiceUnavailable:
                raise exc from None  # keys cannot be refreshed: the token is unknown to the ones we have
        return verifier.verify(token)

    async def __call__(self, request: Request) -> dict[str, Any] | None:
        if request.url.path in self.exempt:
            return None
        source = request.client.host if request.client else "unknown"
        if self.lockout is not None and self.lockout.locked(source):
            raise LockedOut("too many invalid tokens from this client; try again later", source=source)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidToken("missing bearer token: send 'Authorization: Bearer <token>'")
            claims = await self.verify(request, token.strip())
        except InvalidToken:
            if self.lockout is not None and self.lockout.denied(source):
                metrics.LOCKOUTS.inc()
            raise
        request.state.principal = claims
        return claims

