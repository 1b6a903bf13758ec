"""`aria security ...` against the router over the real service (TestClient as the gateway)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support as cli_support
from aria_actors.runtime.principal import Principal
from aria_actors.sdk import AriaClient
from aria_actors.security import cli
from tests.integration.security.test_api import make_app

OPS = Principal.operator()


@pytest.fixture
async def run(security, monkeypatch):
    app = make_app(security)
    monkeypatch.setattr(cli_support, "make_client", lambda token, timeout: AriaClient(
        "http://testserver", http=TestClient(app, headers={"Authorization": f"Bearer {token}"} if token else {})))
    admin = await security.issue_token(OPS, "cli-admin", {"roles": ["admin"]}, 300)
    runner = CliRunner()

    def _run(*args: str, token: str | None = admin):
        extra = ["--token", token] if token else []
        return runner.invoke(cli.app, [*args, *extra])

    return _run


async def test_put_get_ls_rm_rotate(run) -> None:
    r = run("put", "services/aria_interface/webrtc", "turn_user=u", "turn_pass=p=w")
    assert r.exit_code == 0, r.output
    assert "version" in r.output
    r = run("get", "services/aria_interface/webrtc", "--field", "turn_pass")
    assert r.exit_code == 0 and r.output.strip() == "p=w"
    assert "webrtc" in run("ls", "services/aria_interface").output
    assert run("rm", "services/aria_interface/webrtc").exit_code == 0
    r = run("get", "services/aria_interface/webrtc")
    assert r.exit_code == 1 and "not found" in r.output.lower()
    r = run("rotate", "jwt")
    assert r.exit_code == 0 and "jwt: now version" in r.output
    r = run("rotate", "no-such-key")
    assert r.exit_code == 1


async def test_errors_and_usage(run) -> None:
    assert run("put", "services/aria_interface/x", "novalue").exit_code == 2
    r = run("get", "services/aria_interface/x", token=None)
    assert r.exit_code == 1 and "invalid" in r.output.lower()


async def test_tokens_rbac_pki_audit_metrics_and_openbao(run, security) -> None:
    operator = await security.issue_token(OPS, "cli-operator", {"roles": ["operator"]}, 300)
    r = run("verify", operator)
    assert r.exit_code == 0 and json.loads(r.output)["sub"] == "cli-operator", r.output
    assert run("verify", "not-a-token").exit_code == 1
    r = run("jwks", token=None)
    assert r.exit_code == 0 and json.loads(r.output)["keys"][0]["alg"] == "EdDSA"
    r = run("roles")
    assert r.exit_code == 0 and "admin: *:*:*@any" in r.output
    r = run("authorize", "storage:asset:write", "--subject", "u9", "--role", "user", "--owner", "u9")
    assert r.exit_code == 0 and r.output.strip() == "allowed"
    r = run("authorize", "security:secret:read", "--subject", "u9", "--role", "user")
    assert r.exit_code == 1 and r.output.strip() == "denied"

    r = run("cert", "npc.aria.internal", "--alt-name", "www.aria.internal", "--ip", "127.0.0.1", "--ttl", "1h")
    assert r.exit_code == 0, r.output
    serial = json.loads(r.output)["serial_number"]
    assert run("ca").output.startswith("-----BEGIN CERTIFICATE-----")
    assert "revoked" in run("revoke", serial).output
    assert run("crl").output.startswith("-----BEGIN X509 CRL-----")

    r = run("audit", "--op", "issue_certificate", "--limit", "1", token=operator)
    assert r.exit_code == 0, r.output
    entry = json.loads(r.output)
    assert entry["target"] == "npc.aria.internal" and entry["actor"] == "cli-admin"
    assert "aria_security_operations_total" in run("metrics", token=operator).output

    assert run("seal", token=operator).output.strip() == "OpenBao sealed"
    try:
        assert run("ls", "services").exit_code == 1
    finally:
        assert run("unseal", token=operator).output.strip() == "OpenBao unsealed"
    r = run("service-token", "aria_storage")
    assert r.exit_code == 0 and json.loads(r.output)["token"], r.output
    assert run("service-token", "aria_storage", token=operator).exit_code == 1
