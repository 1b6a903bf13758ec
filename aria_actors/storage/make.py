"""Making an index: chunk a stream, hash and compress chunks on a thread pool, store them.

Pipeline::

    reader thread: read 8 MiB -> native cut (GIL released) -> chunks in order
          |  submit (bounded: at most `workers * 4` chunks in flight)
          v
    pool threads: sha512/256 (GIL released) -> exists? -> zstd (GIL released) -> atomic write
          |  results collected in submission order
          v
    Index(chunks in order)

Guarantees and caveats:
- Streaming: memory is one read buffer, one max-size tail and the in-flight chunks, whatever the
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

    def work(start: int, data: bytes) -> tuple[IndexChunk, bool]:
        digest = chunkmod.chunk_id(data)
        written = False
        if store is not None:
            hexid = digest.hex()
            if on_chunk is not None:
                on_chunk(hexid)
            written = store.store_chunk(hexid, data)
        return IndexChunk(start, len(data), digest), written

    chunks: list[IndexChunk] = []
    pending: deque[Future[tuple[IndexChunk, bool]]] = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            item, written = pending.popleft().result()
            chunks.append(item)
            stats.chunks += 1
            stats.bytes += item.size
            stats.stored_chunks += written

    own = not hasattr(source, "read")
    stream: BinaryIO = open(source, "rb", buffering=0) if own else source  # type: ignore[arg-type]  # noqa: SIM115
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="aria-make") as pool:
            try:
                for start, data in iter_chunks(stream, params):
                    pending.append(pool.submit(work, start, data))
                    drain(workers * 4)
                drain(0)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        if own:
            stream.close()
    return Index(params.min, params.avg, params.max, DEFAULT_FLAGS, chunks)
