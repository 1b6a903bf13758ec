"""Transactional outbox: announce a change in the same transaction that makes it.

Distributed work across services uses this instead of two-phase commit: ``put`` writes a row to
``aria_data.outbox`` inside the caller's transaction; a delivery loop (aria_queue) later
``claim``s pending rows, hands them on and marks them ``delivered``.

Guarantees and caveats:
- A message exists if and only if the transaction that wrote it committed.
- Delivery is at least once: a deliverer that dies after handing a message on but before
  ``delivered`` commits leaves it pending, and it is delivered again. Consumers deduplicate by id.
- ``claim`` locks rows ``FOR UPDATE SKIP LOCKED`` until the claiming transaction ends, so
  concurrent deliverers never get the same row at the same time. Order is by id within a claim,
  not across deliverers.
- In a tenant transaction the row's ``tenant_id`` is that tenant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aria_actors.data.errors import DataError
from aria_actors.data.queries import query

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    key: str | None
    payload: Any
    tenant_id: str | None
    created_at: datetime
    attempts: int


async def put(conn: asyncpg.Connection, topic: str, payload: Any, *, key: str | None = None) -> int:
    """Write a message in the caller's transaction; returns its id."""
    if not conn.is_in_transaction():
        raise DataError(
            "outbox.put() must run inside the transaction whose change it announces",
            topic=topic,
        )
    return await conn.fetchval(query("outbox", "put"), topic, key, json.dumps(payload))


async def claim(conn: asyncpg.Connection, limit: int = 100) -> list[OutboxMessage]:
    """Lock and return up to ``limit`` pending messages (call inside a transaction)."""
    if not conn.is_in_transaction():
        raise DataError("outbox.claim() must run inside a transaction: the locks end with it")
    rows = await conn.fetch(query("outbox", "claim"), limit)
    return [
        OutboxMessage(r["id"], r["topic"], r["key"], json.loads(r["payload"]), r["tenant_id"],
                      r["created_at"], r["attempts"])
        for r in rows
    ]


async def mark_delivered(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute(query("outbox", "delivered"), ids)


async def mark_failed(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute(query("outbox", "failed"), ids)
