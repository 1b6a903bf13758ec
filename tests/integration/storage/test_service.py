"""StorageService against a real Postgres (fresh database) and a local store.

Direct method calls pass the operator; the tests of the boundary go through ``LocalClient`` (the
same declared-surface check as Ray) as the roles of aria_security's default table.
"""

from __future__ import annotations

import asyncio
import io
import os
import random

import pytest

from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.storage.client import StorageClient
from aria_actors.storage.config import StorageConfig
from aria_actors.storage.errors import AssetNotFound, ChunkMissing, NoSyncTargets, SyncTargetUnknown
from aria_actors.storage.service import StorageService
from aria_actors.storage.store import chunk_path

pytestmark = pytest.mark.asyncio(loop_scope="session")

OP = Principal.operator()
USER = Principal("u1", ("user",), tenant="t1")
OTHER = Principal("u2", ("user",), tenant="t1")
EDITOR = Principal("e1", ("editor",), tenant="t1")
VIEWER = Principal("v1", ("viewer",), tenant="t1")


def _asset(seed: int, n: int = 600_000) -> bytes:
    rng = random.Random(seed)
    return b"".join(b"vertex %d %f %f\n" % (i, rng.random(), rng.random()) for i in range(n // 30))


def _service(tmp_path, dsn: str, **config) -> StorageService:
    return StorageService(AriaSettings(home=tmp_path / "home"),
                          StorageConfig(store_url=str(tmp_path / "store"), database_url=dsn,
                                        gc_grace_s=0, **config))


@pytest.fixture
async def service(tmp_path, fresh_database):
    svc = _service(tmp_path, fresh_database, sync_targets={"mirror": str(tmp_path / "mirror")})
    await svc.start(Deps())
    yield svc
    await svc.stop()


def as_rpc(svc: StorageService) -> StorageClient:
    """The service behind its declared surface, as another service or the gateway reaches it."""
    return bind(StorageClient, LocalClient(svc))


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
        await svc.versions(OP, "x")
    await svc.stop()


async def test_put_get_versions_and_dedupe(service):
    v1 = _asset(1)
    v2 = v1[:300_000] + b"edited line\n" + v1[300_000:]
    a = await service.put(OP, "hero/mesh.obj", v1, content_type="model/obj",
                          metadata={"character": "hero", "lod": 0}, tags=["mesh", "hero"])
    b = await service.put(OP, "hero/mesh.obj", v2, content_type="model/obj",
                          metadata={"character": "hero", "lod": 1}, tags=["mesh"])
    assert (a["version"], b["version"]) == (1, 2)
    assert await service.get(OP, "hero/mesh.obj") == v2
    assert await service.get(OP, "hero/mesh.obj", 1) == v1
    assert [v["version"] for v in await service.versions(OP, "hero/mesh.obj")] == [1, 2]
    s = await service.stats(OP)
    assert s["logical_bytes"] == len(v1) + len(v2)
    assert s["dedupe_ratio"] > 1.6  # the second version costs only its changed chunks
    with pytest.raises(AssetNotFound):
        await service.get(OP, "hero/mesh.obj", 9)
    with pytest.raises(BadRequest):
        await service.put(OP, "x")


async def test_put_from_path_and_extract_with_seed(service, tmp_path):
    v1 = _asset(2)
    src = tmp_path / "v1.bin"
    src.write_bytes(v1)
    await service.put(OP, "voice.wav", path=str(src))
    v2 = b"prefix" + v1
    await service.put(OP, "voice.wav", v2)
    stats = await service.extract(OP, "voice.wav", str(tmp_path / "out.bin"), seed=str(src))
    assert (tmp_path / "out.bin").read_bytes() == v2
    assert stats["from_seed"] > stats["from_store"]


async def test_search_and_lifecycle(service):
    for i in range(4):
        await service.put(OP, "tex/skin.png", _asset(10 + i, 60_000), content_type="image/png",
                          metadata={"res": 1024 * (i + 1), "style": "toon"}, tags=["skin"])
    await service.put(OP, "tex/eyes.png", _asset(20, 60_000), content_type="image/png",
                      metadata={"style": "real"}, tags=["eyes"])
    found = await service.search(OP, metadata={"style": "toon"})
    assert [(f["name"], f["version"]) for f in found] == [("tex/skin.png", v) for v in (1, 2, 3, 4)]
    assert [f["name"] for f in await service.search(OP, tags=["eyes"])] == ["tex/eyes.png"]
    latest = await service.search(OP, name_prefix="tex/", latest_only=True)
    assert [(f["name"], f["version"]) for f in latest] == [("tex/eyes.png", 1), ("tex/skin.png", 4)]
    assert await service.apply_lifecycle(OP, keep_last=2, dry_run=True) == {"tex/skin.png": [1, 2]}
    assert await service.apply_lifecycle(OP, keep_last=2) == {"tex/skin.png": [1, 2]}
    assert [v["version"] for v in await service.versions(OP, "tex/skin.png")] == [3, 4]
    # Age rule: everything older than 0 s except each asset's newest version.
    assert await service.apply_lifecycle(OP, older_than_s=0) == {"tex/skin.png": [3]}
    # Version numbers are never reused.
    assert (await service.put(OP, "tex/skin.png", b"new"))["version"] == 5


async def test_gc_removes_chunks_of_deleted_versions_only(service):
    keep, drop = _asset(30), os.urandom(400_000)
    await service.put(OP, "keep", keep)
    await service.put(OP, "drop", drop)
    await service.delete_version(OP, "drop", 1)
    report = await service.gc(OP, grace_s=0)
    assert report["removed"] > 0
    assert await service.get(OP, "keep") == keep
    assert (await service.verify(OP))["corrupt"] == {}


async def test_gc_concurrent_with_put(service):
    data = os.urandom(500_000)
    await service.put(OP, "a", data)
    await service.delete_version(OP, "a", 1)  # its chunks are now garbage, but a new put reuses them
    results = await asyncio.gather(service.put(OP, "b", data), service.gc(OP, grace_s=0))
    assert results[0]["version"] == 1
    assert await service.get(OP, "b") == data


async def test_missing_chunk_is_typed(service, tmp_path):
    info = await service.put(OP, "m", os.urandom(200_000))
    index = await service._index("m", info["version"])
    victim = index[1].chunks[0]
    os.unlink(tmp_path / "store" / chunk_path(victim.hex))
    with pytest.raises(ChunkMissing):
        await service.get(OP, "m")
    with pytest.raises(ChunkMissing) as err:
        await service.extract(OP, "m", str(tmp_path / "o.bin"))
    assert err.value.fields["offset"] == 0
    assert not (tmp_path / "o.bin").exists()


async def test_sync_to_a_configured_target(service, tmp_path):
    await service.put(OP, "s", _asset(40))
    r = await service.sync(OP, "mirror")
    assert r["copied"] > 0 and r["missing"] == [] and r["target"] == "mirror"
    assert os.listdir(tmp_path / "mirror")
    assert (await service.sync(OP, "mirror"))["copied"] == 0
    assert await service.sync_targets(OP) == ["mirror"]


async def test_sync_refuses_anything_but_a_configured_name(service, tmp_path):
    await service.put(OP, "s", _asset(41, 50_000))
    for destination in (str(tmp_path / "elsewhere"), f"file://{tmp_path}/elsewhere", "backup"):
        with pytest.raises(SyncTargetUnknown) as err:
            await service.sync(OP, destination)
        assert err.value.status == 404 and err.value.fields["targets"] == ["mirror"]
    assert not (tmp_path / "elsewhere").exists()


async def test_sync_without_targets_says_how_to_configure_them(tmp_path, fresh_database):
    svc = _service(tmp_path, fresh_database)
    await svc.start(Deps())
    try:
        with pytest.raises(NoSyncTargets, match="ARIA_STORAGE_SYNC_TARGETS") as err:
            await svc.sync(OP, "mirror")
        assert 400 <= err.value.status < 500
    finally:
        await svc.stop()


async def test_streamed_upload(service, tmp_path):
    from aria_actors.runtime.errors import NotFound

    data = _asset(60)
    up = await service.upload_begin(OP)
    for i in range(0, len(data), 100_000):
        await service.upload_part(OP, up, data[i:i + 100_000])
    info = await service.upload_commit(OP, up, "streamed", content_type="text/plain")
    assert info["size"] == len(data) and await service.get(OP, "streamed") == data
    assert os.listdir(tmp_path / "home" / "storage" / "uploads") == []
    with pytest.raises(NotFound):
        await service.upload_part(OP, up, b"late")
    aborted = await service.upload_begin(OP)
    await service.upload_part(OP, aborted, b"x")
    await service.upload_abort(OP, aborted)
    assert os.listdir(tmp_path / "home" / "storage" / "uploads") == []
    await service.upload_abort(OP, aborted)  # again: a no-op, safe on error paths


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
        await svc.put(OP, "c", data)
        assert os.listdir(tmp_path / "cache") and os.listdir(tmp_path / "store")
        assert await svc.get(OP, "c") == data
        assert (await svc.stats(OP))["referenced_chunks"] == (await svc.stats(OP))["chunks"]
        assert (await svc.gc(OP, grace_s=0))["removed"] == 0
        assert (await svc.verify(OP))["corrupt"] == {}
    finally:
        await svc.stop()


async def test_stored_lifecycle_rules_longest_prefix_wins(service):
    for i in range(3):
        await service.put(OP, "voice/line.wav", _asset(80 + i, 30_000))
        await service.put(OP, "voice/keep/hero.wav", _asset(90 + i, 30_000))
        await service.put(OP, "mesh/body.obj", _asset(100 + i, 30_000))
    with pytest.raises(BadRequest):
        await service.apply_lifecycle(OP)  # nothing stored yet
    await service.set_lifecycle_rule(OP, "voice/", keep_last=1)
    await service.set_lifecycle_rule(OP, "voice/keep/", keep_last=2)
    with pytest.raises(BadRequest):
        await service.set_lifecycle_rule(OP, "x", keep_last=0)
    assert [r["name_prefix"] for r in await service.lifecycle_rules(OP)] == ["voice/", "voice/keep/"]
    assert await service.apply_lifecycle(OP) == {"voice/keep/hero.wav": [1], "voice/line.wav": [1, 2]}
    assert len(await service.versions(OP, "mesh/body.obj")) == 3  # no rule matches
    await service.delete_lifecycle_rule(OP, "voice/")
    with pytest.raises(AssetNotFound):
        await service.delete_lifecycle_rule(OP, "voice/")


async def test_maintenance_is_for_operators_only(service):
    storage = as_rpc(service)
    for caller in (USER, EDITOR, VIEWER):
        with pytest.raises(Forbidden):
            await storage.gc(caller, 0.0, True)
        with pytest.raises(Forbidden):
            await storage.sync(caller, "mirror")
        with pytest.raises(Forbidden):
            await storage.verify(caller)
        with pytest.raises(Forbidden):
            await storage.apply_lifecycle(caller, keep_last=1)
        with pytest.raises(Forbidden):
            await storage.set_lifecycle_rule(caller, "", keep_last=1)
    assert (await storage.gc(OP, 0.0, True))["dry_run"] is True
    assert (await storage.sync(OP, "mirror"))["missing"] == []
    assert (await storage.gc(Principal.internal("aria_storage"), 0.0, True))["removed"] == 0


async def test_users_read_all_but_change_only_their_own_assets(service):
    storage = as_rpc(service)
    mine = await storage.put(USER, "u1/avatar.png", b"mine")
    assert mine["owner"] == "u1"
    assert (await storage.get(OTHER, "u1/avatar.png")) == b"mine"  # storage:asset:read
    assert [v["name"] for v in await storage.search(OTHER, name_prefix="u1/")] == ["u1/avatar.png"]
    with pytest.raises(Forbidden):
        await storage.put(OTHER, "u1/avatar.png", b"not yours")
    with pytest.raises(Forbidden):
        await storage.delete_version(OTHER, "u1/avatar.png", 1)
    with pytest.raises(Forbidden):
        await storage.put(VIEWER, "v1/new", b"viewers do not write")
    assert [v["version"] for v in await storage.versions(USER, "u1/avatar.png")] == [1]
    assert (await storage.put(USER, "u1/avatar.png", b"mine too"))["version"] == 2
    # Beyond @own: an editor (storage:*:* in its tenant) changes anyone's asset; it stays u1's.
    edited = await storage.put(EDITOR, "u1/avatar.png", b"edited")
    assert (edited["version"], edited["owner"]) == (3, "e1")
    await storage.delete_version(USER, "u1/avatar.png", 3)
    await storage.delete_version(EDITOR, "u1/avatar.png", 2)
    assert [v["version"] for v in await storage.versions(USER, "u1/avatar.png")] == [1]


async def test_assets_without_a_recorded_owner_belong_to_nobody(service):
    await service.put(OP, "legacy", b"old")
    async with service._pool.acquire() as conn:  # as rows from before migration 0003 are
        await conn.execute("UPDATE aria_storage.assets SET owner = NULL")
    storage = as_rpc(service)
    with pytest.raises(Forbidden):
        await storage.put(USER, "legacy", b"claim")
    with pytest.raises(Forbidden):
        await storage.delete_version(USER, "legacy", 1)
    assert (await storage.put(EDITOR, "legacy", b"new"))["version"] == 2


async def test_the_owner_check_runs_inside_the_version_transaction(service):
    """A refusal in add_version writes nothing: not the row, not the version number."""
    from aria_actors.storage.index import encode
    from aria_actors.storage.make import make_index

    await service.put(USER, "race", b"first")
    index = make_index(io.BytesIO(b"second"), service.store, service._params())

    def refuse(owner: str | None) -> None:
        assert owner == "u1"
        raise Forbidden("no")

    with pytest.raises(Forbidden):
        await service.repo.add_version("race", size=index.length, content_type="x", metadata={}, tags=[],
                                       chunk_count=len(index.chunks), index_data=encode(index),
                                       owner="u2", authorize=refuse)
    assert [v["version"] for v in await service.versions(OP, "race")] == [1]
    assert (await service.put(USER, "race", b"third"))["version"] == 2


async def test_an_upload_belongs_to_the_caller_that_began_it(service):
    storage = as_rpc(service)
    up = await storage.upload_begin(USER)
    await storage.upload_part(USER, up, b"abc")
    with pytest.raises(NotFound):
        await storage.upload_part(OTHER, up, b"injected")
    with pytest.raises(NotFound):
        await storage.upload_commit(OTHER, up, "u2/stolen")
    await storage.upload_abort(OTHER, up)  # quiet, and it leaves the upload alone
    with pytest.raises(NotFound):
        await storage.upload_part(OP, up, b"admins neither")
    info = await storage.upload_commit(USER, up, "u1/up", content_type="text/plain")
    assert info["size"] == 3 and info["owner"] == "u1"
    assert await storage.get(USER, "u1/up") == b"abc"
    with pytest.raises(AssetNotFound):
        await storage.info(OP, "u2/stolen")


async def test_node_paths_need_the_store_path_permission(service, tmp_path):
    src = tmp_path / "secret.txt"
    src.write_bytes(b"on the service's node")
    storage = as_rpc(service)
    await storage.put(USER, "u1/a", b"data")
    for caller in (USER, EDITOR):
        with pytest.raises(Forbidden):
            await storage.put(caller, "u1/b", path=str(src))
        with pytest.raises(Forbidden):
            await storage.extract(caller, "u1/a", str(tmp_path / "written"))
    assert not (tmp_path / "written").exists()
    assert (await storage.put(OP, "from-path", path=str(src)))["size"] == src.stat().st_size
    assert (await storage.extract(OP, "u1/a", str(tmp_path / "written")))["bytes"] == 4


async def test_undeclared_and_lifecycle_methods_are_unreachable(service):
    client = LocalClient(service)
    for method in ("start", "stop", "health", "_put", "_live", "store_url"):
        with pytest.raises(NotFound):
            await client.call(method, OP)
