"""Extracting a blob from an index: chunks from seeds first, then from the store.

Guarantees and caveats:
- Nothing partial at the output path: the blob is assembled in a temporary file next to it and
  renamed over it only when every chunk was written and verified. On any error the temporary
  file is removed and the output path is as it was.
- Every chunk is verified against its id, whether it came from a seed or a store.
- Seeds are chunked with the index's own min/avg/max, so a seed that shares content with the
  blob shares chunk ids; chunks found in a seed are not fetched.
- A missing chunk raises :class:`ChunkMissing` naming the chunk id and its offset in the blob.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aria_actors.storage import chunk as chunkmod
from aria_actors.storage.atomic import publish_on_success
from aria_actors.storage.chunker import ChunkerParams, iter_chunks
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing
from aria_actors.storage.index import Index, IndexChunk
from aria_actors.storage.make import default_workers
from aria_actors.storage.store import ReadStore


@dataclass(slots=True)
class ExtractStats:
    chunks: int = 0
    bytes: int = 0
    from_seed: int = 0
    from_store: int = 0


def _seed_map(seeds: Iterable[str | os.PathLike[str]], index: Index,
              wanted: set[bytes]) -> dict[bytes, tuple[str, int, int]]:
    params = ChunkerParams(index.min, index.avg, index.max)
    found: dict[bytes, tuple[str, int, int]] = {}
    for seed in seeds:
        path = os.fspath(seed)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            for start, data in iter_chunks(f, params):
                digest = chunkmod.chunk_id(data)
                if digest in wanted and digest not in found:
                    found[digest] = (path, start, len(data))
    return found


def extract(index: Index, store: ReadStore, out: str | os.PathLike[str], *,
            seeds: Iterable[str | os.PathLike[str]] = (), workers: int | None = None) -> ExtractStats:
    out = os.fspath(out)
    stats = ExtractStats()
    seed_map = _seed_map(seeds, index, {c.id for c in index.chunks}) if seeds else {}
    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)

    def fetch(item: IndexChunk) -> bool:
        hexid = item.hex
        data: bytes | None = None
        seeded = item.id in seed_map
        if seeded:
            path, start, size = seed_map[item.id]
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read(size)
            if chunkmod.chunk_id(data) != item.id:  # the seed changed under us: use the store
                data, seeded = None, False
        if data is None:
            try:
                data = store.get_chunk(hexid)
            except ChunkMissing as exc:
                raise ChunkMissing(
                    f"chunk {hexid} (blob offset {item.start}, {item.size} bytes) is missing from "
                    f"{store}", chunk_id=hexid, offset=item.start, store=str(store)) from exc
            except ChunkInvalid as exc:
                raise ChunkInvalid(
                    f"chunk {hexid} (blob offset {item.start}) is invalid: {exc.message}",
                    chunk_id=hexid, offset=item.start, store=str(store)) from exc
        if len(data) != item.size:
            raise ChunkInvalid(f"chunk {hexid} is {len(data)} bytes, the index says {item.size}",
                               chunk_id=hexid, offset=item.start)
        os.pwrite(fd, data, item.start)
        return seeded

    with publish_on_success(fd, tmp, out, fsync=True):
        os.fchmod(fd, 0o644)  # what a plain open() would give under the usual umask, not 0600
        os.ftruncate(fd, index.length)
        with ThreadPoolExecutor(workers or default_workers(), thread_name_prefix="aria-extract") as pool:
            # map() keeps at most the pool's queue of results; each result is one bool.
            for seeded in pool.map(fetch, index.chunks):
                stats.chunks += 1
                stats.from_seed += seeded
                stats.from_store += not seeded
        stats.bytes = index.length
    return stats


def read_blob(index: Index, store: ReadStore, *, workers: int | None = None) -> bytes:
    """The whole blob in memory (for small assets and tests)."""
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        parts = list(pool.map(lambda c: chunkmod.verified(store.get_chunk(c.hex), c.hex, str(store)),
                              index.chunks))
    return b"".join(parts)
