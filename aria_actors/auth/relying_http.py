"""Talking to outside OpenID providers: discovery, JWKS and the token endpoint, over httpx.

Guarantees and caveats
----------------------
- Only URLs from settings and from the configured issuer's own discovery document are fetched;
  the discovery document must name the configured issuer exactly, and every endpoint it names
  must be https (http only when the issuer itself is on a loopback host).
- Redirects are not followed; every answer is read up to ``max_bytes`` (a larger one is
  refused), with a timeout on each call.
- Discovery documents and JWKS are cached per provider for ``ttl_s``. A JWKS is fetched again
  early when a token names a key it lacks (key rotation), at most once every ``min_refresh_s``
  per provider, so a flood of forged tokens cannot make Aria hammer the provider.
- Failures are :class:`~aria_actors.auth.relying_errors.SsoProviderError` (502) with a ``reason``;
  no response body of the provider is echoed back.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from aria_actors.auth.relying_errors import SsoProviderError
from aria_actors.auth.relying_settings import SsoProvider, check_url, is_loopback

ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass
class _Cached:
    value: dict[str, Any]
    fetched_at: float


@dataclass
class ProviderHttp:
    """Fetches and caches what the relying party needs of each provider."""

    timeout_s: float = 5.0
    max_bytes: int = 1 << 20
    ttl_s: float = 3600.0
    min_refresh_s: float = 5.0
    _client: httpx.AsyncClient | None = None
    _discovery: dict[str, _Cached] = field(default_factory=dict)
    _jwks: dict[str, _Cached] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False, trust_env=False,
                                             headers={"accept": "application/json", "user-agent": "aria-auth"})
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def forget(self) -> None:
        self._discovery.clear()
        self._jwks.clear()

    async def _send(self, provider: SsoProvider, what: str, request: httpx.Request) -> dict[str, Any]:
        """The JSON object the provider answered ``request`` with (2xx only, at most ``max_bytes``)."""
        try:
            response = await self.client().send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise SsoProviderError(f"{provider.name}: its {what} answer is larger than "
                                               f"{self.max_bytes} bytes", provider=provider.name, reason="too-large")
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise SsoProviderError(f"{provider.name}: its {what} did not answer within {self.timeout_s}s",
                                   provider=provider.name, reason="timeout") from None
        except httpx.HTTPError as exc:
            raise SsoProviderError(f"{provider.name}: its {what} cannot be reached ({type(exc).__name__})",
                                   provider=provider.name, reason="unreachable") from None
        try:
            doc = json.loads(bytes(body))
        except ValueError:
            doc = None
        if not 200 <= response.status_code < 300 or not isinstance(doc, dict):
            # an OAuth error answer names its error code (RFC 6749 5.2): safe to pass on, bounded
            error = doc.get("error") if isinstance(doc, dict) else None
            raise SsoProviderError(
                f"{provider.name}: its {what} answered {response.status_code} without a usable JSON object",
                provider=provider.name, reason="bad-answer", status=response.status_code,
                **({"error": error[:64]} if isinstance(error, str) else {}))
        return doc

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def discovery(self, provider: SsoProvider) -> dict[str, Any]:
        """The provider's discovery document (cached), once it names this issuer and usable endpoints."""
        cached = self._discovery.get(provider.name)
        if cached is not None and time.monotonic() - cached.fetched_at < self.ttl_s:
            return cached.value
        async with self._lock("discovery:" + provider.name):
            cached = self._discovery.get(provider.name)
            if cached is not None and time.monotonic() - cached.fetched_at < self.ttl_s:
                return cached.value
            doc = await self._send(provider, "discovery document",
                                   self.client().build_request("GET", provider.discovery_url))
            check_discovery(provider, doc)
            self._discovery[provider.name] = _Cached(doc, time.monotonic())
            return doc

    async def jwks(self, provider: SsoProvider, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's JWKS (cached); ``refresh``: fetch again unless fetched very recently."""
        cached = self._jwks.get(provider.name)
        if cached is not None:
            age = time.monotonic() - cached.fetched_at
            if (not refresh and age < self.ttl_s) or (refresh and age < self.min_refresh_s):
                return cached.value
        async with self._lock("jwks:" + provider.name):
            latest = self._jwks.get(provider.name)
            if latest is not None and latest is not cached:  # another caller fetched it meanwhile
                return latest.value
            url = (await self.discovery(provider))["jwks_uri"]
            doc = await self._send(provider, "JWKS", self.client().build_request("GET", url))
            if not isinstance(doc.get("keys"), list):
                raise SsoProviderError(f"{provider.name}: its JWKS has no keys list", provider=provider.name,
                                       reason="bad-jwks")
            self._jwks[provider.name] = _Cached(doc, time.monotonic())
            return doc

    async def exchange_code(self, provider: SsoProvider, *, code: str, redirect_uri: str, verifier: str,
                            client_secret: str | None) -> dict[str, Any]:
        """The token endpoint's answer to an authorization code (RFC 6749 4.1.3, PKCE RFC 7636 4.5)."""
        url = (await self.discovery(provider))["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": provider.client_id}
        auth: httpx.BasicAuth | None = None
        if client_secret:
            if provider.token_auth == "client_secret_post":
                form["client_secret"] = client_secret
            else:
                # RFC 6749 2.3.1: id and secret are form-urlencoded before going into Basic
                auth = httpx.BasicAuth(quote(provider.client_id), quote(client_secret))
        request = self.client().build_request("POST", url, data=form)
        if auth is not None:
            request = next(auth.auth_flow(request))
        return await self._send(provider, "token endpoint", request)


def check_discovery(provider: SsoProvider, doc: dict[str, Any]) -> None:
    """Refuse a discovery document that names another issuer or unusable endpoints."""
    if doc.get("issuer") != provider.issuer:
        raise SsoProviderError(
            f"{provider.name}: its discovery document names the issuer {str(doc.get('issuer'))[:200]!r}, "
            f"not the configured {provider.issuer!r}", provider=provider.name, reason="issuer-mismatch")
    loopback = is_loopback(urlsplit(provider.issuer).hostname or "")
    for key in ENDPOINTS:
        url = doc.get(key)
        try:
            if not isinstance(url, str) or len(url) > 2048:
                raise ValueError(f"{key} is missing")
            check_url(url, key)
            if urlsplit(url).scheme == "http" and not loopback:
                raise ValueError(f"{key} must use https")
        except ValueError as exc:
            raise SsoProviderError(f"{provider.name}: its discovery document is unusable: {exc}",
                                   provider=provider.name, reason="bad-discovery") from None
    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise SsoProviderError(f"{provider.name}: it does not support PKCE S256", provider=provider.name,
                               reason="bad-discovery")
