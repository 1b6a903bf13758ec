"""Chunk ids, compression and verification (the ``.cacnk`` format: one zstd frame per chunk).

Guarantees and caveats:
- Ids are SHA512/256 of the uncompressed bytes, as in casync and desync.
- hashlib and zstandard release the GIL on large buffers, so these functions scale across
  threads; each thread keeps its own zstd contexts (they are not thread-safe).
- Frames without a content size (what casync writes) decompress fine.
"""

from __future__ import annotations

import hashlib
import threading

import zstandard

from aria_actors.storage.errors import ChunkInvalid

_local = threading.local()
DEFAULT_LEVEL = 3


def chunk_id(data: bytes | memoryview) -> bytes:
    return hashlib.new("sha512_256", data).digest()


def _cctx(level: int) -> zstandard.ZstdCompressor:
    cache = getattr(_local, "cctx", None)
    if cache is None:
        cache = _local.cctx = {}
    ctx = cache.get(level)
    if ctx is None:
        ctx = cache[level] = zstandard.ZstdCompressor(level=level)
    return ctx


def compress(data: bytes | memoryview, level: int = DEFAULT_LEVEL) -> bytes:
    return _cctx(level).compress(data)


def decompress(blob: bytes, chunk: str = "?") -> bytes:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    try:
        obj = dctx.decompressobj()
        out = obj.decompress(blob)
        if not obj.eof:
            raise zstandard.ZstdError("truncated zstd frame")
        return out
    except zstandard.ZstdError as exc:
        raise ChunkInvalid(f"chunk {chunk} is not a valid zstd frame: {exc}", chunk_id=chunk) from exc


def verified(data: bytes, expected: str, store: str = "") -> bytes:
    """``data`` if it hashes to ``expected``, else :class:`ChunkInvalid` naming the chunk."""
    actual = chunk_id(data).hex()
    if actual != expected:
        raise ChunkInvalid(
            f"chunk {expected} in {store or 'store'} hashes to {actual}: corrupt or tampered",
            chunk_id=expected, actual=actual, store=store)
    return data
