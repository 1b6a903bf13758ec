"""The asset repository: asset versions, metadata, tags and indexes in Postgres (asyncpg).

One class is the only place SQL runs (queries in ``sql/repository.sql``); the service depends on
its interface, so it can move behind aria_data later without the service changing.

Guarantees and caveats:
- Version numbers are per asset, start at 1 and are never reused, even after deletion (they come
  from ``assets.latest``, bumped in the same transaction as the version row).
- A version row exists only once all of its chunks are in the store (the service writes chunks
  first), so every index read from here is complete.
- An asset's owner is the subject that created it (its first version) and never changes; each
  version also records who uploaded it. Rows from before migration 0003 have no owner.
- ``add_version`` is one ``Database.transaction`` (read committed: the asset row's lock orders
  concurrent uploads), retried, bounded, on a deadlock or serialization failure; a retry calls
  ``authorize`` again on what it then reads, so ``authorize`` must only decide (raise or not).
- Needs aria_data's ``Database``: the one-statement reads and writes use its ``fetch*`` and
  ``execute`` (timed, a lost connection typed).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aria_actors.data.sql_files import queries
from aria_actors.storage.errors import AssetNotFound

if TYPE_CHECKING:
    import asyncpg

    from aria_actors.data.pool import Database

q = queries("aria_actors.storage", "repository")


@dataclass(slots=True)
class VersionInfo:
    name: str
    version: int
    size: int
    content_type: str
    metadata: dict[str, Any]
    tags: list[str]
    chunk_count: int
    created_at: dt.datetime
    owner: str | None = None  # the subject that uploaded this version
    index_data: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> VersionInfo:
        meta = row["metadata"]
        return cls(row["name"], row["version"], row["size"], row["content_type"],
                   json.loads(meta) if isinstance(meta, str) else dict(meta), list(row["tags"]),
                   row["chunk_count"], row["created_at"], row.get("owner"),
                   bytes(row["index_data"]) if "index_data" in row else None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "size": self.size,
                "content_type": self.content_type, "metadata": self.metadata, "tags": self.tags,
                "chunk_count": self.chunk_count, "created_at": self.created_at.isoformat(),
                "owner": self.owner}


class AssetRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_version(self, name: str, *, size: int, content_type: str, metadata: dict[str, Any],
                          tags: list[str], chunk_count: int, index_data: bytes, owner: str | None = None,
                          authorize: Callable[[str | None, bool], None] | None = None) -> VersionInfo:
        """Add the next version of ``name``, uploaded by ``owner`` (who owns the asset if it is new).

        ``authorize(asset_owner, created)`` runs inside the transaction, after the asset row is
        locked (``created``: this call creates the asset): it raises to refuse, and nothing is
        written. A check before the call cannot see an asset another caller creates at the same
        moment; this one can.
        """
        async def insert(conn: asyncpg.Connection) -> Any:
            head = await conn.fetchrow(q("next_version"), name, owner)
            if authorize is not None:
                # Numbers are never reused, so only the insert of a new asset row yields 1.
                authorize(head["owner"], head["latest"] == 1)
            return await conn.fetchrow(q("insert_version"), name, head["latest"], size, content_type,
                                       json.dumps(metadata), tags, chunk_count, index_data, owner)

        return VersionInfo.from_row(await self.db.transaction(insert))

    async def owner(self, name: str) -> str | None:
        """The owner of asset ``name`` (None: created before owners were recorded)."""
        row = await self.db.fetchrow(q("asset_owner"), name)
        if row is None:
            raise AssetNotFound(f"asset {name!r} not found", name=name)
        return row["owner"]

    async def version_owner(self, name: str, version: int) -> str | None:
        """Who uploaded version ``version`` of ``name`` (None: before uploaders were recorded)."""
        row = await self.db.fetchrow(q("version_owner"), name, version)
        if row is None:
            raise AssetNotFound(f"asset {name!r} version {version} not found", name=name,
                                version=version)
        return row["owner"]

    async def get(self, name: str, version: int | None = None) -> VersionInfo:
        if version is None:
            row = await self.db.fetchrow(q("get_latest"), name)
        else:
            row = await self.db.fetchrow(q("get_version"), name, version)
        if row is None:
            what = f"{name!r} version {version}" if version is not None else repr(name)
            raise AssetNotFound(f"asset {what} not found", name=name, version=version)
        return VersionInfo.from_row(row)

    async def versions(self, name: str) -> list[VersionInfo]:
        rows = await self.db.fetch(q("list_versions"), name)
        if not rows:
            raise AssetNotFound(f"asset {name!r} not found", name=name)
        return [VersionInfo.from_row(r) for r in rows]

    async def search(self, *, metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
                     name_prefix: str | None = None, content_type: str | None = None,
                     latest_only: bool = False, limit: int = 100) -> list[VersionInfo]:
        rows = await self.db.fetch(q("search"), json.dumps(metadata) if metadata else None,
                                     tags or None, name_prefix, content_type, latest_only, limit)
        return [VersionInfo.from_row(r) for r in rows]

    async def delete(self, name: str, version: int) -> None:
        if await self.db.fetchval(q("delete_version"), name, version) is None:
            raise AssetNotFound(f"asset {name!r} version {version} not found", name=name,
                                version=version)

    async def names(self) -> list[str]:
        return [r["name"] for r in await self.db.fetch(q("names"))]

    async def lifecycle_candidates(self, name: str, keep_last: int | None,
                                   older_than: dt.datetime | None) -> list[int]:
        rows = await self.db.fetch(q("lifecycle_candidates"), name, keep_last, older_than)
        return [r["version"] for r in rows]

    async def put_rule(self, name_prefix: str, keep_last: int | None,
                       older_than_s: float | None) -> None:
        await self.db.execute(q("put_rule"), name_prefix, keep_last, older_than_s)

    async def rules(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.db.fetch(q("rules"))]

    async def delete_rule(self, name_prefix: str) -> None:
        if await self.db.fetchval(q("delete_rule"), name_prefix) is None:
            raise AssetNotFound(f"no lifecycle rule for prefix {name_prefix!r}",
                                name_prefix=name_prefix)

    async def live_indexes(self) -> list[tuple[str, int, bytes]]:
        rows = await self.db.fetch(q("live_indexes"))
        return [(r["name"], r["version"], bytes(r["index_data"])) for r in rows]

    async def ping(self) -> int:
        return int(await self.db.fetchval(q("ping")))
