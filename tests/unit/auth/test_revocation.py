"""aria_auth's revocation feed, Ray-free: the cursor, the horizon, the declared surface, who may read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aria_actors.auth.config import AuthSettings
from aria_actors.auth.revocation import HORIZON_MARGIN_S, InvalidCursor, Revocations, parse_cursor
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc_spec


def test_cursors_parse_and_anything_else_is_a_400() -> None:
    assert parse_cursor(None) == (None, None, None, None)
    assert parse_cursor("") == (None, None, None, None)
    assert parse_cursor("1234") == ("1234", None, None, None)
    assert parse_cursor("12>15:13:99") == ("12", "15", "13", 99)
    assert parse_cursor(">15:13:99") == (None, "15", "13", 99)  # paging a first poll
    for bad in ("x", "-1", "1>2", "1>2:3", "1;drop", "1" * 200, " 1"):
        with pytest.raises(InvalidCursor) as refused:
            parse_cursor(bad)
        assert refused.value.status == 400


def test_the_horizon_covers_the_longest_token_and_lockout() -> None:
    feed = Revocations()
    feed.config = AuthSettings(access_ttl_s=900, lockout_max_s=3600)  # type: ignore[attr-defined]
    assert feed.revocation_horizon_s() == 3600 + HORIZON_MARGIN_S
    feed.config = AuthSettings(access_ttl_s=7200, lockout_max_s=600)  # type: ignore[attr-defined]
    assert feed.revocation_horizon_s() == 7200 + HORIZON_MARGIN_S


def test_the_feed_is_declared_for_endpoint_protection() -> None:
    spec = rpc_spec(Revocations.revocations)
    assert spec is not None and spec.permission == "auth:session:read" and spec.scope == "any"
    assert spec.features == ("endpoint-protection",) and not spec.public


@pytest.mark.parametrize("roles", [("user",), ("viewer",), ("service",), ("editor",)])
async def test_only_callers_across_tenants_read_the_feed(roles: tuple[str, ...]) -> None:
    feed = Revocations()
    feed.config = SimpleNamespace(revocation_page=10)  # type: ignore[attr-defined]
    caller = Principal(subject="someone", roles=roles, tenant="acme")
    with pytest.raises(Forbidden):
        await feed.revocations(caller)
