"""Helpers for aria_queue integration tests: wait for job states by polling the database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

# A generous ceiling so a broken executor fails the test instead of hanging it.
POLL_LIMIT_S = 180.0


async def states(pool: Any, ids: Iterable[int] | None = None) -> dict[int, str]:
    if ids is None:
        rows = await pool.fetch("SELECT id, state::text FROM aria_queue.jobs")
    else:
        rows = await pool.fetch("SELECT id, state::text FROM aria_queue.jobs WHERE id = ANY($1)",
                                list(ids))
    return {r["id"]: r["state"] for r in rows}


async def wait_states(pool: Any, ids: Iterable[int], wanted: Iterable[str]) -> dict[int, str]:
    """Poll until every job in ``ids`` is in one of ``wanted``; returns the states."""
    ids, wanted = list(ids), set(wanted)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT_S
    while True:
        got = await states(pool, ids)
        if len(got) == len(ids) and set(got.values()) <= wanted:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"jobs never reached {wanted}: {got}")
        await asyncio.sleep(0.02)
