from __future__ import annotations

import io
import os
import threading
import time

import pytest

from aria_actors.storage.backends.local import LocalStore
from aria_actors.storage.chunk import compress
from aria_actors.storage.compose import CacheStore, RouterStore
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing
from aria_actors.storage.maintenance import InFlight, gc, stats, sync, verify
from aria_actors.storage.make import make_index
from aria_actors.storage.store import chunk_path


def _age(store: LocalStore, seconds: float) -> None:
    past = time.time() - seconds
    for info in store.iter_chunks():
        os.utime(os.path.join(store.root, chunk_path(info.id)), (past, past))


def test_gc_sweeps_only_old_unreferenced(tmp_path, structured_blob, random_blob):
    store = LocalStore(tmp_path)
    keep = make_index(io.BytesIO(structured_blob), store)
    drop = make_index(io.BytesIO(random_blob), store)
    report = gc(store, [keep], grace_s=60)
    assert report.removed == [] and report.young == len(drop.chunk_ids())
    _age(store, 120)
    dry = gc(store, [keep], grace_s=60, dry_run=True)
    assert set(dry.removed) == drop.chunk_ids() and all(store.has_chunk(c) for c in dry.removed)
    report = gc(store, [keep], grace_s=60)
    assert set(report.removed) == drop.chunk_ids()
    assert {i.id for i in store.iter_chunks()} == keep.chunk_ids()
    assert report.removed_bytes > 0 and report.kept == len(keep.chunk_ids())


def test_gc_keeps_in_flight_and_reused_chunks(tmp_path, random_blob):
    store = LocalStore(tmp_path)
    old = make_index(io.BytesIO(random_blob), store)
    _age(store, 120)
    flight = InFlight()
    ids = sorted(old.chunk_ids())
    flight.add(ids[0])
    # A second put reuses chunk ids[1]: the dedupe hit refreshes its mtime.
    store.store_chunk(ids[1], compressed=b"unused: already present")
    report = gc(store, [], grace_s=60, in_flight=flight)
    assert report.protected == 1 and report.young == 1
    assert store.has_chunk(ids[0]) and store.has_chunk(ids[1])
    assert not any(store.has_chunk(c) for c in ids[2:])
    flight.release([ids[0]])
    assert ids[0] not in flight and len(flight) == 0


def test_gc_concurrent_with_put_never_loses_a_referenced_chunk(tmp_path, random_blob):
    """A put racing a gc over the same old chunks ends with every chunk of its index present."""
    store = LocalStore(tmp_path)
    make_index(io.BytesIO(random_blob), store)
    _age(store, 3600)
    flight = InFlight()
    for _ in range(5):
        result: dict = {}

        def do_put(out: dict = result) -> None:
            out["index"] = make_index(io.BytesIO(random_blob), store, on_chunk=flight.add)

        put = threading.Thread(target=do_put)
        put.start()
        gc(store, [], grace_s=0.0, in_flight=flight, now=time.time() + 10)
        put.join()
        index = result["index"]
        missing = [c.hex for c in index.chunks if not store.has_chunk(c.hex)]
        assert missing == []
        flight.release(c.hex for c in index.chunks)
        _age(store, 3600)


def test_verify_and_quarantine(tmp_path, structured_blob):
    store = LocalStore(tmp_path / "s")
    index = make_index(io.BytesIO(structured_blob), store)
    bad = index.chunks[1].hex
    (tmp_path / "s" / chunk_path(bad)).write_bytes(compress(b"tampered"))
    report = verify(store)
    assert report.checked == len(index.chunk_ids()) and list(report.corrupt) == [bad]
    assert store.has_chunk(bad)
    report = verify(store, quarantine=tmp_path / "q")
    assert report.quarantined == [bad] and not store.has_chunk(bad)
    assert (tmp_path / "q" / f"{bad}.cacnk").is_file()
    assert verify(store).corrupt == {}


def test_sync_copies_missing_and_skips_corrupt(tmp_path, structured_blob):
    src = LocalStore(tmp_path / "a")
    dst = LocalStore(tmp_path / "b")
    index = make_index(io.BytesIO(structured_blob), src)
    ids = sorted(index.chunk_ids())
    dst.store_chunk(ids[0], compressed=src.get_compressed(ids[0]))
    (tmp_path / "a" / chunk_path(ids[1])).write_bytes(compress(b"bad"))
    report = sync(src, dst, [*ids, "00" * 32])
    assert report.present == 1 and report.invalid == [ids[1]] and report.missing == ["00" * 32]
    assert report.copied == len(ids) - 2
    assert not dst.has_chunk(ids[1])
    assert sync(src, dst).copied == 0  # everything else is there now


def test_stats_and_dedupe_of_shifted_copy(tmp_path, structured_blob):
    store = LocalStore(tmp_path)
    a = make_index(io.BytesIO(structured_blob), store)
    b = make_index(io.BytesIO(b"\x00shifted by a few bytes" + structured_blob), store)
    s = stats(store, [a, b])
    assert s.logical_bytes == 2 * len(structured_blob) + 23
    assert s.dedupe_ratio > 1.8  # the shifted copy costs only its first chunk(s)
    assert s.compression_ratio > 2  # text compresses
    assert s.chunks == s.referenced_chunks == len(a.chunk_ids() | b.chunk_ids())


def test_router_moves_on_only_when_missing(tmp_path):
    a, b = LocalStore(tmp_path / "a"), LocalStore(tmp_path / "b")
    data = os.urandom(2000)
    from aria_actors.storage.chunk import chunk_id

    cid = chunk_id(data).hex()
    b.store_chunk(cid, data)
    router = RouterStore([a, b])
    assert router.get_chunk(cid) == data and router.has_chunk(cid)
    a._write(chunk_path(cid), compress(b"wrong"))
    with pytest.raises(ChunkInvalid):
        router.get_chunk(cid)
    with pytest.raises(ChunkMissing):
        router.get_chunk("11" * 32)


def test_cache_fills_on_read_and_writes_through(tmp_path):
    cache, remote = LocalStore(tmp_path / "c"), LocalStore(tmp_path / "r")
    from aria_actors.storage.chunk import chunk_id

    data = os.urandom(3000)
    cid = chunk_id(data).hex()
    remote.store_chunk(cid, data)
    store = CacheStore(cache, remote)
    assert store.get_chunk(cid) == data and cache.has_chunk(cid)
    other = os.urandom(100)
    oid = chunk_id(other).hex()
    assert store.store_chunk(oid, other) is True
    assert remote.has_chunk(oid) and cache.has_chunk(oid)
    (tmp_path / "r" / chunk_path("22" * 32)).parent.mkdir(parents=True)
    (tmp_path / "r" / chunk_path("22" * 32)).write_bytes(compress(b"not 22"))
    with pytest.raises(ChunkInvalid):
        store.get_chunk("22" * 32)
    assert not cache.has_chunk("22" * 32)


def test_chunks_released_while_a_gc_sweeps_stay_protected_until_it_ends(tmp_path, random_blob):
    """The race the service's gc meets: it reads the live versions, a put commits and releases its
    chunks, then the sweep reaches them. Released during a sweep, they must still be protected."""
    store = LocalStore(tmp_path)
    index = make_index(io.BytesIO(random_blob), store)
    _age(store, 3600)
    flight = InFlight()
    ids = sorted(index.chunk_ids())
    with flight.sweeping():
        live: list = []  # read before the put committed: the version is not in it
        for cid in ids:  # the put: registers, stores (dedupe hits), commits, releases
            flight.add(cid)
        flight.release(ids)
        report = gc(store, live, grace_s=0.0, in_flight=flight, now=time.time() + 10)
    assert report.removed == [] and report.protected == len(ids)
    assert all(store.has_chunk(c) for c in ids)
    assert not any(c in flight for c in ids)  # the sweep ended: nothing held any more
