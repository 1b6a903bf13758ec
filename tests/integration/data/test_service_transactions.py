"""Services' multi-statement writes go through aria_data's retrying transactions: aria_shape's
store, over aria_data's Database or a bare pool, gets a deadlock or a serialization failure in
the middle of a write and the write is retried and lands once. (aria_auth's, aria_storage's
and aria_queue's are tested in their own folders.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aria_actors.data.migrations import migrate_database
from aria_actors.data.pool import Database
from aria_actors.shape.store import ShapeStore
from tests.integration.data.injected import failing_once


@contextlib.asynccontextmanager
async def _shape_store(dsn: str, bare_pool: bool) -> AsyncIterator[tuple[ShapeStore, Database]]:
    await migrate_database(dsn, ["aria_shape"])
    db = await Database.connect(dsn)
    try:
        yield ShapeStore(db.pool if bare_pool else db), db
    finally:
        await db.close()


@pytest.mark.parametrize("bare_pool", [False, True], ids=["database", "bare-pool"])
async def test_evolve_is_retried_on_the_body_it_then_reads(fresh_database: str, bare_pool: bool) -> None:
    async with _shape_store(fresh_database, bare_pool) as (store, db):
        created = await store.create_character({"template": "t", "name": "Ann", "traits": []}, "born")
        seen: list[list[str]] = []

        def update(body: dict[str, Any]) -> dict[str, Any]:
            seen.append(list(body["traits"]))
            return {**body, "traits": [*body["traits"], "brave"]}

        when = "NEW.version = 2"
        async with failing_once(db, "aria_shape.character_versions", "INSERT", "40001", when):
            evolved = await store.evolve(created["id"], update, "braver")
        assert evolved["version"] == 2 and evolved["character"]["traits"] == ["brave"]
        assert seen == [[], []]  # called again, on the body read again
        assert [h["version"] for h in await store.history(created["id"])] == [1, 2]
        assert (await store.character(created["id"]))["latest"] == 2
        # Through the Database its retry is counted; a bare pool retries the same, uncounted.
        assert db.stats()["retries"] == (0 if bare_pool else 1)


async def test_set_serving_is_retried_whole(fresh_database: str) -> None:
    async with _shape_store(fresh_database, False) as (store, db):
        await store.set_serving("v1", {"v1": 0.5, "v2": 0.5}, seed=7)
        await db.execute("UPDATE aria_shape.ab_metrics SET requests = 3")
        async with failing_once(db, "aria_shape.ab_metrics", "INSERT", "40P01"):
            await store.set_serving("v2", {"v2": 0.9, "v3": 0.1}, seed=8)
        serving = await store.serving()
        assert serving is not None and serving["version"] == "v2" and serving["seed"] == 8
        assert serving["weights"] == [("v2", 0.9), ("v3", 0.1)]
        assert sorted(serving["metrics"]) == ["v2", "v3"]  # the first attempt's rows are gone
        assert all(m["requests"] == 0 for m in serving["metrics"].values())
        assert db.stats()["retries"] == 1
