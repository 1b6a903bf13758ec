"""`aria security ...` against the router over the real service (TestClient as the gateway)."""

from __future__ import annotations

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
