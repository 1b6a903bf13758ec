"""Store maintenance: garbage collection, verification, sync and statistics.

gc is mark and sweep::

    mark:  live = union of the chunk ids of every live index
    sweep: for each chunk in the store:
               referenced            -> keep
               younger than grace    -> keep (a put may be about to reference it)
               protected (in flight) -> keep (checked under the sweep lock, just before removal)
               otherwise             -> remove

Guarantees and caveats:
- Safe against a concurrent put in the same process when the put registers each chunk through
  :class:`InFlight` before storing it (the service does): registration and removal are mutually
  exclusive, so either gc sees the chunk protected, or the put's existence check runs after the
  removal and writes the chunk again.
- Across processes, the grace period protects new chunks, and local/SFTP stores refresh a
  reused chunk's mtime; S3 cannot, so run gc against S3 only through the service or with a grace
  period longer than any put.
- ``verify`` re-hashes every chunk; ``quarantine`` moves corrupt ones out of the store (into a
  local folder) so that routers stop serving them and ``sync`` can restore good copies.
- ``sync`` verifies each chunk before writing it: corruption is not copied.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aria_actors.storage import chunk as chunkmod
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing
from aria_actors.storage.index import Index
from aria_actors.storage.make import default_workers
from aria_actors.storage.store import PrunableStore, ReadStore, WriteStore


class InFlight:
    """Chunk ids that running puts are storing, shared by put and gc.

    A gc reads the live versions first and sweeps the store after. A put that commits its version
    and releases its chunks in between would leave them in neither the sweep's (stale) live set
    nor in flight: so while a sweep runs (:meth:`sweeping`), released ids stay protected until
    the last sweep ends.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._sweeps = 0
        self._held: set[str] = set()  # released during a sweep: protected until it ends

    def add(self, chunk_id: str) -> None:
        with self.lock:
            self._counts[chunk_id] = self._counts.get(chunk_id, 0) + 1

    def release(self, chunk_ids: Iterable[str]) -> None:
        with self.lock:
            for cid in chunk_ids:
                n = self._counts.get(cid, 0) - 1
                if n > 0:
                    self._counts[cid] = n
                else:
                    self._counts.pop(cid, None)
                    if self._sweeps:
                        self._held.add(cid)

    @contextlib.contextmanager
    def sweeping(self) -> Iterator[None]:
        """Around a gc, from before it reads the live versions until its sweep ends."""
        with self.lock:
            self._sweeps += 1
        try:
            yield
        finally:
            with self.lock:
                self._sweeps -= 1
                if not self._sweeps:
                    self._held.clear()

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._counts or chunk_id in self._held

    def __len__(self) -> int:
        return len(self._counts)


@dataclass(slots=True)
class GcReport:
    live: int = 0
    kept: int = 0
    young: int = 0
    protected: int = 0
    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    dry_run: bool = False


def gc(store: PrunableStore, live_indexes: Iterable[Index], *, grace_s: float = 3600.0,
       in_flight: InFlight | None = None, dry_run: bool = False, now: float | None = None) -> GcReport:
    live: set[str] = set()
    for index in live_indexes:
        live |= index.chunk_ids()
    report = GcReport(live=len(live), dry_run=dry_run)
    now = time.time() if now is None else now
    guard = in_flight.lock if in_flight is not None else threading.Lock()
    for info in store.iter_chunks():
        if info.id in live:
            report.kept += 1
            continue
        if now - info.mtime < grace_s:
            report.young += 1
            continue
        with guard:
            if in_flight is not None and info.id in in_flight:
                report.protected += 1
                continue
            if not dry_run:
                store.remove_chunk(info.id)
        report.removed.append(info.id)
        report.removed_bytes += info.size
    return report


@dataclass(slots=True)
class VerifyReport:
    checked: int = 0
    corrupt: dict[str, str] = field(default_factory=dict)  # id -> reason
    quarantined: list[str] = field(default_factory=list)


def verify(store: PrunableStore, *, quarantine: str | os.PathLike[str] | None = None,
           workers: int | None = None) -> VerifyReport:
    report = VerifyReport()

    def check(cid: str) -> tuple[str, str | None, bytes | None]:
        try:
            blob = store.get_compressed(cid)
        except ChunkMissing:
            return cid, None, None  # removed while we listed: not corruption
        try:
            chunkmod.verified(chunkmod.decompress(blob, cid), cid, str(store))
        except ChunkInvalid as exc:
            return cid, exc.message, blob
        return cid, None, None

    ids = [info.id for info in store.iter_chunks()]
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        for cid, reason, blob in pool.map(check, ids):
            report.checked += 1
            if reason is None:
                continue
            report.corrupt[cid] = reason
            if quarantine is not None and blob is not None:
                os.makedirs(quarantine, exist_ok=True)
                with open(os.path.join(quarantine, f"{cid}.cacnk"), "wb") as f:
                    f.write(blob)
                store.remove_chunk(cid)
                report.quarantined.append(cid)
    return report


@dataclass(slots=True)
class SyncReport:
    copied: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def sync(src: ReadStore, dst: WriteStore, chunk_ids: Iterable[str] | None = None, *,
         workers: int | None = None) -> SyncReport:
    """Copy the chunks ``dst`` lacks from ``src`` (all of ``src``'s chunks when no ids given)."""
    if chunk_ids is None:
        chunk_ids = [info.id for info in src.iter_chunks()]  # type: ignore[attr-defined]
    report = SyncReport()

    def copy(cid: str) -> str:
        if dst.has_chunk(cid):
            return "present"
        try:
            blob = src.get_compressed(cid)
            chunkmod.verified(chunkmod.decompress(blob, cid), cid, str(src))
        except ChunkMissing:
            return "missing"
        except ChunkInvalid:
            return "invalid"
        dst.store_chunk(cid, compressed=blob)
        return "copied"

    ids = sorted(set(chunk_ids))
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        for cid, outcome in zip(ids, pool.map(copy, ids), strict=True):
            if outcome == "copied":
                report.copied += 1
            elif outcome == "present":
                report.present += 1
            elif outcome == "missing":
                report.missing.append(cid)
            else:
                report.invalid.append(cid)
    return report


@dataclass(slots=True)
class Stats:
    indexes: int
    logical_bytes: int      # sum of the blobs' sizes
    unique_bytes: int       # uncompressed size of the distinct chunks they reference
    stored_bytes: int       # compressed bytes of every chunk in the store
    chunks: int             # chunks in the store
    referenced_chunks: int  # distinct chunks the indexes reference

    @property
    def dedupe_ratio(self) -> float:
        return self.logical_bytes / self.unique_bytes if self.unique_bytes else 1.0

    @property
    def compression_ratio(self) -> float:
        return self.unique_bytes / self.stored_bytes if self.stored_bytes else 1.0

    def to_dict(self) -> dict[str, float | int]:
        return {"indexes": self.indexes, "logical_bytes": self.logical_bytes,
                "unique_bytes": self.unique_bytes, "stored_bytes": self.stored_bytes,
                "chunks": self.chunks, "referenced_chunks": self.referenced_chunks,
                "dedupe_ratio": round(self.dedupe_ratio, 4),
                "compression_ratio": round(self.compression_ratio, 4)}


def stats(store: PrunableStore, indexes: Iterable[Index]) -> Stats:
    sizes: dict[bytes, int] = {}
    logical = count = 0
    for index in indexes:
        count += 1
        logical += index.length
        for c in index.chunks:
            sizes[c.id] = c.size
    stored = n = 0
    for info in store.iter_chunks():
        stored += info.size
        n += 1
    return Stats(count, logical, sum(sizes.values()), stored, n, len(sizes))
