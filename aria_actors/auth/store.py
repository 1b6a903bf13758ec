"""aria_auth's SQL, one function per statement (schema ``aria_auth``; asyncpg connections)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg

USER_COLUMNS = ("id, tenant, username, email, display_name, roles, disabled, failed_logins, lockouts, "
                "locked_until, mfa_enabled, mfa_secret IS NOT NULL AS mfa_pending, "
                "cardinality(recovery_codes) AS recovery_codes_left, created_at, updated_at, last_login_at")


async def insert_user(conn: asyncpg.Connection, *, tenant: str, username: str, email: str | None,
                      display_name: str | None, password_hash: str, roles: list[str]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"INSERT INTO aria_auth.users (id, tenant, username, email, display_name, password_hash, roles) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {USER_COLUMNS}",
        uuid.uuid4(), tenant, username, email, display_name, password_hash, roles)


async def user(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM aria_auth.users WHERE id = $1", user_id)


async def user_for_login(conn: asyncpg.Connection, tenant: str, username: str, *, lock: bool = False
                         ) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM aria_auth.users "
        f"WHERE tenant = $1 AND lower(username) = lower($2){' FOR UPDATE' if lock else ''}",
        tenant, username)


async def user_secrets(conn: asyncpg.Connection, user_id: uuid.UUID, *, lock: bool = False
                       ) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash, mfa_secret, mfa_last_step, recovery_codes "
        f"FROM aria_auth.users WHERE id = $1{' FOR UPDATE' if lock else ''}", user_id)


async def list_users(conn: asyncpg.Connection, tenant: str | None, after: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM aria_auth.users WHERE ($1::text IS NULL OR tenant = $1) "
        "AND (tenant || '/' || lower(username)) > $2 ORDER BY tenant || '/' || lower(username) LIMIT $3",
        tenant, after, limit)


async def _update(conn: asyncpg.Connection, table: str, returning: str, row_id: uuid.UUID,
                  fields: dict[str, Any]) -> asyncpg.Record | None:
    """Set ``fields`` (column -> value; names come from code, never from a request)."""
    sets = ", ".join(f"{col} = ${i}" for i, col in enumerate(fields, start=2))
    return await conn.fetchrow(
        f"UPDATE aria_auth.{table} SET {sets}, updated_at = now() WHERE id = $1 RETURNING {returning}",
        row_id, *fields.values())


async def update_user(conn: asyncpg.Connection, user_id: uuid.UUID, fields: dict[str, Any]) -> asyncpg.Record | None:
    return await _update(conn, "users", USER_COLUMNS, user_id, fields)


async def begin_mfa(conn: asyncpg.Connection, user_id: uuid.UUID, wrapped_secret: str) -> bool:
    """Store a new, unconfirmed TOTP secret unless MFA is on (a confirm may have just landed)."""
    status = await conn.execute(
        "UPDATE aria_auth.users SET mfa_secret = $2, mfa_last_step = 0, updated_at = now() "
        "WHERE id = $1 AND NOT mfa_enabled", user_id, wrapped_secret)
    return status == "UPDATE 1"


async def delete_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    return await conn.execute("DELETE FROM aria_auth.users WHERE id = $1", user_id) == "DELETE 1"


async def count_users(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM aria_auth.users")


# -- sessions and refresh tokens ----------------------------------------------------------------
async def insert_session(conn: asyncpg.Connection, user_id: uuid.UUID, amr: list[str], expires_at: datetime,
                         user_agent: str | None, address: str | None) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO aria_auth.sessions (id, user_id, amr, expires_at, user_agent, address) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        uuid.uuid4(), user_id, amr, expires_at, user_agent, address)


async def insert_refresh_token(conn: asyncpg.Connection, digest: bytes, session_id: uuid.UUID) -> None:
    await conn.execute("INSERT INTO aria_auth.refresh_tokens (digest, session_id) VALUES ($1, $2)",
                       digest, session_id)


async def refresh_token_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The token with its session (both locked, so two refreshes of one token serialise)."""
    return await conn.fetchrow(
        "SELECT t.used_at, s.id AS session_id, s.user_id, s.amr, s.expires_at, s.last_used_at, s.revoked_at "
        "FROM aria_auth.refresh_tokens t JOIN aria_auth.sessions s ON s.id = t.session_id "
        "WHERE t.digest = $1 FOR UPDATE OF t, s", digest)


async def use_refresh_token(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute("UPDATE aria_auth.refresh_tokens SET used_at = now() WHERE digest = $1", digest)


async def touch_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute("UPDATE aria_auth.sessions SET last_used_at = now(), refreshes = refreshes + 1 "
                       "WHERE id = $1", session_id)


async def revoke_sessions(conn: asyncpg.Connection, why: str, *, session_id: uuid.UUID | None = None,
                          user_id: uuid.UUID | None = None) -> int:
    """End one session, or every open session of a user; returns how many were open."""
    status = await conn.execute(
        "UPDATE aria_auth.sessions SET revoked_at = now(), revoked_why = $3 "
        "WHERE revoked_at IS NULL AND ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR user_id = $2)",
        session_id, user_id, why)
    return int(status.split()[-1])


async def session(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.*, u.disabled FROM aria_auth.sessions s JOIN aria_auth.users u ON u.id = s.user_id "
        "WHERE s.id = $1", session_id)


async def open_sessions(conn: asyncpg.Connection, user_id: uuid.UUID, idle_s: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM aria_auth.sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() "
        "AND last_used_at > now() - make_interval(secs => $2) ORDER BY created_at", user_id, idle_s)


async def count_open_sessions(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM aria_auth.sessions WHERE revoked_at IS NULL AND expires_at > now()")


async def prune(conn: asyncpg.Connection, keep_s: int) -> int:
    """Forget sessions (and their tokens) and challenges that ended more than ``keep_s`` ago."""
    ended = await conn.execute(
        "DELETE FROM aria_auth.sessions WHERE coalesce(revoked_at, expires_at) < now() - make_interval(secs => $1)",
        keep_s)
    await conn.execute("DELETE FROM aria_auth.challenges WHERE expires_at < now() - make_interval(secs => $1)",
                       keep_s)
    return int(ended.split()[-1])


# -- MFA challenges -----------------------------------------------------------------------------
async def insert_challenge(conn: asyncpg.Connection, digest: bytes, user_id: uuid.UUID, ttl_s: int,
                           user_agent: str | None, address: str | None) -> None:
    await conn.execute(
        "INSERT INTO aria_auth.challenges (digest, user_id, expires_at, user_agent, address) "
        "VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)",
        digest, user_id, ttl_s, user_agent, address)


async def challenge_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT *, expires_at <= now() AS expired FROM aria_auth.challenges WHERE digest = $1 FOR UPDATE",
        digest)


async def update_challenge(conn: asyncpg.Connection, digest: bytes, *, used: bool) -> None:
    await conn.execute(
        "UPDATE aria_auth.challenges SET attempts = attempts + 1, "
        "used_at = CASE WHEN $2 THEN now() ELSE used_at END WHERE digest = $1", digest, used)


# -- machine clients ----------------------------------------------------------------------------
CLIENT_COLUMNS = "id, tenant, name, roles, disabled, created_at, updated_at, last_used_at"


async def insert_client(conn: asyncpg.Connection, *, tenant: str, name: str, secret_digest: bytes,
                        roles: list[str]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"INSERT INTO aria_auth.clients (id, tenant, name, secret_digest, roles) VALUES ($1, $2, $3, $4, $5) "
        f"RETURNING {CLIENT_COLUMNS}", uuid.uuid4(), tenant, name, secret_digest, roles)


async def client(conn: asyncpg.Connection, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {CLIENT_COLUMNS}, secret_digest FROM aria_auth.clients WHERE id = $1",
                               client_id)


async def list_clients(conn: asyncpg.Connection, tenant: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {CLIENT_COLUMNS} FROM aria_auth.clients WHERE ($1::text IS NULL OR tenant = $1) "
                            "ORDER BY tenant, lower(name)", tenant)


async def update_client(conn: asyncpg.Connection, client_id: uuid.UUID, fields: dict[str, Any]
                        ) -> asyncpg.Record | None:
    return await _update(conn, "clients", CLIENT_COLUMNS, client_id, fields)


async def delete_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> bool:
    return await conn.execute("DELETE FROM aria_auth.clients WHERE id = $1", client_id) == "DELETE 1"


async def client_used(conn: asyncpg.Connection, client_id: uuid.UUID) -> None:
    await conn.execute("UPDATE aria_auth.clients SET last_used_at = now() WHERE id = $1", client_id)
