"""One suite run over every writable backend (local, S3 on moto, SFTP on sshd), plus HTTP."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from aria_actors.storage import index as ix
from aria_actors.storage.backends import open_store
from aria_actors.storage.backends.local import LocalStore
from aria_actors.storage.chunk import chunk_id, compress
from aria_actors.storage.compose import CacheStore, RouterStore
from aria_actors.storage.errors import ChunkInvalid, ChunkMissing, StoreReadOnly
from aria_actors.storage.extract import extract
from aria_actors.storage.make import make_index
from aria_actors.storage.store import chunk_path

S3_OPTS = {"key": "testing", "secret": "testing", "region": "eu-west-1"}


def _s3(endpoint: str):
    import s3fs

    bucket = f"aria-{uuid.uuid4().hex[:10]}"
    s3fs.S3FileSystem(key="testing", secret="testing", skip_instance_cache=True,
                      client_kwargs={"endpoint_url": endpoint, "region_name": "eu-west-1"}).mkdir(bucket)
    return open_store(f"s3://{bucket}/store", endpoint_url=endpoint, **S3_OPTS)


@pytest.fixture(params=["local", "s3", "sftp"])
def store(request, tmp_path):
    if request.param == "local":
        s = open_store(str(tmp_path / "store"))
    elif request.param == "s3":
        s = _s3(request.getfixturevalue("storage_s3_endpoint"))
    else:
        sshd = request.getfixturevalue("storage_sshd")
        s = open_store(sshd.url(f"store-{uuid.uuid4().hex[:8]}"), key_filename=sshd.key_filename)
    yield s
    s.close()


def _blob() -> bytes:
    return os.urandom(300_000) + b"text line\n" * 40_000


def test_store_get_has_remove_list(store):
    data = os.urandom(5000)
    cid = chunk_id(data).hex()
    assert not store.has_chunk(cid)
    with pytest.raises(ChunkMissing):
        store.get_chunk(cid)
    assert store.store_chunk(cid, data) is True
    assert store.store_chunk(cid, data) is False  # dedupe
    assert store.has_chunk(cid)
    assert store.get_chunk(cid) == data
    infos = list(store.iter_chunks())
    assert [i.id for i in infos] == [cid]
    assert infos[0].size == len(store.get_compressed(cid)) and infos[0].mtime > 0
    store.remove_chunk(cid)
    assert not store.has_chunk(cid)


def test_make_and_extract_through_backend(store, tmp_path):
    data = _blob()
    index = make_index(io.BytesIO(data), store, workers=2)
    extract(index, store, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_corrupt_chunk_is_invalid(store):
    data = os.urandom(3000)
    cid = chunk_id(data).hex()
    store._write(chunk_path(cid), compress(b"not the same bytes"))
    with pytest.raises(ChunkInvalid) as err:
        store.get_chunk(cid)
    assert err.value.fields["chunk_id"] == cid


def test_http_store_is_read_only_and_serves_chunks(tmp_path, storage_http_server):
    data = _blob()
    origin = LocalStore(tmp_path / "origin")
    index = make_index(io.BytesIO(data), origin)
    cdn = open_store(storage_http_server(tmp_path / "origin"))
    first = index.chunks[0].hex
    assert cdn.has_chunk(first)
    assert not cdn.has_chunk("ab" * 32)
    with pytest.raises(ChunkMissing):
        cdn.get_chunk("ab" * 32)
    with pytest.raises(StoreReadOnly):
        cdn.store_chunk("cd" * 32, b"x")
    extract(index, cdn, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_cache_in_front_of_http(tmp_path, storage_http_server):
    data = _blob()
    index = make_index(io.BytesIO(data), LocalStore(tmp_path / "origin"))
    cache = LocalStore(tmp_path / "cache")
    chained = CacheStore(cache, open_store(storage_http_server(tmp_path / "origin")))
    extract(index, chained, tmp_path / "a.bin")
    assert {c.id for c in cache.iter_chunks()} == index.chunk_ids()
    # The origin goes away: the cache alone serves the second extraction.
    for c in index.chunks:
        os.unlink(tmp_path / "origin" / chunk_path(c.hex))
    extract(index, chained, tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == data


def test_cache_in_front_of_s3(tmp_path, storage_s3_endpoint):
    remote = _s3(storage_s3_endpoint)
    cache = LocalStore(tmp_path / "cache")
    chained = CacheStore(cache, remote)
    data = _blob()
    index = make_index(io.BytesIO(data), chained)  # writes go to S3 and the cache
    assert {c.id for c in remote.iter_chunks()} == index.chunk_ids()
    ix.write_index(tmp_path / "x.caibx", index)
    fresh = CacheStore(LocalStore(tmp_path / "cache2"), remote)
    extract(ix.read_index(tmp_path / "x.caibx"), fresh, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_router_over_backends(tmp_path, storage_s3_endpoint, storage_http_server):
    data = _blob()
    s3 = _s3(storage_s3_endpoint)
    index = make_index(io.BytesIO(data), s3)
    local = LocalStore(tmp_path / "local")
    half = index.chunks[: len(index.chunks) // 2]
    for c in half:
        local.store_chunk(c.hex, s3.get_chunk(c.hex))
    router = RouterStore([local, s3])
    extract(index, router, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    # A corrupt chunk in the first store stops the router even though S3 has a good copy.
    (tmp_path / "local" / chunk_path(half[0].hex)).write_bytes(compress(b"corrupt"))
    with pytest.raises(ChunkInvalid):
        router.get_chunk(half[0].hex)


def test_dedupe_hit_refreshes_mtime_where_the_backend_can(store, request):
    """gc's grace period relies on this for local and SFTP stores (S3 cannot, see maintenance)."""
    import time

    data = os.urandom(4000)
    cid = chunk_id(data).hex()
    store.store_chunk(cid, data)
    past = time.time() - 7200
    backend = request.node.callspec.params["store"]
    if backend == "local":
        os.utime(os.path.join(store.root, chunk_path(cid)), (past, past))
    elif backend == "sftp":
        store.fs.ftp.utime(store._abs(chunk_path(cid)), (past, past))
    else:
        pytest.skip("S3 cannot set an object's mtime; gc relies on the service's in-flight set")
    assert next(iter(store.iter_chunks())).mtime < past + 10
    assert store.store_chunk(cid, data) is False
    assert next(iter(store.iter_chunks())).mtime > time.time() - 600
