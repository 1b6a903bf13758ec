from __future__ import annotations

import io
import os

import pytest

from aria_actors.storage import index as ix
from aria_actors.storage.backends.local import LocalStore
from aria_actors.storage.chunk import chunk_id, compress
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing
from aria_actors.storage.extract import extract, read_blob
from aria_actors.storage.make import MakeStats, make_index
from aria_actors.storage.store import chunk_path


@pytest.mark.parametrize("blob", ["random_blob", "structured_blob"])
def test_round_trip(tmp_path, request, blob):
    data = request.getfixturevalue(blob)
    store = LocalStore(tmp_path / "store")
    stats = MakeStats()
    index = make_index(io.BytesIO(data), store, stats=stats)
    assert index.length == len(data) == stats.bytes
    assert stats.stored_chunks == len(index.chunk_ids())
    for c in index.chunks:  # layout: <first 4 hex>/<id>.cacnk
        assert (tmp_path / "store" / c.hex[:4] / f"{c.hex}.cacnk").is_file()
    # re-encoded index round-trips through the file format
    ix.write_index(tmp_path / "a.caibx", index)
    again = ix.read_index(tmp_path / "a.caibx")
    extract(again, store, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert read_blob(again, store) == data


def test_second_make_stores_nothing_new(tmp_path, structured_blob):
    store = LocalStore(tmp_path / "s")
    make_index(io.BytesIO(structured_blob), store)
    stats = MakeStats()
    make_index(io.BytesIO(structured_blob), store, stats=stats)
    assert stats.stored_chunks == 0 and stats.chunks > 5


def test_shifted_copy_reuses_most_chunks(tmp_path, structured_blob):
    store = LocalStore(tmp_path / "s")
    first = make_index(io.BytesIO(structured_blob), store)
    head = b"inserted header bytes\n" * 37
    shifted = head + structured_blob[:700_000] + b"patch" + structured_blob[700_000:]
    second = make_index(io.BytesIO(shifted), store)
    shared = first.chunk_ids() & second.chunk_ids()
    assert len(shared) >= len(second.chunk_ids()) - 4
    assert len(shared) / len(second.chunk_ids()) > 0.7


def test_seed_supplies_known_chunks(tmp_path, structured_blob):
    store = LocalStore(tmp_path / "s")
    v1 = make_index(io.BytesIO(structured_blob), store)
    v2_data = structured_blob[:900_000] + b"changed" + structured_blob[900_000:]
    v2 = make_index(io.BytesIO(v2_data), store)
    seed = tmp_path / "v1.bin"
    seed.write_bytes(structured_blob)
    # Remove every chunk of v1 from the store: extraction must take them from the seed.
    only_v1 = v1.chunk_ids()
    new = v2.chunk_ids() - only_v1
    for cid in only_v1:
        store.remove_chunk(cid)
    stats = extract(v2, store, tmp_path / "v2.bin", seeds=[seed])
    assert (tmp_path / "v2.bin").read_bytes() == v2_data
    assert stats.from_store == len([c for c in v2.chunks if c.hex in new])
    assert stats.from_seed == len(v2.chunks) - stats.from_store > 0


def _setup(tmp_path, data):
    store = LocalStore(tmp_path / "s")
    index = make_index(io.BytesIO(data), store)
    out = tmp_path / "out.bin"
    out.write_bytes(b"previous content")
    return store, index, out


def _only_out(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.is_file())


def test_missing_chunk_names_chunk_and_offset(tmp_path, structured_blob):
    store, index, out = _setup(tmp_path, structured_blob)
    victim = index.chunks[3]
    store.remove_chunk(victim.hex)
    with pytest.raises(ChunkMissing) as err:
        extract(index, store, out)
    assert err.value.fields["chunk_id"] == victim.hex
    assert err.value.fields["offset"] == victim.start
    assert str(victim.start) in err.value.message
    assert out.read_bytes() == b"previous content"
    assert _only_out(tmp_path) == ["out.bin"]


def test_chunk_not_matching_its_id(tmp_path, structured_blob):
    store, index, out = _setup(tmp_path, structured_blob)
    victim = index.chunks[2]
    path = tmp_path / "s" / chunk_path(victim.hex)
    path.write_bytes(compress(b"something else entirely"))
    with pytest.raises(ChunkInvalid) as err:
        extract(index, store, out)
    assert err.value.fields["chunk_id"] == victim.hex
    assert err.value.fields["offset"] == victim.start
    assert out.read_bytes() == b"previous content"
    assert _only_out(tmp_path) == ["out.bin"]


def test_chunk_not_zstd(tmp_path, random_blob):
    store, index, out = _setup(tmp_path, random_blob)
    (tmp_path / "s" / chunk_path(index.chunks[0].hex)).write_bytes(b"garbage")
    with pytest.raises(ChunkInvalid, match=index.chunks[0].hex):
        extract(index, store, out)
    assert out.read_bytes() == b"previous content"


def test_tampered_chunk_id_in_index(tmp_path, random_blob):
    store, index, out = _setup(tmp_path, random_blob)
    raw = bytearray(ix.encode(index))
    raw[64 + 8 + 40] ^= 0x01  # second chunk's id
    tampered = ix.decode(bytes(raw))
    with pytest.raises(ChunkMissing) as err:
        extract(tampered, store, out)
    assert err.value.fields["offset"] == index.chunks[1].start


def test_get_chunk_verifies(tmp_path):
    store = LocalStore(tmp_path)
    data = os.urandom(1000)
    cid = chunk_id(data).hex()
    assert store.store_chunk(cid, data) is True
    assert store.store_chunk(cid, data) is False
    assert store.get_chunk(cid) == data
    with pytest.raises(ChunkMissing):
        store.get_chunk("00" * 32)


def test_files_are_readable_by_others(tmp_path, random_blob):
    """Stores are served by HTTP servers running as other users: no 0600 files."""
    store = LocalStore(tmp_path / "s")
    index = make_index(io.BytesIO(random_blob), store)
    ix.write_index(tmp_path / "a.caibx", index)
    extract(index, store, tmp_path / "out")
    paths = [tmp_path / "a.caibx", tmp_path / "out", tmp_path / "s" / chunk_path(index.chunks[0].hex)]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in paths)
