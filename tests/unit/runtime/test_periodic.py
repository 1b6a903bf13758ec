"""runtime.periodic: repeated background work that outlives failed rounds and stops at once."""

from __future__ import annotations

import asyncio
import logging

from aria_actors.runtime.periodic import periodic, stop_task


async def test_a_failing_round_is_logged_and_the_next_one_runs(caplog) -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("database down")

    with caplog.at_level(logging.WARNING, logger="t.periodic"):
        task = periodic(0.01, work, what="testing", log=logging.getLogger("t.periodic"))
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        await stop_task(task)
    assert task.done() and len(calls) >= 3
    assert "testing failed" in caplog.text and "database down" in caplog.text


async def test_stop_task_ends_a_sleeping_loop_and_takes_none() -> None:
    task = periodic(3600, asyncio.sleep, what="never", log=logging.getLogger("t.periodic"))
    await stop_task(task)
    assert task.cancelled()
    await stop_task(None)
