"""Transactions with bounded, jittered retry on serialization failures and deadlocks.

``await run_transaction(source, fn)`` calls ``await fn(conn)`` inside a transaction and returns
its result. ``source`` is an asyncpg pool (a connection is acquired per attempt) or connection.
Services call it through :meth:`aria_actors.data.pool.Database.transaction` (the pool's retry
settings, retry counter, timing and typed connection loss).

Guarantees and caveats:
- Retried: SQLSTATE 40001 (serialization_failure) and 40P01 (deadlock_detected), both rolled back
  by the server, so re-running ``fn`` is safe as long as ``fn`` has no effects outside the
  database. At most ``attempts`` tries; delays are "full jitter": uniform in
  ``[0, min(max_delay, base * 2**n)]``. Then :class:`TransactionRetriesExhausted`.
- Nested use: called with a connection that is already in a transaction, ``fn`` runs inside a
  SAVEPOINT (asyncpg's nested transaction) and is not retried here: a serialization failure
  aborts the whole outer transaction, so only the outermost level can retry.
- Connection loss is not retried: whether the COMMIT happened is unknown. It surfaces as
  :class:`DatabaseUnreachable`; the caller decides (idempotent writes may simply try again).
- ``fn`` may run more than once: it must not touch anything outside the database that a repeat
  would change again (a call to another service, a counter, a mutation of its caller's state)
  unless that effect is harmless to repeat. Return what the caller acts on after the commit.
- ``tenant`` runs the transaction as that tenant (``tenancy.set_tenant``): row-level security
  confines it to the tenant's rows. Without ``tenant`` nothing confines it (see tenancy).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import asyncpg

from aria_actors.data.errors import TransactionRetriesExhausted
from aria_actors.data.tenancy import set_tenant

T = TypeVar("T")
Isolation = Literal["read_committed", "repeatable_read", "serializable"]
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.01
    max_delay_s: float = 1.0

    def delay(self, attempt: int) -> float:
        """Sleep before try ``attempt + 1`` (attempt counts from 1)."""
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


def is_retryable(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES


async def run_transaction(
    source: asyncpg.Pool | asyncpg.Connection,
    fn: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    isolation: Isolation = "read_committed",
    readonly: bool = False,
    tenant: str | None = None,
    policy: RetryPolicy | None = None,
    on_retry: Callable[[int, BaseException], Any] | None = None,
) -> T:
    """Run ``fn(conn)`` in a transaction, retrying it on serialization failures and deadlocks."""
    policy = policy or RetryPolicy()
    if isinstance(source, asyncpg.Connection) and source.is_in_transaction():
        async with source.transaction():
            if tenant is not None:
                await set_tenant(source, tenant)
            return await fn(source)

    attempt = 1
    while True:
        try:
            if isinstance(source, asyncpg.Connection):
                return await _once(source, fn, isolation, readonly, tenant)
            async with source.acquire() as conn:
                return await _once(conn, fn, isolation, readonly, tenant)
        except asyncpg.PostgresError as exc:
            if not is_retryable(exc):
                raise
            if attempt >= policy.attempts:
                raise TransactionRetriesExhausted(
                    f"transaction failed {attempt} times with {exc.sqlstate} "
                    f"({type(exc).__name__}: {exc})",
                    attempts=attempt, sqlstate=exc.sqlstate,
                ) from exc
            if on_retry is not None:
                on_retry(attempt, exc)
            await asyncio.sleep(policy.delay(attempt))
            attempt += 1


async def _once(
    conn: asyncpg.Connection,
    fn: Callable[[asyncpg.Connection], Awaitable[T]],
    isolation: Isolation,
    readonly: bool,
    tenant: str | None,
) -> T:
    async with conn.transaction(isolation=isolation, readonly=readonly):
        if tenant is not None:
            await set_tenant(conn, tenant)
        return await fn(conn)
