"""Making an index: chunk a stream, hash and compress chunks on a thread pool, store them.

Pipeline::

    reader thread: read 8 MiB -> native cut (GIL released) -> chunks in order
          |  submit batches of ~1 MiB (bounded: at most `2 * workers + 1` in flight)
          v
    pool threads: sha512/256 (GIL released) -> exists? -> zstd (GIL released) -> atomic write
          |  results collected in submission order
          v
    Index(chunks in order)

Guarantees and caveats:
- Streaming: memory is the read buffers still referenced by in-flight batches (at most
  ``2 * workers + 1`` batches of ~1 MiB, each pinning its 8 MiB read buffer), whatever the
  input size (a 2 GiB file stays well under 300 MB RSS).
- Chunks are written before the index that names them exists, so a reader that finds an index
  finds its chunks (unless gc removed them; see ``maintenance.gc``).
- ``on_chunk`` (optional) is called with each chunk id before it is stored, so the service can
  protect in-flight chunks from a concurrent gc.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from aria_actors.storage import chunk as chunkmod
from aria_actors.storage.chunker import ChunkerParams, iter_chunks
from aria_actors.storage.index import DEFAULT_FLAGS, Index, IndexChunk
from aria_actors.storage.store import WriteStore


@dataclass(slots=True)
class MakeStats:
    chunks: int = 0
    bytes: int = 0
    stored_chunks: int = 0  # newly written (the others were already in the store)


BATCH_BYTES = 1 << 20


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def make_index(source: str | os.PathLike[str] | BinaryIO, store: WriteStore | None = None,
               params: ChunkerParams | None = None, *, workers: int | None = None,
               on_chunk: Callable[[str], None] | None = None,
               stats: MakeStats | None = None) -> Index:
    """Chunk ``source`` (a path or a binary stream) into ``store``; return its index."""
    params = params or ChunkerParams()
    stats = stats if stats is not None else MakeStats()
    workers = workers or default_workers()

    def work(batch: list[tuple[int, memoryview]]) -> list[tuple[IndexChunk, bool]]:
        out = []
        for start, data in batch:
            digest = chunkmod.chunk_id(data)
            written = False
            if store is not None:
                hexid = digest.hex()
                if on_chunk is not None:
                    on_chunk(hexid)
                written = store.store_chunk(hexid, data)
            out.append((IndexChunk(start, len(data), digest), written))
        return out

    chunks: list[IndexChunk] = []
    pending: deque[Future[list[tuple[IndexChunk, bool]]]] = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            for item, written in pending.popleft().result():
                chunks.append(item)
                stats.chunks += 1
                stats.bytes += item.size
                stats.stored_chunks += written

    own = not hasattr(source, "read")
    stream: BinaryIO = open(source, "rb", buffering=0) if own else source  # type: ignore[arg-type]  # noqa: SIM115
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="aria-make") as pool:
            try:
                # Chunks go to the pool in batches of about BATCH_BYTES: one future per chunk
                # costs more in GIL hand-offs than hashing a small chunk does.
                batch: list[tuple[int, memoryview]] = []
                size = 0
                for start, data in iter_chunks(stream, params):
                    batch.append((start, data))
                    size += len(data)
                    if size >= BATCH_BYTES:
                        pending.append(pool.submit(work, batch))
                        batch, size = [], 0
                        drain(workers * 2)
                if batch:
                    pending.append(pool.submit(work, batch))
                drain(0)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        if own:
            stream.close()
    return Index(params.min, params.avg, params.max, DEFAULT_FLAGS, chunks)
