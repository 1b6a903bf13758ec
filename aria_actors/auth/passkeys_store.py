"""aria_auth's passkey SQL, one function per statement of ``sql/passkeys.sql`` (schema ``aria_auth``;
asyncpg connections). The tables are migration 0006's: not under row-level security and not granted
to the tenant role, so these run as the service (see :mod:`aria_actors.auth.passkeys`)."""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import queries

if TYPE_CHECKING:
    import asyncpg

_SQL = queries("aria_actors.auth", "passkeys")


@functools.cache
def _q(name: str) -> str:
    """Statement ``name`` of ``sql/passkeys.sql`` with its column list put in."""
    columns = "\n".join(line for line in _SQL("passkey_columns").splitlines() if not line.lstrip().startswith("--"))
    return _SQL(name).replace("{passkey_columns}", columns)


def _count(status: str) -> int:
    return int(status.split()[-1])


async def insert_passkey(conn: asyncpg.Connection, *, user_id: uuid.UUID, credential_id: bytes, public_key: bytes,
                         sign_count: int, transports: list[str], aaguid: str, label: str, second_factor: bool,
                         user_verified: bool, backed_up: bool, device_type: str) -> asyncpg.Record | None:
    """The new passkey, or None when this credential is registered already."""
    return await conn.fetchrow(_q("insert_passkey"), uuid.uuid4(), user_id, credential_id, public_key, sign_count,
                               transports, aaguid, label, second_factor, user_verified, backed_up, device_type)


async def passkeys_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_q("passkeys_of"), user_id)


async def count_passkeys(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    return await conn.fetchval(_q("count_passkeys"), user_id)


async def passkey_for_credential(conn: asyncpg.Connection, credential_id: bytes) -> asyncpg.Record | None:
    """The passkey with this credential id, with its public key, locked until the transaction ends."""
    return await conn.fetchrow(_q("passkey_for_credential"), credential_id)


async def second_factor_passkeys(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_q("second_factor_passkeys"), user_id)


async def usable_passkeys(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_q("usable_passkeys"), user_id)


async def passkey_used(conn: asyncpg.Connection, passkey_id: uuid.UUID, sign_count: int, backed_up: bool) -> None:
    await conn.execute(_q("passkey_used"), passkey_id, sign_count, backed_up)


async def disable_passkey(conn: asyncpg.Connection, passkey_id: uuid.UUID, why: str) -> bool:
    return _count(await conn.execute(_q("disable_passkey"), passkey_id, why)) == 1


async def disable_user_passkeys(conn: asyncpg.Connection, user_id: uuid.UUID, why: str) -> int:
    """Disable every enabled passkey of a user; how many."""
    return _count(await conn.execute(_q("disable_user_passkeys"), user_id, why))


async def update_passkey(conn: asyncpg.Connection, passkey_id: uuid.UUID, user_id: uuid.UUID, *,
                         label: str | None, second_factor: bool | None) -> asyncpg.Record | None:
    return await conn.fetchrow(_q("update_passkey"), passkey_id, user_id, label, second_factor)


async def delete_passkey(conn: asyncpg.Connection, passkey_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return _count(await conn.execute(_q("delete_passkey"), passkey_id, user_id)) == 1


async def session_login(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    """``user_id``, ``amr``, ``age_s`` and ``ended`` of a session (None: no such session)."""
    return await conn.fetchrow(_q("session_login"), session_id)


async def insert_ceremony(conn: asyncpg.Connection, digest: bytes, purpose: str, challenge: bytes, *,
                          user_id: uuid.UUID | None, named: bool, tenant: str, ttl_s: int) -> None:
    await conn.execute(_q("insert_ceremony"), digest, purpose, challenge, user_id, named, tenant, ttl_s)


async def ceremony_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The ceremony (with ``expired``), locked: two finishes of one ceremony serialise."""
    return await conn.fetchrow(_q("ceremony_for_update"), digest)


async def use_ceremony(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(_q("use_ceremony"), digest)


async def prune_ceremonies(conn: asyncpg.Connection, keep_s: int) -> int:
    return _count(await conn.execute(_q("prune_ceremonies"), keep_s))


def public(row: Any) -> dict[str, Any]:
    """A passkey as the service shows it (never its public key)."""
    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {"id": str(row["id"]), "user_id": str(row["user_id"]), "label": row["label"],
            "aaguid": row["aaguid"], "transports": list(row["transports"]), "sign_count": row["sign_count"],
            "second_factor": row["second_factor"], "user_verified": row["user_verified"],
            "backed_up": row["backed_up"], "device_type": row["device_type"],
            "created_at": when(row["created_at"]), "last_used_at": when(row["last_used_at"]),
            "disabled": row["disabled_at"] is not None, "disabled_at": when(row["disabled_at"]),
            "disabled_why": row["disabled_why"]}
