"""Endpoint protection through the gateway of a running `aria up` (the shared one): a session
ended in aria_auth is refused by every gateway replica within a second. The locked accounts,
per-account throttle and denial audit go through the gateway app in
tests/integration/auth/test_revocation.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.aria_up import RunningAria

PASSWORD = "e2e protection passphrase"
DEADLINE_S = 30.0  # how long the test waits at most; the acceptance is the measured time
PROBE = "/v1/auth/sessions"  # aria_auth answers it for a revoked session too: only the gateway refuses


@pytest.fixture(scope="module")
def http(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as client:
        yield client


def test_a_logged_out_session_is_refused_at_the_gateway_within_a_second(http: httpx.Client,
                                                                       shared_aria: RunningAria) -> None:
    admin = {"Authorization": f"Bearer {shared_aria.token()}"}
    name = f"e2e-protect-{uuid.uuid4().hex[:8]}"
    r = http.post("/v1/auth/users", headers=admin, json={"username": name, "password": PASSWORD, "roles": ["user"]})
    assert r.status_code == 201, r.text
    tokens = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()
    mine = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(5):  # every replica's poller running (and the token good) before the revocation
        assert http.get(PROBE, headers=mine).status_code == 200
    t0 = time.monotonic()
    assert http.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    while time.monotonic() - t0 < DEADLINE_S:
        r = http.get(PROBE, headers=mine)
        if r.status_code != 200:
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - t0
    assert r.status_code == 401 and r.json()["type"].endswith("/session-revoked"), r.text
    assert elapsed <= 1.0, f"refused {elapsed:.3f} s after the logout began"
    # and it stays refused, on whichever replica answers
    assert all(http.get(PROBE, headers=mine).status_code == 401 for _ in range(10))
    feed = http.get("/v1/auth/revocations", headers=admin).json()
    assert tokens["session_id"] in {s["sid"] for s in feed["sessions"]}
