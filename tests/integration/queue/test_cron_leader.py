"""Cron inserts one job per slot across nodes; leadership by advisory lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aria_actors.queue.plugins import Cron, CronEntry, Leader, PluginConfig, PluginRunner
from aria_actors.queue.registry import Registry

pytestmark = pytest.mark.asyncio(loop_scope="session")

reg = Registry()


@reg.worker(name="tick", queue="cron")
async def tick(job):
    return None


async def test_one_insert_per_slot_across_nodes(queue_pool):
    entries = [CronEntry("*/5 * * * *", "tick", {"k": 1}), CronEntry("@hourly", "tick", name="h")]
    nodes = [Cron(entries, registry=reg) for _ in range(3)]
    t = datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)
    assert [await n.tick(queue_pool, t) for n in nodes] == [2, 0, 0]
    t2 = datetime(2026, 1, 1, 10, 5, 1, tzinfo=UTC)
    assert [await n.tick(queue_pool, t2) for n in nodes] == [1, 0, 0]
    rows = await queue_pool.fetch("SELECT meta->>'cron' AS c, meta->>'cron_slot' AS s "
                                  "FROM aria_queue.jobs ORDER BY id")
    assert [(r["c"], r["s"]) for r in rows] == [
        ("tick@*/5 * * * *", "2026-01-01T10:00:00+00:00"), ("h", "2026-01-01T10:00:00+00:00"),
        ("tick@*/5 * * * *", "2026-01-01T10:05:00+00:00")]
    # even after the slot's job finished, the slot is not inserted again
    await queue_pool.execute("UPDATE aria_queue.jobs SET state = 'completed', completed_at = now()")
    assert await nodes[1].tick(queue_pool, t2) == 0


async def test_missed_slots_older_than_catch_up_are_skipped(queue_pool):
    cron = Cron([CronEntry("0 0 * * *", "tick")], registry=reg, catch_up=60)
    assert await cron.tick(queue_pool, datetime(2026, 1, 1, 0, 0, 59, tzinfo=UTC)) == 1
    assert await cron.tick(queue_pool, datetime(2026, 1, 2, 0, 3, tzinfo=UTC)) == 0


async def test_one_leader_at_a_time(queue_dsn):
    a, b = Leader(queue_dsn), Leader(queue_dsn)
    try:
        assert await a.try_lead() is True
        assert await b.try_lead() is False
        assert await a.try_lead() is True
        await a.resign()
        assert await b.try_lead() is True
        assert await a.try_lead() is False
    finally:
        await a.resign()
        await b.resign()


async def test_only_the_leader_runs_plugins(queue_dsn, queue_pool):
    cron = Cron([CronEntry("* * * * *", "tick")], registry=reg)
    cfg = PluginConfig(cron_interval=0)
    one = PluginRunner(queue_dsn, queue_pool, cfg, cron)
    two = PluginRunner(queue_dsn, queue_pool, cfg, cron)
    try:
        await one.run_once(100.0)
        await two.run_once(100.0)
        assert "cron" in one.last and "rescue" in one.last and "prune" in one.last
        assert two.last == {}
        assert await queue_pool.fetchval("SELECT count(*) FROM aria_queue.jobs") == 1
    finally:
        await one.stop()
        await two.stop()
