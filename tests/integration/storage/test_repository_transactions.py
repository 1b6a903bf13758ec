"""The asset repository's transaction goes through aria_data's Database: a deadlock or a
serialization failure in the middle of add_version is retried, and the retry leaves no gap."""

from __future__ import annotations

import pytest

from aria_actors.data.migrations import migrate_database
from aria_actors.data.pool import Database
from aria_actors.storage.repository import AssetRepository
from tests.integration.data.injected import failing_once

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_add_version_is_retried_and_numbers_stay_consecutive(fresh_database: str, sqlstate: str) -> None:
    await migrate_database(fresh_database, ["aria_storage"])
    db = await Database.connect(fresh_database)
    try:
        repo = AssetRepository(db)
        decided: list[tuple[str | None, bool]] = []

        def authorize(owner: str | None, created: bool) -> None:
            decided.append((owner, created))

        async with failing_once(db, "aria_storage.versions", "INSERT", sqlstate):
            first = await repo.add_version("a", size=1, content_type="x", metadata={}, tags=[],
                                           chunk_count=0, index_data=b"i", owner="u1", authorize=authorize)
        second = await repo.add_version("a", size=2, content_type="x", metadata={}, tags=[],
                                        chunk_count=0, index_data=b"i", owner="u1")
        assert (first.version, second.version) == (1, 2)  # the failed attempt's number was rolled back
        assert decided == [("u1", True), ("u1", True)]  # decided again on what the retry read
        assert db.stats()["retries"] == 1
        assert [v.version for v in await repo.versions("a")] == [1, 2]
    finally:
        await db.close()
