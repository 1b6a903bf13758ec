"""aria_auth's passkeys through the gateway of a running `aria up` (the shared one): a software
authenticator registers, logs in without a password and answers the MFA step; every other case
goes through the gateway app in tests/integration/auth/test_passkeys.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.aria_up import RunningAria
from tests.unit.auth.test_passkeys_device import Authenticator

PASSWORD = "e2e passkeys passphrase"


@pytest.fixture(scope="module")
def gateway(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as client:
        yield client


def test_a_passkey_registers_logs_in_and_answers_the_mfa_step(gateway: httpx.Client,
                                                               shared_aria: RunningAria) -> None:
    admin = {"Authorization": f"Bearer {shared_aria.token()}"}
    name = f"e2e-passkey-{uuid.uuid4().hex[:8]}"
    r = gateway.post("/v1/auth/users", headers=admin, json={"username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    tokens = gateway.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()
    mine = {"Authorization": f"Bearer {tokens['access_token']}"}

    device = Authenticator()
    begun = gateway.post("/v1/auth/passkeys/register/options", headers=mine).json()
    r = gateway.post("/v1/auth/passkeys/register", headers=mine, json={
        "ceremony": begun["ceremony"], "credential": device.create_json(begun["options"]), "label": "e2e"})
    assert r.status_code == 201, r.text
    assert [k["label"] for k in gateway.get("/v1/auth/passkeys", headers=mine).json()] == ["e2e"]

    begun = gateway.post("/v1/auth/passkeys/login/options", json={"username": name}).json()
    r = gateway.post("/v1/auth/passkeys/login", json={"ceremony": begun["ceremony"],
                                                      "credential": device.get_json(begun["options"])})
    assert r.status_code == 200, r.text
    me = gateway.get("/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["username"] == name

    step = gateway.post("/v1/auth/login", json={"username": name, "password": PASSWORD}).json()
    assert step["mfa_required"] is True and step["methods"] == ["passkey"]
    r = gateway.post("/v1/auth/login/passkey", json={"challenge": step["challenge"],
                                                     "credential": device.get_json(step["passkey"])})
    assert r.status_code == 200, r.text
    r = gateway.post("/v1/auth/login/passkey", json={"challenge": step["challenge"],
                                                     "credential": device.get_json(step["passkey"])})
    assert r.status_code == 401 and r.json()["type"].endswith("/auth-invalid-challenge")
