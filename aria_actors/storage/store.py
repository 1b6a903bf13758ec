"""The store contract: read stores, write stores, prunable stores, and a base for blob stores.

Stores hold compressed chunks under ``<first 4 hex>/<id>.cacnk``. Every backend implements the
few raw operations of :class:`BlobStore`; verification and compression live here, once.

Guarantees and caveats:
- ``get_chunk`` returns bytes that hash to the requested id, or raises :class:`ChunkMissing` /
  :class:`ChunkInvalid`; composed stores route on those two types.
- ``store_chunk`` is idempotent and atomic on every writable backend (temp name, then rename on
  file systems; a single PUT on S3): a reader never sees half a chunk.
- On a dedupe hit, backends that can refresh a chunk's modification time cheaply do (local,
  SFTP), so that garbage collection's grace period protects chunks a concurrent put reuses; S3
  cannot, and relies on the service's in-flight set (see ``maintenance.gc``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aria_actors.storage import chunk as chunkmod
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing, StoreReadOnly

SUFFIX = ".cacnk"


def chunk_path(chunk_id: str) -> str:
    return f"{chunk_id[:4]}/{chunk_id}{SUFFIX}"


def is_chunk_id(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    id: str
    size: int  # stored (compressed) bytes
    mtime: float


@runtime_checkable
class ReadStore(Protocol):
    """Where chunks are read from."""

    def get_chunk(self, chunk_id: str) -> bytes: ...

    def get_compressed(self, chunk_id: str) -> bytes: ...

    def has_chunk(self, chunk_id: str) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class WriteStore(ReadStore, Protocol):
    """A store chunks can also be written to."""

    def store_chunk(self, chunk_id: str, data: bytes | None = None, *,
                    compressed: bytes | None = None) -> bool: ...

    def flush(self) -> None: ...


@runtime_checkable
class PrunableStore(WriteStore, Protocol):
    """A store that can be listed and pruned (gc, verify, stats)."""

    def iter_chunks(self) -> Iterator[ChunkInfo]: ...

    def remove_chunk(self, chunk_id: str) -> None: ...


class BlobStore(abc.ABC):
    """Base of the backends: raw blob I/O below, chunk semantics here."""

    url: str = ""
    writable: bool = True
    level: int = chunkmod.DEFAULT_LEVEL

    def __str__(self) -> str:
        return self.url

    # raw operations each backend provides ------------------------------------------------
    @abc.abstractmethod
    def _read(self, rel: str) -> bytes | None:
        """The blob at ``rel``, or None when it does not exist."""

    @abc.abstractmethod
    def _exists(self, rel: str) -> bool: ...

    def _write(self, rel: str, blob: bytes) -> None:
        raise StoreReadOnly(f"{self.url} is read-only", store=self.url)

    def _touch(self, rel: str) -> None:
        """Refresh the blob's mtime if the backend can do so cheaply."""

    def flush(self) -> None:
        """Make every blob written so far durable. Object stores (S3) acknowledge a write once it
        is durable, so by default there is nothing to do; a local store syncs its file system."""

    def _list(self) -> Iterator[ChunkInfo]:
        raise StoreReadOnly(f"{self.url} cannot be listed", store=self.url)

    def _remove(self, rel: str) -> None:
        raise StoreReadOnly(f"{self.url} is read-only", store=self.url)

    # the store contract --------------------------------------------------------------------
    def get_compressed(self, chunk_id: str) -> bytes:
        blob = self._read(chunk_path(chunk_id))
        if blob is None:
            raise ChunkMissing(f"chunk {chunk_id} not found in {self.url}", chunk_id=chunk_id,
                               store=self.url)
        return blob

    def get_chunk(self, chunk_id: str) -> bytes:
        blob = self.get_compressed(chunk_id)
        try:
            data = chunkmod.decompress(blob, chunk_id)
        except ChunkInvalid as exc:
            raise ChunkInvalid(f"chunk {chunk_id} in {self.url}: {exc.message}", chunk_id=chunk_id,
                               store=self.url) from exc
        return chunkmod.verified(data, chunk_id, self.url)

    def has_chunk(self, chunk_id: str) -> bool:
        return self._exists(chunk_path(chunk_id))

    def store_chunk(self, chunk_id: str, data: bytes | None = None, *,
                    compressed: bytes | None = None) -> bool:
        """Store one chunk unless present; True when it was written."""
        rel = chunk_path(chunk_id)
        if self._exists(rel):
            self._touch(rel)
            return False
        if compressed is None:
            if data is None:
                raise ValueError("store_chunk needs data or compressed")
            compressed = chunkmod.compress(data, self.level)
        self._write(rel, compressed)
        return True

    def iter_chunks(self) -> Iterator[ChunkInfo]:
        return self._list()

    def remove_chunk(self, chunk_id: str) -> None:
        self._remove(chunk_path(chunk_id))

    def close(self) -> None:
        """Nothing to release by default."""
