"""The OpenID provider's SQL, one function per statement of ``sql/provider.sql`` (schema
``aria_auth``; asyncpg connections).

Guarantees and caveats
----------------------
- Statements only: no decisions here. Codes and client secrets arrive as digests.
- The tables are not under row-level security: every statement runs as the service, and the
  provider's methods decide on the client's tenant themselves.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.auth", "provider")


@functools.cache
def _q(name: str) -> str:
    fragment = "\n".join(line for line in _SQL("oidc_client_columns").splitlines()
                         if not line.lstrip().startswith("--"))
    return _SQL(name).replace("{oidc_client_columns}", fragment)


def _count(status: str) -> int:
    return int(status.split()[-1])


# -- clients ------------------------------------------------------------------------------------
async def insert_client(conn: asyncpg.Connection, *, tenant: str, name: str, secret_digest: bytes | None,
                        redirect_uris: list[str], post_logout_redirect_uris: list[str], scopes: list[str],
                        trusted: bool) -> asyncpg.Record:
    return await conn.fetchrow(_q("insert_client"), uuid.uuid4(), tenant, name, secret_digest, redirect_uris,
                               post_logout_redirect_uris, scopes, trusted)


async def client(conn: asyncpg.Connection, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("client"), client_id)


async def list_clients(conn: asyncpg.Connection, tenant: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(_q("list_clients"), tenant)


async def delete_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_client"), client_id)) == 1


# -- authorization requests and codes -----------------------------------------------------------
async def insert_request(conn: asyncpg.Connection, request_id: uuid.UUID, csrf_digest: bytes, client_id: uuid.UUID,
                         redirect_uri: str, scopes: list[str], state: str | None, nonce: str | None,
                         code_challenge: str, ttl_s: int) -> None:
    await conn.execute(_q("insert_request"), request_id, csrf_digest, client_id, redirect_uri, scopes, state, nonce,
                       code_challenge, ttl_s)


async def request_for_update(conn: asyncpg.Connection, request_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("request_for_update"), request_id)


async def request_logged_in(conn: asyncpg.Connection, request_id: uuid.UUID, session_id: uuid.UUID) -> None:
    await conn.execute(_q("request_logged_in"), request_id, session_id)


async def request_mfa(conn: asyncpg.Connection, request_id: uuid.UUID, challenge_digest: bytes) -> None:
    await conn.execute(_q("request_mfa"), request_id, challenge_digest)


async def finish_request(conn: asyncpg.Connection, request_id: uuid.UUID) -> None:
    await conn.execute(_q("finish_request"), request_id)


async def insert_code(conn: asyncpg.Connection, digest: bytes, request: Any, ttl_s: int) -> None:
    await conn.execute(_q("insert_code"), digest, request["client_id"], request["session_id"],
                       request["redirect_uri"], list(request["scopes"]), request["nonce"],
                       request["code_challenge"], ttl_s)


async def code_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("code_for_update"), digest)


async def use_code(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(_q("use_code"), digest)


# -- sessions an OIDC login opened ---------------------------------------------------------------
async def insert_oidc_session(conn: asyncpg.Connection, session_id: uuid.UUID, client_id: uuid.UUID,
                              scopes: list[str]) -> None:
    await conn.execute(_q("insert_oidc_session"), session_id, client_id, scopes)


async def oidc_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("oidc_session"), session_id)


async def is_oidc_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(_q("is_oidc_session"), session_id))


# -- RP-initiated logouts waiting for the user's confirmation -----------------------------------
async def insert_logout(conn: asyncpg.Connection, logout_id: uuid.UUID, csrf_digest: bytes,
                        client_id: uuid.UUID | None, session_id: uuid.UUID | None, user_id: str | None,
                        redirect_uri: str | None, state: str | None, ttl_s: int) -> None:
    await conn.execute(_q("insert_logout"), logout_id, csrf_digest, client_id, session_id, user_id, redirect_uri,
                       state, ttl_s)


async def logout_for_update(conn: asyncpg.Connection, logout_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("logout_for_update"), logout_id)


async def finish_logout(conn: asyncpg.Connection, logout_id: uuid.UUID) -> None:
    await conn.execute(_q("finish_logout"), logout_id)


# -- signing keys -------------------------------------------------------------------------------
async def keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(_q("keys"))


async def insert_key(conn: asyncpg.Connection, kid: str, wrapped: str, public_jwk: dict[str, Any]) -> None:
    await conn.execute(_q("insert_key"), kid, wrapped, json.dumps(public_jwk))


async def prune(conn: asyncpg.Connection, keep_s: int) -> None:
    await conn.execute(_q("prune_requests"), keep_s)
    await conn.execute(_q("prune_codes"), keep_s)
    await conn.execute(_q("prune_logouts"), keep_s)
