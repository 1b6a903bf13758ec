"""Background work a service repeats on a timer, inside its own event loop (Ray-free).

    task = periodic(30.0, self.flush, what="flushing metrics", log=log)
    ...
    await stop_task(task)

A round that raises is logged and the next one runs on schedule: a database that is down for a
while must not end the loop for good. Cancellation ends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def _every(interval_s: float, work: Callable[[], Awaitable[Any]], what: str, log: logging.Logger,
                 level: int) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.log(level, "%s failed", what, exc_info=True)


def periodic(interval_s: float, work: Callable[[], Awaitable[Any]], *, what: str, log: logging.Logger,
             level: int = logging.WARNING) -> asyncio.Task[None]:
    """Run ``work()`` every ``interval_s`` seconds (the first time after one interval)."""
    return asyncio.ensure_future(_every(interval_s, work, what, log, level))


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended (safe with None or a finished task)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
