"""Content-defined chunking, byte-compatible with casync and desync.

The boundary search runs in C (``native/chunker.c``, built through cffi at install time as
``aria_actors.storage._chunker``); the C call releases the GIL. If the extension is missing, a
pure-Python version of the same algorithm runs instead, with a warning, and
:data:`NATIVE` is ``False`` so that the service's health reports it.

Guarantees and caveats:
- Same chunks (start, size) as desync's ``Chunker`` for the same min/avg/max; the hash restarts
  at each chunk start, so a chunk's size depends only on the bytes from its start.
- :func:`iter_chunks` streams: it holds at most one read buffer plus one max-size tail.
- The Python fallback is about two orders of magnitude slower; it exists for correctness only.
"""

from __future__ import annotations

import io
import logging
import pathlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from aria_actors.storage.errors import InvalidChunkerParams

WINDOW = 48
MIN_DEFAULT, AVG_DEFAULT, MAX_DEFAULT = 16 * 1024, 64 * 1024, 256 * 1024
log = logging.getLogger("aria.storage.chunker")

try:
    from aria_actors.storage._chunker import ffi as _ffi
    from aria_actors.storage._chunker import lib as _lib

    NATIVE = True
    NATIVE_ERROR = ""
except ImportError as exc:  # pragma: no cover - exercised only when the build failed
    _ffi = _lib = None
    NATIVE = False
    NATIVE_ERROR = f"native chunker not built ({exc}); using the slow Python fallback"
    warnings.warn(NATIVE_ERROR, RuntimeWarning, stacklevel=2)
    log.warning(NATIVE_ERROR)


@dataclass(frozen=True, slots=True)
class ChunkerParams:
    """min/avg/max chunk sizes; the discriminator follows casync's formula."""

    min: int = MIN_DEFAULT
    avg: int = AVG_DEFAULT
    max: int = MAX_DEFAULT

    def __post_init__(self) -> None:
        if not WINDOW <= self.min <= self.avg <= self.max:
            raise InvalidChunkerParams(
                f"chunk sizes must satisfy {WINDOW} <= min <= avg <= max, got "
                f"{self.min}/{self.avg}/{self.max}", min=self.min, avg=self.avg, max=self.max)

    @property
    def discriminator(self) -> int:
        return discriminator(self.avg)


def discriminator(avg: int) -> int:
    return int(avg / (-1.42888852e-7 * avg + 1.33237515)) & 0xFFFFFFFF


def _py_table() -> list[int]:
    # Read from the C source so that the table exists in one place only.
    here = pathlib.Path(__file__).resolve()
    for root in (here.parents[2] / "native", here.parent):
        src = root / "chunker.c"
        if src.is_file():
            text = src.read_text().split("TABLE[256] = {", 1)[1].split("};", 1)[0]
            return [int(v, 16) for v in re.findall(r"0x[0-9a-fA-F]+", text)]
    raise RuntimeError("chunker.c not found: neither the native chunker nor its table is available")


_TABLE: list[int] | None = None


def _rotl(x: int, k: int) -> int:
    k &= 31
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF if k else x


def _py_next(buf: memoryview, params: ChunkerParams, eof: bool) -> int:
    global _TABLE
    if _TABLE is None:
        _TABLE = _py_table()
    table, n = _TABLE, min(len(buf), params.max)
    if len(buf) < params.max and not eof:
        return 0
    lo = params.min
    if n <= lo:
        return n
    h = 0
    for i in range(WINDOW):
        h ^= _rotl(table[buf[lo - WINDOW + i]], WINDOW - i - 1)
    disc = params.discriminator
    target = disc - 1
    if h % disc == target:  # a boundary exactly at min, as casync tests it
        return lo
    pos = lo
    while pos < n:
        h = (_rotl(h, 1) ^ _rotl(table[buf[pos - WINDOW]], WINDOW) ^ table[buf[pos]])
        pos += 1
        if pos >= n or h % disc == target:
            return pos
    return n


def cut(buf: bytes | bytearray | memoryview, params: ChunkerParams, eof: bool) -> list[int]:
    """End offsets (relative to ``buf``) of every whole chunk ``buf`` holds from its start."""
    if NATIVE:
        cap = len(buf) // max(params.min, 1) + 2
        ends = _ffi.new("uint64_t[]", cap)
        src = _ffi.from_buffer(buf)
        count = _lib.aria_chunker_cut(src, len(buf), params.min, params.max,
                                      params.discriminator, int(eof), ends, cap)
        return list(_ffi.unpack(ends, count))
    view, out, off = memoryview(buf), [], 0
    while off < len(view):
        size = _py_next(view[off:], params, eof)
        if size == 0:
            break
        off += size
        out.append(off)
    return out


def iter_chunks(stream: BinaryIO, params: ChunkerParams | None = None,
                read_size: int = 8 * 1024 * 1024) -> Iterator[tuple[int, memoryview]]:
    """Yield ``(start, data)`` for each chunk of ``stream``, reading ``read_size`` at a time.

    ``data`` is a read-only view into a buffer that is never reused, so it stays valid after the
    iterator moves on (a worker thread may still be hashing it); copy it only if you keep it.
    """
    params = params or ChunkerParams()
    read_size = max(read_size, params.max)
    tail = b""
    start = 0
    while True:
        # A fresh buffer per read: views handed out earlier must not see new bytes.
        buf = bytearray(len(tail) + read_size)
        buf[: len(tail)] = tail
        view = memoryview(buf)
        filled = len(tail)
        while filled < len(buf):
            got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
            if not got:
                break
            filled += got
        eof = filled < len(buf)
        if filled == 0:
            return
        data = view[:filled].toreadonly()
        ends = cut(data, params, eof)
        prev = 0
        for end in ends:
            yield start + prev, data[prev:end]
            prev = end
        start += prev
        tail = bytes(data[prev:])
        if eof:
            return


def chunk_bytes(data: bytes, params: ChunkerParams | None = None) -> list[tuple[int, bytes]]:
    """All chunks of an in-memory buffer (for tests and small assets)."""
    return [(start, bytes(view)) for start, view in iter_chunks(io.BytesIO(data), params)]
