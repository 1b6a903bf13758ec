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
  trace leaves the server). aria_security unreachable -> 503.
- The verified claims are left on ``request.state.principal``; ``runtime.http.caller_of`` makes
  the caller's :class:`~aria_actors.runtime.principal.Principal` of them.
- With ``lockout=Lockout(...)`` a client address that keeps sending invalid tokens is refused
  with 429 for a while (``aria_security_lockouts_total`` counts it). Off by default: behind a
  proxy every client shares one address, so the gateway must opt in knowingly.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.http import transport
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.security.audit import Lockout
from aria_actors.security.client import SecurityClient
from aria_actors.security.errors import InvalidToken, LockedOut
from aria_actors.security.tokens import JwtVerifier

SECURITY = "aria_security"
PUBLIC_PATHS = ("/health", "/v1/security/jwks")
GATEWAY = Principal.internal("aria_coordinate")  # fetching the public JWKS is the gateway's own work


class BearerAuth:
    """Dependency: verifies ``Authorization: Bearer <jwt>``; returns the claims (None if exempt)."""

    def __init__(self, exempt: tuple[str, ...] = PUBLIC_PATHS, jwks_ttl_s: float = 60.0,
                 issuer: str = "aria", leeway_s: int = 5, lockout: Lockout | None = None) -> None:
        self.exempt = frozenset(exempt)
        self.lockout = lockout
        self.jwks_ttl_s = jwks_ttl_s
        self.issuer = issuer
        self.leeway_s = leeway_s
        self._verifier: JwtVerifier | None = None
        self._fetched_at = 0.0

    async def _refresh(self, request: Request) -> JwtVerifier:
        client = bind(SecurityClient, transport(request, SECURITY))
        try:
            jwks = await client.jwks(GATEWAY)
        except InvalidToken:
            raise
        except Exception as exc:
            raise ServiceUnavailable(f"cannot fetch JWKS from {SECURITY}: {type(exc).__name__}",
                                     service=SECURITY) from None
        self._verifier = JwtVerifier(jwks, self.issuer, self.leeway_s)
        self._fetched_at = time.monotonic()
        return self._verifier

    async def verify(self, request: Request, token: str) -> dict[str, Any]:
        verifier = self._verifier
        if verifier is None or time.monotonic() - self._fetched_at > self.jwks_ttl_s:
            verifier = await self._refresh(request)
        try:
            return verifier.verify(token)
        except InvalidToken as exc:
            if "kid" not in exc.fields or time.monotonic() - self._fetched_at < 1.0:
                raise
        return (await self._refresh(request)).verify(token)

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
                from aria_actors.security import metrics

                metrics.LOCKOUTS.inc()
            raise
        request.state.principal = claims
        return claims

