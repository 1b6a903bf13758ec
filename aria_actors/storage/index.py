"""The casync/desync index format (``.caibx`` for blobs, ``.caidx`` for catar archives).

Layout (all integers little-endian u64)::

    FormatIndex   size=48 | type=CA_FORMAT_INDEX | feature_flags | min | avg | max
    FormatTable   size=MAX_U64 | type=CA_FORMAT_TABLE
                  n x (end offset of the chunk | 32-byte chunk id)
    table tail    0 | 0 | index_offset=48 | table_size=16+40n+40 | CA_FORMAT_TABLE_TAIL_MARKER

Guarantees and caveats:
- :func:`encode` of a decoded index gives the same bytes back (feature flags are kept as read).
- :func:`decode` checks every field it can (types, sizes, monotonic offsets, tail marker) and
  raises :class:`IndexInvalid` naming the byte offset; a tampered chunk id in the table cannot be
  seen here, only when the chunk is fetched (its content will not match the id).
- A ``.caidx`` decodes the same way; extracting it yields the catar stream, not a directory tree.
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass, field

from aria_actors.storage.errors import IndexInvalid

CA_FORMAT_INDEX = 0x96824D9C7B129FF9
CA_FORMAT_TABLE = 0xE75B9E112F17417D
CA_FORMAT_TABLE_TAIL_MARKER = 0x4B4F050E5549ECD1
CA_FORMAT_SHA512_256 = 0x2000000000000000
CA_FORMAT_EXCLUDE_NO_DUMP = 0x8000000000000000
DEFAULT_FLAGS = CA_FORMAT_SHA512_256 | CA_FORMAT_EXCLUDE_NO_DUMP  # what desync writes for blobs
MAX_U64 = 0xFFFFFFFFFFFFFFFF
_HEADER = struct.Struct("<6Q")
_ITEM = struct.Struct("<Q32s")
_TAIL = struct.Struct("<5Q")


@dataclass(frozen=True, slots=True)
class IndexChunk:
    """One chunk of an index: where it starts in the blob, its size and its id."""

    start: int
    size: int
    id: bytes

    @property
    def hex(self) -> str:
        return self.id.hex()

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(slots=True)
class Index:
    """A decoded index: chunker parameters, feature flags and the chunk table."""

    min: int
    avg: int
    max: int
    feature_flags: int = DEFAULT_FLAGS
    chunks: list[IndexChunk] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.chunks[-1].end if self.chunks else 0

    def chunk_ids(self) -> set[str]:
        return {c.hex for c in self.chunks}


def encode(index: Index) -> bytes:
    parts = [_HEADER.pack(48, CA_FORMAT_INDEX, index.feature_flags, index.min, index.avg, index.max),
             struct.pack("<QQ", MAX_U64, CA_FORMAT_TABLE)]
    parts.extend(_ITEM.pack(c.end, c.id) for c in index.chunks)
    table_size = 16 + 40 * len(index.chunks) + 40
    parts.append(_TAIL.pack(0, 0, 48, table_size, CA_FORMAT_TABLE_TAIL_MARKER))
    return b"".join(parts)


def decode(data: bytes, name: str = "<index>") -> Index:
    def bad(msg: str, offset: int) -> IndexInvalid:
        return IndexInvalid(f"{name}: {msg} at byte {offset}", index=name, offset=offset)

    if len(data) < 48 + 16 + 40:
        raise bad(f"index truncated ({len(data)} bytes, need at least 104)", len(data))
    size, typ, flags, lo, avg, hi = _HEADER.unpack_from(data, 0)
    if size != 48 or typ != CA_FORMAT_INDEX:
        raise bad("not a casync index (bad header size or type)", 0)
    if not (0 < lo <= avg <= hi):
        raise bad(f"invalid chunk sizes {lo}/{avg}/{hi}", 24)
    if flags & CA_FORMAT_SHA512_256 == 0:
        raise bad("index uses SHA256 ids; only SHA512/256 is supported", 16)
    tsize, ttype = struct.unpack_from("<QQ", data, 48)
    if tsize != MAX_U64 or ttype != CA_FORMAT_TABLE:
        raise bad("chunk table header missing", 48)
    body = len(data) - 64 - 40
    if body % 40:
        raise bad("index truncated or padded: table is not a whole number of entries", len(data))
    zero1, zero2, off, table_size, marker = _TAIL.unpack_from(data, len(data) - 40)
    if zero1 or zero2 or off != 48 or marker != CA_FORMAT_TABLE_TAIL_MARKER:
        raise bad("table tail missing or damaged (truncated index?)", len(data) - 40)
    n = body // 40
    if table_size != 16 + 40 * n + 40:
        raise bad(f"table size field {table_size} does not match {n} entries", len(data) - 16)
    chunks: list[IndexChunk] = []
    start = 0
    for i in range(n):
        pos = 64 + 40 * i
        end, cid = _ITEM.unpack_from(data, pos)
        if end <= start:
            raise bad(f"chunk {i} ends at {end}, not after its start {start}", pos)
        if end - start > hi:
            raise bad(f"chunk {i} is {end - start} bytes, over the index's max {hi}", pos)
        chunks.append(IndexChunk(start, end - start, cid))
        start = end
    return Index(lo, avg, hi, flags, chunks)


def read_index(path: str | os.PathLike[str]) -> Index:
    with open(path, "rb") as f:
        return decode(f.read(), os.fspath(path))


def write_index(path: str | os.PathLike[str], index: Index) -> None:
    """Write atomically: a reader sees the old index or the new one, never half of one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".caibx", dir=directory)
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; indexes are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(encode(index))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
