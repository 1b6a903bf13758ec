"""aria_auth's SQL, one function per statement of ``sql/store.sql`` (schema ``aria_auth``; asyncpg
connections)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import ident, queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.auth", "store")


def _fragment(name: str) -> str:
    return "\n".join(line for line in _SQL(name).splitlines() if not line.lstrip().startswith("--"))


@functools.cache
def _q(name: str) -> str:
    """Statement ``name`` of ``sql/store.sql`` with its column lists put in (see that file)."""
    return (_SQL(name).replace("{user_columns}", _fragment("user_columns"))
            .replace("{client_columns}", _fragment("client_columns")))


async def insert_user(conn: asyncpg.Connection, *, tenant: str, username: str, email: str | None,
                      display_name: str | None, password_hash: str, roles: list[str]) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_user"),
                               uuid.uuid4(), tenant, username, email, display_name, password_hash, roles)


async def user(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("user"), user_id)


async def user_for_login(conn: asyncpg.Connection, tenant: str, username: str, *, lock: bool = False
                         ) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("user_for_login_locked" if lock else "user_for_login"), tenant, username)


async def user_secrets(conn: asyncpg.Connection, user_id: uuid.UUID, *, lock: bool = False
                       ) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("user_secrets_locked" if lock else "user_secrets"), user_id)


async def list_users(conn: asyncpg.Connection, tenant: str | None, after: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_users"), tenant, after, limit)


async def _update(conn: asyncpg.Connection, statement: str, row_id: uuid.UUID,
                  fields: dict[str, Any]) -> asyncpg.Record | None:
    """Set ``fields`` (column -> value; names come from code, never from a request)."""
    sets = ", ".join(f"{ident(col)} = ${i}" for i, col in enumerate(fields, start=2))
    return await conn.fetchrow(_q(statement).format(sets=sets), row_id, *fields.values())


async def update_user(conn: asyncpg.Connection, user_id: uuid.UUID, fields: dict[str, Any]) -> asyncpg.Record | None:
    return await _update(conn, "update_user", user_id, fields)


async def begin_mfa(conn: asyncpg.Connection, user_id: uuid.UUID, wrapped_secret: str) -> bool:
    """Store a new, unconfirmed TOTP secret unless MFA is on (a confirm may have just landed)."""
    return _count(await conn.execute(_q("begin_mfa"), user_id, wrapped_secret)) == 1


async def delete_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_user"), user_id)) == 1


async def count_users(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(_q("count_users"))


def _count(status: str) -> int:
    """Rows a statement touched, from its command tag (``UPDATE 1``)."""
    return int(status.split()[-1])


# -- sessions and refresh tokens ----------------------------------------------------------------
async def insert_session(conn: asyncpg.Connection, user_id: uuid.UUID, amr: list[str], expires_at: datetime,
                         user_agent: str | None, address: str | None) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_session"),
                               uuid.uuid4(), user_id, amr, expires_at, user_agent, address)


async def insert_refresh_token(conn: asyncpg.Connection, digest: bytes, session_id: uuid.UUID) -> None:
    await conn.execute(_q("insert_refresh_token"), digest, session_id)


async def refresh_token_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The token with its session (both locked, so two refreshes of one token serialise)."""
    return await conn.fetchrow(_q("refresh_token_for_update"), digest)


async def use_refresh_token(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(_q("use_refresh_token"), digest)


async def touch_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute(_q("touch_session"), session_id)


async def revoke_sessions(conn: asyncpg.Connection, why: str, *, session_id: uuid.UUID | None = None,
                          user_id: uuid.UUID | None = None) -> int:
    """End one session, or every open session of a user; returns how many were open."""
    return _count(await conn.execute(_q("revoke_sessions"), session_id, user_id, why))


async def session(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("session"), session_id)


async def open_sessions(conn: asyncpg.Connection, user_id: uuid.UUID, idle_s: int) -> list[asyncpg.Record]:
    return await conn.fetch(_q("open_sessions"), user_id, idle_s)


async def count_open_sessions(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(_q("count_open_sessions"))


async def prune(conn: asyncpg.Connection, keep_s: int) -> int:
    """Forget sessions (and their tokens) and challenges that ended more than ``keep_s`` ago."""
    ended = await conn.execute(_q("prune_sessions"), keep_s)
    await conn.execute(_q("prune_challenges"), keep_s)
    return _count(ended)


# -- MFA challenges -----------------------------------------------------------------------------
async def insert_challenge(conn: asyncpg.Connection, digest: bytes, user_id: uuid.UUID, ttl_s: int,
                           user_agent: str | None, address: str | None) -> None:
    await conn.execute(_q("insert_challenge"), digest, user_id, ttl_s, user_agent, address)


async def challenge_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("challenge_for_update"), digest)


async def update_challenge(conn: asyncpg.Connection, digest: bytes, *, used: bool) -> None:
    await conn.execute(_q("update_challenge"), digest, used)


# -- machine clients ----------------------------------------------------------------------------
async def insert_client(conn: asyncpg.Connection, *, tenant: str, name: str, secret_digest: bytes,
                        roles: list[str]) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_client"), uuid.uuid4(), tenant, name, secret_digest, roles)


async def client(conn: asyncpg.Connection, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("client"), client_id)


async def list_clients(conn: asyncpg.Connection, tenant: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_clients"), tenant)


async def update_client(conn: asyncpg.Connection, client_id: uuid.UUID, fields: dict[str, Any]
                        ) -> asyncpg.Record | None:
    return await _update(conn, "update_client", client_id, fields)


async def delete_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_client"), client_id)) == 1


async def client_used(conn: asyncpg.Connection, client_id: uuid.UUID) -> None:
    await conn.execute(_q("client_used"), client_id)
