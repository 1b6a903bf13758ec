"""aria_auth's MFA through the gateway of a running `aria up` (the shared one). Its sessions,
roles and machine clients go through the gateway app in tests/integration/auth/test_api.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from aria_actors.auth import totp
from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria

PASSWORD = "e2e features passphrase"


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=60) as client:
        yield client


def test_with_mfa_on_a_login_needs_a_current_code(aria: AriaClient, shared_aria: RunningAria) -> None:
    name = f"e2e-mfa-{uuid.uuid4().hex[:8]}"
    user = aria.auth.create_user(name, PASSWORD, roles=["user"])
    with AriaClient(shared_aria.url) as anonymous:
        tokens = anonymous.auth.login(name, PASSWORD)
        with AriaClient(shared_aria.url, token=tokens["access_token"]) as me:
            secret = me.auth.mfa_enroll()["secret"]
            codes = me.auth.mfa_confirm(totp.code_at(secret, time.time()))["recovery_codes"]
        assert codes and aria.auth.get_user(user["id"])["mfa"]["enabled"] is True
        step = anonymous.auth.login(name, PASSWORD)
        assert step["mfa_required"] is True and "access_token" not in step
        with pytest.raises(AriaError) as wrong:
            anonymous.auth.login_mfa(step["challenge"], "000000")
        assert wrong.value.http_status in (400, 401), wrong.value
        # confirm spent this step's code: the next step's is accepted (one step of clock skew)
        second = anonymous.auth.login_mfa(step["challenge"], totp.code_at(secret, time.time() + 30))
        assert "mfa" in aria.security.verify_token(second["access_token"])["claims"]["amr"]
        with AriaClient(shared_aria.url, token=second["access_token"]) as me:
            assert me.auth.me()["username"] == name
        recovered = anonymous.auth.login_mfa(anonymous.auth.login(name, PASSWORD)["challenge"], codes[0])
        assert recovered["access_token"]
        aria.auth.mfa_disable(user["id"])  # an administrator turns it off
        assert anonymous.auth.login(name, PASSWORD)["access_token"]
    assert aria.auth.get_user(user["id"])["mfa"]["enabled"] is False
