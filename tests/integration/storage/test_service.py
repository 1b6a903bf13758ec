"""StorageService against a real Postgres (fresh database) and a local store."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.storage.config import StorageConfig
from aria_actors.storage.errors import AssetNotFound, ChunkMissing
from aria_actors.storage.service import StorageService
from aria_actors.storage.store import chunk_path

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _asset(seed: int, n: int = 600_000) -> bytes:
    rng = random.Random(seed)
    return b"".join(b"vertex %d %f %f\n" % (i, rng.random(), rng.random()) for i in range(n // 30))


def _service(tmp_path, dsn: str) -> StorageService:
    return StorageService(AriaSettings(home=tmp_path / "home"),
                          StorageConfig(store_url=str(tmp_path / "store"), database_url=dsn,
                                        gc_grace_s=0))


@pytest.fixture
async def service(tmp_path, fresh_database):
    svc = _service(tmp_path, fresh_database)
    await svc.start(Deps())
    yield svc
    await svc.stop()


async def test_health_is_a_real_probe(service, tmp_path):
    h = await service.health()
    assert h.status is Status.READY, h.message
    assert h.details["native_chunker"] is True and h.details["versions"] == 0
    await service._pool.close()
    h = await service.health()
    assert h.status is Status.DEGRADED and "database" in h.message


async def test_python_fallback_is_reported(service, monkeypatch):
    from aria_actors.storage import chunker

    monkeypatch.setattr(chunker, "NATIVE", False)
    monkeypatch.setattr(chunker, "NATIVE_ERROR", "native chunker not built (test)")
    h = await service.health()
    assert h.status is Status.DEGRADED and "native chunker not built" in h.message
    assert h.details["native_chunker"] is False


async def test_no_database_is_degraded_not_ready(tmp_path, monkeypatch):
    monkeypatch.delenv("ARIA_DATABASE_URL", raising=False)
    svc = StorageService(AriaSettings(home=tmp_path), StorageConfig(store_url=str(tmp_path / "s")))
    await svc.start(Deps())
    h = await svc.health()
    assert h.status is Status.DEGRADED and "no database" in h.message
    with pytest.raises(Exception, match="database"):
        await svc.versions("x")
    await svc.stop()


async def test_put_get_versions_and_dedupe(service):
    v1 = _asset(1)
    v2 = v1[:300_000] + b"edited line\n" + v1[300_000:]
    a = await service.put("hero/mesh.obj", v1, content_type="model/obj",
                          metadata={"character": "hero", "lod": 0}, tags=["mesh", "hero"])
    b = await service.put("hero/mesh.obj", v2, content_type="model/obj",
                          metadata={"character": "hero", "lod": 1}, tags=["mesh"])
    assert (a["version"], b["version"]) == (1, 2)
    assert await service.get("hero/mesh.obj") == v2
    assert await service.get("hero/mesh.obj", 1) == v1
    assert [v["version"] for v in await service.versions("hero/mesh.obj")] == [1, 2]
    s = await service.stats()
    assert s["logical_bytes"] == len(v1) + len(v2)
    assert s["dedupe_ratio"] > 1.6  # the second version costs only its changed chunks
    with pytest.raises(AssetNotFound):
        await service.get("hero/mesh.obj", 9)
    with pytest.raises(BadRequest):
        await service.put("x")


async def test_put_from_path_and_extract_with_seed(service, tmp_path):
    v1 = _asset(2)
    src = tmp_path / "v1.bin"
    src.write_bytes(v1)
    await service.put("voice.wav", path=str(src))
    v2 = b"prefix" + v1
    await service.put("voice.wav", v2)
    stats = await service.extract("voice.wav", str(tmp_path / "out.bin"), seed=str(src))
    assert (tmp_path / "out.bin").read_bytes() == v2
    assert stats["from_seed"] > stats["from_store"]


async def test_search_and_lifecycle(service):
    for i in range(4):
        await service.put("tex/skin.png", _asset(10 + i, 60_000), content_type="image/png",
                          metadata={"res": 1024 * (i + 1), "style": "toon"}, tags=["skin"])
    await service.put("tex/eyes.png", _asset(20, 60_000), content_type="image/png",
                      metadata={"style": "real"}, tags=["eyes"])
    found = await service.search(metadata={"style": "toon"})
    assert [(f["name"], f["version"]) for f in found] == [("tex/skin.png", v) for v in (1, 2, 3, 4)]
    assert [f["name"] for f in await service.search(tags=["eyes"])] == ["tex/eyes.png"]
    latest = await service.search(name_prefix="tex/", latest_only=True)
    assert [(f["name"], f["version"]) for f in latest] == [("tex/eyes.png", 1), ("tex/skin.png", 4)]
    assert await service.apply_lifecycle(keep_last=2, dry_run=True) == {"tex/skin.png": [1, 2]}
    assert await service.apply_lifecycle(keep_last=2) == {"tex/skin.png": [1, 2]}
    assert [v["version"] for v in await service.versions("tex/skin.png")] == [3, 4]
    # Age rule: everything older than 0 s except each asset's newest version.
    assert await service.apply_lifecycle(older_than_s=0) == {"tex/skin.png": [3]}
    # Version numbers are never reused.
    assert (await service.put("tex/skin.png", b"new"))["version"] == 5


async def test_gc_removes_chunks_of_deleted_versions_only(service):
    keep, drop = _asset(30), os.urandom(400_000)
    await service.put("keep", keep)
    await service.put("drop", drop)
    await service.delete_version("drop", 1)
    report = await service.gc(grace_s=0)
    assert report["removed"] > 0
    assert await service.get("keep") == keep
    assert (await service.verify())["corrupt"] == {}


async def test_gc_concurrent_with_put(service):
    data = os.urandom(500_000)
    await service.put("a", data)
    await service.delete_version("a", 1)  # its chunks are now garbage, but a new put reuses them
    results = await asyncio.gather(service.put("b", data), service.gc(grace_s=0))
    assert results[0]["version"] == 1
    assert await service.get("b") == data


async def test_missing_chunk_is_typed(service, tmp_path):
    info = await service.put("m", os.urandom(200_000))
    index = await service._index("m", info["version"])
    victim = index[1].chunks[0]
    os.unlink(tmp_path / "store" / chunk_path(victim.hex))
    with pytest.raises(ChunkMissing):
        await service.get("m")
    with pytest.raises(ChunkMissing) as err:
        await service.extract("m", str(tmp_path / "o.bin"))
    assert err.value.fields["offset"] == 0
    assert not (tmp_path / "o.bin").exists()


async def test_sync_to_second_store(service, tmp_path):
    await service.put("s", _asset(40))
    r = await service.sync(str(tmp_path / "mirror"))
    assert r["copied"] > 0 and r["missing"] == []
    assert (await service.sync(str(tmp_path / "mirror")))["copied"] == 0


async def test_streamed_upload(service, tmp_path):
    from aria_actors.runtime.errors import NotFound

    data = _asset(60)
    up = await service.upload_begin()
    for i in range(0, len(data), 100_000):
        await service.upload_part(up, data[i:i + 100_000])
    info = await service.upload_commit(up, "streamed", content_type="text/plain")
    assert info["size"] == len(data) and await service.get("streamed") == data
    assert os.listdir(tmp_path / "home" / "storage" / "uploads") == []
    with pytest.raises(NotFound):
        await service.upload_part(up, b"late")
    aborted = await service.upload_begin()
    await service.upload_part(aborted, b"x")
    await service.upload_abort(aborted)
    assert os.listdir(tmp_path / "home" / "storage" / "uploads") == []


async def test_unreachable_store_fails_health(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("ARIA_DATABASE_URL", raising=False)
    svc = StorageService(AriaSettings(home=tmp_path),
                         StorageConfig(store_url=f"http://127.0.0.1:{port}/store"))
    await svc.start(Deps())
    h = await svc.health()
    assert h.status is Status.FAILED and "unreachable" in h.message
    await svc.stop()


async def test_cache_dir_in_front_of_the_store(tmp_path, fresh_database):
    svc = StorageService(AriaSettings(home=tmp_path / "home"),
                         StorageConfig(store_url=str(tmp_path / "store"), database_url=fresh_database,
                                       cache_dir=str(tmp_path / "cache"), gc_grace_s=0))
    await svc.start(Deps())
    try:
        data = _asset(70)
        await svc.put("c", data)
        assert os.listdir(tmp_path / "cache") and os.listdir(tmp_path / "store")
        assert await svc.get("c") == data
        assert (await svc.stats())["referenced_chunks"] == (await svc.stats())["chunks"]
        assert (await svc.gc(grace_s=0))["removed"] == 0
        assert (await svc.verify())["corrupt"] == {}
    finally:
        await svc.stop()


async def test_stored_lifecycle_rules_longest_prefix_wins(service):
    for i in range(3):
        await service.put("voice/line.wav", _asset(80 + i, 30_000))
        await service.put("voice/keep/hero.wav", _asset(90 + i, 30_000))
        await service.put("mesh/body.obj", _asset(100 + i, 30_000))
    with pytest.raises(BadRequest):
        await service.apply_lifecycle()  # nothing stored yet
    await service.set_lifecycle_rule("voice/", keep_last=1)
    await service.set_lifecycle_rule("voice/keep/", keep_last=2)
    with pytest.raises(BadRequest):
        await service.set_lifecycle_rule("x", keep_last=0)
    assert [r["name_prefix"] for r in await service.lifecycle_rules()] == ["voice/", "voice/keep/"]
    assert await service.apply_lifecycle() == {"voice/keep/hero.wav": [1], "voice/line.wav": [1, 2]}
    assert len(await service.versions("mesh/body.obj")) == 3  # no rule matches
    await service.delete_lifecycle_rule("voice/")
    with pytest.raises(AssetNotFound):
        await service.delete_lifecycle_rule("voice/")
