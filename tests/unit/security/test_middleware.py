"""The gateway's bearer check: malformed tokens are 401s, and a failing JWKS refresh falls back
to the keys already cached (only with none is a request a 503)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.security.api import router
from aria_actors.security.middleware import BearerAuth
from aria_actors.security.testing import InProcessSecurity
from aria_actors.security.tokens import b64url

OPS = Principal.operator()


class Flaky:
    """aria_security's transport behind a breaker that can be opened: ``jwks`` then fails."""

    def __init__(self, service: InProcessSecurity) -> None:
        self.inner = LocalClient(service)
        self.name = self.inner.name
        self.error: BaseException | None = None
        self.jwks_calls = 0
        self.delay_s = 0.0

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "jwks":
            self.jwks_calls += 1
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.error is not None:
                raise self.error
        return await self.inner.call(method, *args, **kwargs)


def _setup(**options: Any) -> tuple[TestClient, BearerAuth, Flaky, InProcessSecurity]:
    fake = InProcessSecurity.started()
    flaky = Flaky(fake)
    auth = BearerAuth(**options)
    app = FastAPI(dependencies=[Depends(auth)])
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_security": flaky}
    return TestClient(app), auth, flaky, fake


def _bearer(fake: InProcessSecurity, roles=("viewer",)) -> dict[str, str]:
    token = asyncio.run(fake.issue_token(OPS, "vic", {"roles": list(roles), "tenant": "t1"}, 600))
    return {"Authorization": f"Bearer {token}"}


def _with_header(token: str, header: dict[str, Any]) -> str:
    """``token`` with its header replaced (the signature no longer matters: it fails first)."""
    _, body, sig = token.split(".")
    return f"{b64url(json.dumps(header).encode())}.{body}.{sig}"


def _status(http: TestClient, headers: dict[str, str]) -> int:
    """A verified caller gets past the bearer check: 200 or 403 from the service, never 401/503."""
    return http.get("/v1/security/list", headers=headers).status_code


# -- malformed tokens at the gateway and at POST /tokens/verify -------------------------------
@pytest.mark.parametrize("header", [
    {"alg": "EdDSA", "kid": [1]}, {"alg": "EdDSA", "kid": {"a": 1}}, {"alg": "EdDSA", "kid": 5},
    {"alg": ["EdDSA"], "kid": "aria-jwt:v1"}, {"alg": {"x": 1}, "kid": [1]}, [1, 2],
])
def test_a_malformed_header_is_a_401_at_the_gateway_and_at_verify(header) -> None:
    http, _, _, fake = _setup()
    token = _bearer(fake)["Authorization"].split(" ", 1)[1]
    bad = _with_header(token, header)
    r = http.get("/v1/security/list", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token"), r.text
    r = http.post("/v1/security/tokens/verify", json={"token": bad}, headers=_bearer(fake))
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token"), r.text


def test_verify_rpc_refuses_a_malformed_kid_with_invalid_token() -> None:
    from aria_actors.security.errors import InvalidToken

    fake = InProcessSecurity.started()
    token = asyncio.run(fake.issue_token(OPS, "vic", {"roles": ["viewer"]}, 60))
    head = b64url(json.dumps({"alg": "EdDSA", "kid": [1]}).encode())
    with pytest.raises(InvalidToken):
        asyncio.run(fake.verify_token(OPS, head + token[token.index("."):]))


# -- a failing JWKS refresh -------------------------------------------------------------------
@pytest.mark.parametrize("error", [ServiceUnavailable("circuit open for aria_security"),
                                   TimeoutError(), RuntimeError("actor died")])
def test_a_failed_refresh_keeps_the_cached_keys(error) -> None:
    http, _, flaky, fake = _setup(jwks_ttl_s=0.0, retry_s=0.0)
    good = _bearer(fake)
    assert _status(http, good) == 403  # verified (a viewer may not list secrets)
    flaky.error = error  # the breaker opens: every refresh fails from now on
    for _ in range(5):
        assert _status(http, good) == 403  # still verified with the cached keys, not a 503
    assert flaky.jwks_calls > 1  # it did try to refresh
    r = http.get("/v1/security/list", headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 401  # and still refuses bad tokens


def test_no_cached_keys_and_no_refresh_is_a_503() -> None:
    http, _, flaky, fake = _setup()
    flaky.error = ServiceUnavailable("circuit open")
    r = http.get("/v1/security/list", headers=_bearer(fake))
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text
    flaky.error = None  # aria_security is back: the next request fetches the keys
    assert _status(http, _bearer(fake)) == 403


def test_refresh_failures_are_retried_at_most_every_retry_s() -> None:
    http, _, flaky, fake = _setup(jwks_ttl_s=0.0, retry_s=3600.0)
    good = _bearer(fake)
    assert _status(http, good) == 403
    flaky.error = TimeoutError()
    calls = flaky.jwks_calls
    for _ in range(10):
        assert _status(http, good) == 403
    assert flaky.jwks_calls == calls + 1  # one failed attempt, then the cache until retry_s


def test_keys_older_than_max_stale_s_are_not_used_when_refresh_fails() -> None:
    http, auth, flaky, fake = _setup(jwks_ttl_s=0.0, retry_s=0.0, max_stale_s=60.0)
    good = _bearer(fake)
    assert _status(http, good) == 403
    flaky.error = ServiceUnavailable("circuit open")
    auth._fetched_at -= 120.0  # fetched two minutes ago: past max_stale_s
    assert http.get("/v1/security/list", headers=good).status_code == 503


def test_an_unknown_kid_while_refresh_fails_is_a_401_not_a_503() -> None:
    http, auth, flaky, fake = _setup()
    assert _status(http, _bearer(fake)) == 403
    asyncio.run(fake.rotate_jwt_key(OPS))
    rotated = _bearer(fake)  # signed by a key the gateway has not seen
    flaky.error = ServiceUnavailable("circuit open")
    auth._attempted_at -= 10.0  # past the once-a-second refetch limit
    r = http.get("/v1/security/list", headers=rotated)
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token")
    flaky.error = None
    auth._attempted_at -= 10.0
    assert _status(http, rotated) == 403  # back: the rotation is picked up


def test_a_refresh_that_recovers_replaces_the_cached_keys() -> None:
    http, auth, flaky, fake = _setup(jwks_ttl_s=0.0, retry_s=0.0)
    assert _status(http, _bearer(fake)) == 403
    flaky.error = RuntimeError("down")
    assert _status(http, _bearer(fake)) == 403
    flaky.error = None
    before = auth._verifier
    assert _status(http, _bearer(fake)) == 403
    assert auth._verifier is not before


def test_an_aged_jwks_is_refreshed_in_the_background_not_on_the_request() -> None:
    client, auth, flaky, fake = _setup(jwks_ttl_s=60.0)
    bearer = _bearer(fake)
    with client as http:  # one event loop for every request, as in a Serve replica
        _aged_refresh(http, auth, flaky, bearer)


def _aged_refresh(http: TestClient, auth: BearerAuth, flaky: Flaky, bearer: dict[str, str]) -> None:
    assert http.get("/v1/security/roles", headers=bearer).status_code in (200, 403)
    assert flaky.jwks_calls == 1
    auth._fetched_at -= 120  # the cached keys are past their TTL (fetched, and tried, long ago)
    auth._attempted_at -= 120
    flaky.error = ServiceUnavailable("slow or down")  # whatever the refresh meets, the request goes on
    flaky.delay_s = 3.0  # and however long it takes
    t0 = time.monotonic()
    r = http.get("/v1/security/roles", headers=bearer)
    assert r.status_code in (200, 403), r.text  # verified with the keys at hand, not a 503
    assert time.monotonic() - t0 < 2.0, "the request waited for the JWKS refresh"
    flaky.delay_s = 0.0
    time.sleep(3.2)  # let the slow background attempt finish
    flaky.error = None
    for _ in range(20):  # the background refresh was attempted; a later one succeeds
        if flaky.jwks_calls >= 2:
            break
        http.get("/v1/security/roles", headers=bearer)
    assert flaky.jwks_calls >= 2
