"""``aria auth grants ...``: what each command sends to the gateway and how it ends (the gateway is
replaced by a recorder; the routes themselves are tested in tests/integration/auth/test_grants_api.py)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from aria_actors.auth import cli, cli_grants


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str, dict[str, Any]]]:
    seen: list[tuple[str, str, dict[str, Any]]] = []
    answers = {"/v1/auth/decisions": {"allowed": False, "because": "no role or grant allows write on character:42",
                                      "via": []}}

    def fake(token: str | None, method: str, path: str, **kwargs: Any) -> Any:
        seen.append((method, path, kwargs))
        return answers.get(path, {"allowed": True, "because": "x", "via": []} if "decisions" in path else [])

    monkeypatch.setattr(cli_grants, "gateway_call", fake)
    return seen


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.app, ["grants", *args])


def test_grant_add_sends_the_relation_and_effect(calls) -> None:
    assert run("add", "character", "42", "user:abc", "viewer", "--deny").exit_code == 0
    assert calls == [("POST", "/v1/auth/resources/character/42/grants",
                      {"json": {"subject": "user:abc", "relation": "viewer", "effect": "deny"}})]


def test_may_exits_3_when_denied_and_0_when_allowed(calls) -> None:
    out = run("may", "write", "character", "42")
    assert out.exit_code == cli_grants.DENIED_EXIT and "no role or grant allows" in out.output
    out = run("may", "read", "character", "42", "--explain", "--subject", "u1")
    assert out.exit_code == 0
    assert calls[-1] == ("POST", "/v1/auth/decisions/explain",
                         {"json": {"action": "read", "kind": "character", "resource_id": "42", "subject": "u1"}})


def test_groups_and_pages(calls) -> None:
    assert run("groups", "join", "g1", "u1").exit_code == 0
    assert run("ls", "character", "42", "--limit", "5", "--after", "a").exit_code == 0
    assert calls == [("PUT", "/v1/auth/groups/g1/members/u1", {}),
                     ("GET", "/v1/auth/resources/character/42/grants", {"params": {"after": "a", "limit": 5}})]
