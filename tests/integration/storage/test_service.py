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
    mine = await storage.put(USER, "users/u1/avatar.png", b"mine")
    assert mine["owner"] == "u1"
    assert (await storage.get(OTHER, "users/u1/avatar.png")) == b"mine"  # storage:asset:read
    assert [v["name"] for v in await storage.search(OTHER, name_prefix="users/u1/")] == ["users/u1/avatar.png"]
    with pytest.raises(Forbidden):
        await storage.put(OTHER, "users/u1/avatar.png", b"not yours")
    with pytest.raises(Forbidden):
        await storage.delete_version(OTHER, "users/u1/avatar.png", 1)
    with pytest.raises(Forbidden):
        await storage.put(VIEWER, "v1/new", b"viewers do not write")
    assert [v["version"] for v in await storage.versions(USER, "users/u1/avatar.png")] == [1]
    assert (await storage.put(USER, "users/u1/avatar.png", b"mine too"))["version"] == 2
    # Beyond @own: an editor (storage:*:* in its tenant) changes anyone's asset; it stays u1's.
    edited = await storage.put(EDITOR, "users/u1/avatar.png", b"edited")
    assert (edited["version"], edited["owner"]) == (3, "e1")
    with pytest.raises(Forbidden):  # u1 owns the asset, but version 3 is e1's upload
        await storage.delete_version(USER, "users/u1/avatar.png", 3)
    await storage.delete_version(USER, "users/u1/avatar.png", 2)  # its own upload
    await storage.delete_version(EDITOR, "users/u1/avatar.png", 3)
    assert [v["version"] for v in await storage.versions(USER, "users/u1/avatar.png")] == [1]


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

    await service.put(USER, "users/u1/race", b"first")
    index = make_index(io.BytesIO(b"second"), service.store, service._params())
    seen = []

    def refuse(owner: str | None, created: bool) -> None:
        seen.append((owner, created))
        raise Forbidden("no")

    for name in ("users/u1/race", "users/u1/new"):
        with pytest.raises(Forbidden):
            await service.repo.add_version(name, size=index.length, content_type="x", metadata={}, tags=[],
                                           chunk_count=len(index.chunks), index_data=encode(index),
                                           owner="u2", authorize=refuse)
    assert seen == [("u1", False), ("u2", True)]  # the second call would have created the asset
    assert [v["version"] for v in await service.versions(OP, "users/u1/race")] == [1]
    with pytest.raises(AssetNotFound):
        await service.info(OP, "users/u1/new")
    assert (await service.put(USER, "users/u1/race", b"third"))["version"] == 2


async def test_an_upload_belongs_to_the_caller_that_began_it(service):
    storage = as_rpc(service)
    up = await storage.upload_begin(USER)
    await storage.upload_part(USER, up, b"abc")
    with pytest.raises(NotFound):
        await storage.upload_part(OTHER, up, b"injected")
    with pytest.raises(NotFound):
        await storage.upload_commit(OTHER, up, "users/u2/stolen")
    await storage.upload_abort(OTHER, up)  # quiet, and it leaves the upload alone
    with pytest.raises(NotFound):
        await storage.upload_part(OP, up, b"admins neither")
    info = await storage.upload_commit(USER, up, "users/u1/up", content_type="text/plain")
    assert info["size"] == 3 and info["owner"] == "u1"
    assert await storage.get(USER, "users/u1/up") == b"abc"
    with pytest.raises(AssetNotFound):
        await storage.info(OP, "users/u2/stolen")


async def test_node_paths_need_the_store_path_permission(service, tmp_path):
    src = tmp_path / "secret.txt"
    src.write_bytes(b"on the service's node")
    storage = as_rpc(service)
    await storage.put(USER, "users/u1/a", b"data")
    for caller in (USER, EDITOR):
        with pytest.raises(Forbidden):
            await storage.put(caller, "users/u1/b", path=str(src))
        with pytest.raises(Forbidden):
            await storage.extract(caller, "users/u1/a", str(tmp_path / "written"))
    assert not (tmp_path / "written").exists()
    assert (await storage.put(OP, "from-path", path=str(src)))["size"] == src.stat().st_size
    assert (await storage.extract(OP, "users/u1/a", str(tmp_path / "written")))["bytes"] == 4


async def test_undeclared_and_lifecycle_methods_are_unreachable(service):
    client = LocalClient(service)
    for method in ("start", "stop", "health", "_put", "_live", "store_url"):
        with pytest.raises(NotFound):
            await client.call(method, OP)


# Names: who may create what (issue 16 review: asset-name squatting) ------------------------------
CHECKPOINT = "shape/checkpoints/run-1/manifest"  # what aria_shape's training writes (StorageCheckpoints)


async def test_a_user_creates_assets_only_in_its_own_namespace(service):
    storage = as_rpc(service)
    for name in (CHECKPOINT, "u1/a", "users/u2/a", "users/u1", "users/u1/", "users/u1x/a", "shared"):
        with pytest.raises(Forbidden) as refused:
            await storage.put(USER, name, _asset(7, 100_000))
        assert refused.value.fields["allowed_prefix"] == "users/u1/", name
        assert "users/u1/" in refused.value.message
    # The streamed upload path is refused at commit, before anything is chunked into the store.
    up = await storage.upload_begin(USER)
    await storage.upload_part(USER, up, _asset(8, 100_000))
    with pytest.raises(Forbidden):
        await storage.upload_commit(USER, up, CHECKPOINT)
    assert (await storage.stats(OP))["indexes"] == 0
    assert not [p for p in (service.settings.home.parent / "store").rglob("*.cacnk")]
    with pytest.raises(AssetNotFound):
        await storage.info(OP, CHECKPOINT)
    assert (await storage.put(USER, "users/u1/a/b.png", b"mine"))["owner"] == "u1"


async def test_a_subject_with_any_characters_has_a_safe_namespace(service):
    from aria_actors.storage.names import subject_segment, user_prefix

    odd = Principal("auth0|42:x/../y", ("user",), tenant="t1")
    assert user_prefix(odd.subject) == "users/auth0~7c42~3ax~2f..~2fy/"
    assert subject_segment("..") == "~2e." and subject_segment("~") == "~7e"
    assert len({subject_segment(s) for s in ("a~7cb", "a|b", "a~b", ".a", "~2ea")}) == 5  # one-to-one
    storage = as_rpc(service)
    info = await storage.put(odd, user_prefix(odd.subject) + "avatar.png", b"odd")
    assert info["owner"] == odd.subject
    with pytest.raises(Forbidden):
        await storage.put(odd, "users/auth0|42:x/../y/avatar.png", b"raw subject")


async def test_editors_write_reserved_names_users_do_not(service):
    """aria_shape's training writes shape/checkpoints/... as its enqueuer (an editor or admin)."""
    storage = as_rpc(service)
    with pytest.raises(Forbidden):
        await storage.put(USER, CHECKPOINT, b"squat")
    assert (await storage.put(EDITOR, CHECKPOINT, b"step 1"))["owner"] == "e1"
    assert (await storage.put(OP, CHECKPOINT, b"step 2"))["version"] == 2
    trainer = Principal("svc-client", ("service",), kind="service")  # a service token
    assert (await storage.put(trainer, CHECKPOINT, b"step 3"))["version"] == 3
    with pytest.raises(Forbidden):
        await storage.delete_version(USER, CHECKPOINT, 1)
    # Anywhere else outside users/, editors write as before.
    assert (await storage.put(EDITOR, "npc/body.glb", b"x"))["version"] == 1


async def test_reserved_prefixes_need_the_reserved_permission(service, monkeypatch):
    """A role with storage:asset:* in its tenant but no storage:reserved:write (a custom role)
    writes everywhere but under the configured reserved prefixes."""
    from aria_actors.runtime.rpc import Gate
    from aria_actors.security.rbac import DEFAULT_ROLES
    from aria_actors.storage import service as module

    gate = Gate({**DEFAULT_ROLES, "uploader": ("storage:asset:*",)})
    monkeypatch.setattr(module, "default_gate", lambda: gate)
    monkeypatch.setattr(service.config, "reserved_prefixes", ("shape/", "queue/"))
    uploader = Principal("up1", ("uploader",), tenant="t1")
    for name in (CHECKPOINT, "queue/results/1"):
        with pytest.raises(Forbidden) as refused:
            await service.put(uploader, name, b"x")
        assert refused.value.fields["action"] == "storage:reserved:write"
    assert (await service.put(uploader, "scenes/a", b"x"))["owner"] == "up1"
    assert (await service.put(EDITOR, "queue/results/1", b"x"))["version"] == 1


async def test_others_namespaces_need_write_across_tenants(service):
    storage = as_rpc(service)
    with pytest.raises(Forbidden) as refused:  # an editor may not pre-create u1's names either
        await storage.put(EDITOR, "users/u1/avatar.png", b"squat")
    assert refused.value.fields["allowed_prefix"] == "users/e1/"
    assert (await storage.put(EDITOR, "users/e1/mine", b"x"))["owner"] == "e1"
    assert (await storage.put(USER, "users/u1/avatar.png", b"mine"))["owner"] == "u1"
    # Existing assets there: an editor reaches them as before (storage:*:* in its tenant) ...
    assert (await storage.put(EDITOR, "users/u1/avatar.png", b"edit"))["version"] == 2
    # ... and an admin (write @any) may create there.
    assert (await storage.put(OP, "users/u1/from-admin", b"x"))["owner"] == "operator"


async def test_a_squatted_asset_gives_its_owner_no_hold_on_others_versions(service):
    """Assets a user created before the namespaces (owner u1 outside users/u1/): it can neither
    add versions any more nor delete the versions others added."""
    storage = as_rpc(service)
    await storage.put(OP, CHECKPOINT, b"squatted")
    async with service._pool.acquire() as conn:  # as if u1 had created it before this fix
        await conn.execute("UPDATE aria_storage.assets SET owner = 'u1'")
        await conn.execute("UPDATE aria_storage.versions SET owner = 'u1'")
    with pytest.raises(Forbidden):
        await storage.put(USER, CHECKPOINT, b"poisoned manifest")
    assert (await storage.put(EDITOR, CHECKPOINT, b"real manifest"))["version"] == 2
    with pytest.raises(Forbidden):
        await storage.delete_version(USER, CHECKPOINT, 2)
    await storage.delete_version(USER, CHECKPOINT, 1)  # its own upload
    assert [v["version"] for v in await storage.versions(OP, CHECKPOINT)] == [2]


async def test_own_delete_reaches_only_own_uploads(service):
    storage = as_rpc(service)
    await storage.put(USER, "users/u1/a", b"v1")
    await storage.put(EDITOR, "users/u1/a", b"v2")
    async with service._pool.acquire() as conn:  # a version from before uploaders were recorded
        await conn.execute("UPDATE aria_storage.versions SET owner = NULL WHERE version = 1")
    for version in (1, 2):
        with pytest.raises(Forbidden):
            await storage.delete_version(USER, "users/u1/a", version)
    with pytest.raises(AssetNotFound):
        await storage.delete_version(USER, "users/u1/a", 9)
    await storage.delete_version(EDITOR, "users/u1/a", 1)
    assert [v["version"] for v in await storage.versions(OP, "users/u1/a")] == [2]


# Text Postgres cannot store (issue 16 review: NUL and control characters were 500s) ---------------
BAD_TEXT = ("a\x00b", "a\nb", "tab\t", "del\x7f", "c1\x85", "\ud800")
BAD_METADATA = ({"k": "a\x00"}, {"k\x00": 1}, {"k": [{"deep": "\x00"}]}, {"k": float("nan")},
                {"k": "\udc00"}, {"k": {"inf": float("inf")}})


async def _bad_request(call, field: str) -> None:
    """A 400 raised by the service itself (not the boundary's UnstorableValue safety net)."""
    with pytest.raises(BadRequest) as refused:
        await call
    assert type(refused.value) is BadRequest and refused.value.fields["field"] == field, refused.value


async def test_unstorable_text_is_a_400_before_anything_is_stored(service):
    for bad in BAD_TEXT:
        await _bad_request(service.put(OP, bad, b"x"), "name")
        await _bad_request(service.put(OP, "ok", b"x", tags=["t", bad]), "tags")
        await _bad_request(service.put(OP, "ok", b"x", content_type=bad), "content_type")
        await _bad_request(service.search(OP, tags=[bad]), "tags")
        await _bad_request(service.search(OP, name_prefix=bad), "name_prefix")
        await _bad_request(service.search(OP, content_type=bad), "content_type")
        for call in (service.info(OP, bad), service.versions(OP, bad), service.get(OP, bad),
                     service.read_range(OP, bad, 0, 1), service.index(OP, bad),
                     service.delete_version(OP, bad, 1), service.apply_lifecycle(OP, name=bad, keep_last=1)):
            await _bad_request(call, "name")
        await _bad_request(service.set_lifecycle_rule(OP, bad, keep_last=1), "name_prefix")
        await _bad_request(service.delete_lifecycle_rule(OP, bad), "name_prefix")
    for bad in BAD_METADATA:
        await _bad_request(service.put(OP, "ok", b"x", metadata=bad), "metadata")
        await _bad_request(service.search(OP, metadata=bad), "metadata")
    assert (await service.stats(OP))["indexes"] == 0
    # Text that is fine: other control characters in metadata, any printable Unicode in names.
    info = await service.put(OP, "héros/中/ok", b"x", metadata={"note": "line 1\nline 2\t."}, tags=["é"])
    assert (await service.search(OP, metadata={"note": "line 1\nline 2\t."}))[0]["name"] == info["name"]


async def test_unstorable_text_through_the_boundary_is_the_services_400(service):
    storage = as_rpc(service)
    await _bad_request(storage.put(EDITOR, "a\x00b", b"x"), "name")
    await _bad_request(storage.search(USER, metadata={"k": "\x00"}), "metadata")
    await _bad_request(storage.upload_commit(USER, await storage.upload_begin(USER), "users/u1/a",
                                             tags=["\x00"]), "tags")
