"""SQL of aria_auth's relying party, one function per statement of ``sql/relying.sql`` (schema
``aria_auth``, migrations 0009 and 0011; asyncpg connections)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

_q = queries("aria_actors.auth", "relying")


def _count(status: str) -> int:
    """Rows a statement touched, from its command tag (``DELETE 1``)."""
    return int(status.split()[-1])


async def insert_state(conn: asyncpg.Connection, digest: bytes, provider: str, nonce: str, verifier: str,
                       binding_digest: bytes | None, ttl_s: int) -> None:
    await conn.execute(_q("insert_state"), digest, provider, nonce, verifier, binding_digest, float(ttl_s))


async def state_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("state_for_update"), digest)


async def use_state(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(_q("use_state"), digest)


async def see_token(conn: asyncpg.Connection, digest: bytes, expires_at: datetime) -> bool:
    """Record an accepted ID token; False when it was seen before (a replay)."""
    return _count(await conn.execute(_q("see_token"), digest, expires_at)) == 1


async def identity_lock(conn: asyncpg.Connection, provider: str, issuer: str, subject: str) -> None:
    await conn.execute(_q("identity_lock"), provider, issuer, subject)


async def link_for_identity(conn: asyncpg.Connection, provider: str, issuer: str, subject: str
                            ) -> asyncpg.Record | None:
    """The link ``provider`` made for (issuer, subject), with its user's tenant (``user_tenant``)."""
    return await conn.fetchrow(_q("link_for_identity"), provider, issuer, subject)


async def insert_link(conn: asyncpg.Connection, user_id: uuid.UUID, provider: str, issuer: str, subject: str,
                      email: str | None) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_link"), uuid.uuid4(), user_id, provider, issuer, subject, email)


async def link_logged_in(conn: asyncpg.Connection, link_id: uuid.UUID, email: str | None) -> None:
    await conn.execute(_q("link_logged_in"), link_id, email)


async def links_of_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_q("links_of_user"), user_id)


async def link(conn: asyncpg.Connection, link_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("link"), link_id)


async def delete_link(conn: asyncpg.Connection, link_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_link"), link_id)) == 1


async def count_links(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    return await conn.fetchval(_q("count_links"), user_id)


async def prune(conn: asyncpg.Connection, keep_s: int) -> int:
    """Forget login states that ended more than ``keep_s`` ago and ID tokens past their expiry."""
    states = _count(await conn.execute(_q("prune_states"), float(keep_s)))
    return states + _count(await conn.execute(_q("prune_seen_tokens")))
