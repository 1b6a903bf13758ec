"""Database credentials from OpenBao's database engine on the session's real PostgreSQL."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.security.database import connection_template
from aria_actors.security.errors import SecretAccessDenied

OPS = Principal.operator()  # direct calls skip the RPC gate; the caller is still recorded


@pytest.fixture
async def db(security, postgres_dsn):
    name = f"pg_{uuid.uuid4().hex[:8]}"
    await security.db_configure(name, postgres_dsn)
    return name, postgres_dsn


async def _roles(dsn: str, like: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["rolname"] for r in await conn.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", like)]
    finally:
        await conn.close()


async def test_static_role_rotation_scoped_and_audited(security, db) -> None:
    name, dsn = db
    user = f"app_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD \'initial\'')
    await conn.close()
    role = f"aria_data-{user}"
    await security.db_static_role(role, name, user, rotation_period_s=86400)
    first = await security.db_static_creds(Principal.internal("aria_data"), role)
    assert first["username"] == user and first["password"] != "initial"
    await security.db_rotate(role)
    second = await security.db_static_creds(OPS, role)
    assert second["password"] != first["password"]
    with pytest.raises(SecretAccessDenied):  # aria_storage's own policy: not aria_data's roles
        await security.db_static_creds(Principal.internal("aria_storage"), role)
    with pytest.raises(SecretAccessDenied):
        await security.db_static_creds(OPS, role, service="aria_storage")
    rotated = await security.rotate_due_keys(max_age_s=0)
    assert f"database:{role}" in rotated
    assert (await security.db_static_creds(OPS, role))["password"] != second["password"]
    records = [json.loads(x) for x in security._audit.path.read_text().splitlines()]
    assert any(r["op"] == "scheduled_rotation" and r["target"] == f"database:{role}" for r in records)
    log = security._audit.path.read_text() + security._bao.audit_log.read_text()
    assert second["password"] not in log


async def test_dynamic_credentials_have_a_lease_and_are_dropped_on_revoke(security, db) -> None:
    name, dsn = db
    await security.db_dynamic_role("aria_queue-worker", name, ttl_s=60, max_ttl_s=120)
    creds = await security.db_creds(Principal.internal("aria_queue"), "aria_queue-worker")
    assert creds["lease_duration_s"] == 60
    assert await _roles(dsn, creds["username"]) == [creds["username"]]
    await security.revoke_lease(creds["lease_id"])
    assert await _roles(dsn, creds["username"]) == []


def test_connection_template() -> None:
    url, user, pw = connection_template("postgresql://postgres:s%40cret@/postgres?host=/tmp/pg")
    assert (user, pw) == ("postgres", "s@cret")
    assert url.startswith("postgresql://{{username}}:{{password}}@localhost/postgres?")
    assert "host=/tmp/pg" in url and "sslmode=disable" in url
    url, _, _ = connection_template("postgresql://u:p@db.example:5433/app")
    assert "@db.example:5433/app?" in url and "sslmode=require" in url


async def test_dynamic_credentials_expire_with_their_lease(security, db) -> None:
    import asyncio

    name, dsn = db
    await security.db_dynamic_role("aria_queue-short", name, ttl_s=1, max_ttl_s=1)
    creds = await security.db_creds(OPS, "aria_queue-short")
    assert creds["lease_duration_s"] == 1
    assert await _roles(dsn, creds["username"]) == [creds["username"]]
    for _ in range(300):  # OpenBao's expiration manager drops the user; poll, do not time it
        if not await _roles(dsn, creds["username"]):
            break
        await asyncio.sleep(0.1)
    assert await _roles(dsn, creds["username"]) == []
