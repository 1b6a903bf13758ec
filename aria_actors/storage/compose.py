"""Stores made of stores: a cache in front of a remote store, and a router over several.

Guarantees and caveats:
- :class:`RouterStore` asks each store in order; :class:`ChunkMissing` moves to the next store,
  :class:`ChunkInvalid` (and any other error) stops the search: a corrupt copy is a fault to fix,
  not something another store should paper over.
- :class:`CacheStore` serves from the local cache, fetches misses from the remote store, verifies
  them and keeps them; writes go to the remote store first, then the cache, so a chunk in the
  cache is always in the remote store too. Its chunk reads are counted as a cache's hits and
  misses (runtime/caches.py) when given ``stats``; ``get_compressed`` (sync's copies) is not.
- :class:`ObservedStore` counts a store's chunk reads as a cache's misses where there is no cache
  (every read goes to the store), so the curve says what a chunk cache would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aria_actors.runtime.caches import CacheStats
from aria_actors.storage import chunk as chunkmod
from aria_actors.storage.errors import ChunkMissing, StoreReadOnly
from aria_actors.storage.store import ReadStore, WriteStore


class RouterStore:
    def __init__(self, stores: Sequence[ReadStore]) -> None:
        if not stores:
            raise ValueError("a router needs at least one store")
        self.stores = list(stores)
        self.url = "router(" + ", ".join(str(s) for s in self.stores) + ")"

    def __str__(self) -> str:
        return self.url

    def get_chunk(self, chunk_id: str) -> bytes:
        for store in self.stores:
            try:
                return store.get_chunk(chunk_id)
            except ChunkMissing:
                continue
        raise ChunkMissing(f"chunk {chunk_id} is in none of {self.url}", chunk_id=chunk_id,
                           store=self.url)

    def get_compressed(self, chunk_id: str) -> bytes:
        for store in self.stores:
            try:
                return store.get_compressed(chunk_id)
            except ChunkMissing:
                continue
        raise ChunkMissing(f"chunk {chunk_id} is in none of {self.url}", chunk_id=chunk_id,
                           store=self.url)

    def has_chunk(self, chunk_id: str) -> bool:
        return any(s.has_chunk(chunk_id) for s in self.stores)

    def close(self) -> None:
        for s in self.stores:
            s.close()


class CacheStore:
    def __init__(self, cache: WriteStore, remote: ReadStore, stats: CacheStats | None = None) -> None:
        self.cache = cache
        self.remote = remote
        self.url = f"cache({cache} -> {remote})"
        self.stats = stats  # the chunk reads' hits and misses (runtime/caches.py; aria_tune reads them)

    def __str__(self) -> str:
        return self.url

    def get_chunk(self, chunk_id: str) -> bytes:
        try:
            data = self.cache.get_chunk(chunk_id)
        except ChunkMissing:
            pass
        else:
            if self.stats is not None:
                self.stats.hit(chunk_id)
            return data
        if self.stats is not None:
            self.stats.miss(chunk_id)
        blob = self.remote.get_compressed(chunk_id)
        data = chunkmod.verified(chunkmod.decompress(blob, chunk_id), chunk_id, str(self.remote))
        self.cache.store_chunk(chunk_id, compressed=blob)
        return data

    def get_compressed(self, chunk_id: str) -> bytes:
        try:
            return self.cache.get_compressed(chunk_id)
        except ChunkMissing:
            return self.remote.get_compressed(chunk_id)

    def has_chunk(self, chunk_id: str) -> bool:
        return self.cache.has_chunk(chunk_id) or self.remote.has_chunk(chunk_id)

    def store_chunk(self, chunk_id: str, data: bytes | None = None, *,
                    compressed: bytes | None = None) -> bool:
        if not isinstance(self.remote, WriteStore):
            raise StoreReadOnly(f"{self.remote} is read-only", store=str(self.remote))
        if compressed is None:
            if data is None:
                raise ValueError("store_chunk needs data or compressed")
            compressed = chunkmod.compress(data)
        written = self.remote.store_chunk(chunk_id, compressed=compressed)
        self.cache.store_chunk(chunk_id, compressed=compressed)
        return written

    def flush(self) -> None:
        self.remote.flush()  # type: ignore[union-attr]  (store_chunk checked it is a WriteStore)

    def close(self) -> None:
        self.cache.close()
        self.remote.close()


class ObservedStore:
    """``store`` with its chunk reads recorded as misses of ``stats``: no cache in front of it."""

    def __init__(self, store: ReadStore, stats: CacheStats) -> None:
        self.store = store
        self.stats = stats
        self.url = str(store)

    def __str__(self) -> str:
        return self.url

    def get_chunk(self, chunk_id: str) -> bytes:
        self.stats.miss(chunk_id)
        return self.store.get_chunk(chunk_id)

    def __getattr__(self, name: str) -> Any:  # the rest of the store's surface, unchanged
        return getattr(self.store, name)
