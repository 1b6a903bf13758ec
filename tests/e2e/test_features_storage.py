"""aria_storage's built features through the gateway of a running `aria up` (the shared one,
whose sync targets are a directory, an S3 bucket on moto and a directory over SFTP on sshd):
content-addressed versions, ranges and caching headers, chunk indexes, dedupe and compression,
search, lifecycle, gc and verify, and sync to each kind of store."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from aria_actors.storage.index import decode
from tests.fixtures.aria_up import RunningAria


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=120) as client:
        yield client


def _random(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _name(what: str) -> str:
    return f"e2e/{uuid.uuid4().hex[:8]}/{what}"


def test_versions_come_back_whole_by_range_and_by_index(aria: AriaClient, shared_aria: RunningAria) -> None:
    name = _name("body.glb")
    one, two = _random(1, 300_000), _random(2, 200_000)
    first = aria.storage.put(name, one, content_type="model/gltf-binary", tags=["npc"], metadata={"lod": 2})
    assert (first["version"], first["size"], first["tags"], first["metadata"]) == (1, len(one), ["npc"], {"lod": 2})
    assert aria.storage.put(name, two)["version"] == 2
    assert [v["version"] for v in aria.storage.versions(name)] == [1, 2]
    assert aria.storage.get(name) == two and aria.storage.get(name, version=1) == one
    assert aria.storage.read_range(name, 100_000, 170_001, version=1) == one[100_000:170_001]
    assert aria.storage.info(name, 1)["content_type"] == "model/gltf-binary"
    assert decode(aria.storage.index(name, version=1)).length == len(one)  # its .caibx
    # what a CDN in front needs: an ETag per version, byte ranges (206), a 416 past the end
    url = f"{shared_aria.url}/v1/storage/assets/{name}/content"
    auth = {"authorization": f"Bearer {shared_aria.token()}"}
    r = httpx.get(url, headers={**auth, "Range": "bytes=-10"}, params={"version": 1})
    assert r.status_code == 206 and r.content == one[-10:]
    assert r.headers["content-range"] == f"bytes {len(one) - 10}-{len(one) - 1}/{len(one)}"
    assert r.headers["etag"] == f'"{name}@1"' and r.headers["accept-ranges"] == "bytes"
    assert httpx.get(url, headers={**auth, "Range": f"bytes={len(two)}-"}).status_code == 416
    aria.storage.delete_version(name, 1)
    assert [v["version"] for v in aria.storage.versions(name)] == [2]
    with pytest.raises(AriaError) as gone:
        aria.storage.get(name, version=1)
    assert gone.value.http_status == 404


def test_a_near_copy_shares_chunks_and_text_is_stored_compressed(aria: AriaClient) -> None:
    data = _random(3, 600_000)
    aria.storage.put(_name("a.bin"), data)
    before = aria.storage.stats()
    edited = data[:300_000] + b"an edit in the middle" + data[300_000:]
    aria.storage.put(_name("b.bin"), edited)
    after = aria.storage.stats()
    logical = after["logical_bytes"] - before["logical_bytes"]
    assert logical == len(edited)
    assert after["unique_bytes"] - before["unique_bytes"] < len(edited) / 2  # most chunks deduped
    text = b"the quick brown fox jumps over the lazy dog\n" * 20_000
    aria.storage.put(_name("fox.txt"), text)
    compressed = aria.storage.stats()
    assert compressed["stored_bytes"] - after["stored_bytes"] < len(text) / 10  # zstd


def test_search_finds_versions_by_metadata_tags_and_name(aria: AriaClient) -> None:
    prefix = _name("")
    aria.storage.put(prefix + "hero.png", b"hero", content_type="image/png", tags=["npc", "hero"],
                     metadata={"lod": 1, "kind": "face"})
    aria.storage.put(prefix + "villain.png", b"villain", content_type="image/png", tags=["npc"],
                     metadata={"lod": 2})
    aria.storage.put(prefix + "notes.txt", b"notes", content_type="text/plain")
    names = lambda found: sorted(f["name"] for f in found)  # noqa: E731
    assert names(aria.storage.search(name_prefix=prefix, tags=["npc"])) == [prefix + "hero.png", prefix + "villain.png"]
    assert names(aria.storage.search(name_prefix=prefix, metadata={"kind": "face"})) == [prefix + "hero.png"]
    assert names(aria.storage.search(name_prefix=prefix, content_type="text/plain")) == [prefix + "notes.txt"]


def test_lifecycle_rules_prune_old_versions(aria: AriaClient) -> None:
    prefix = _name("")
    name = prefix + "log.bin"
    for i in range(4):
        aria.storage.put(name, _random(10 + i, 20_000))
    assert aria.storage.apply_lifecycle(name, keep_last=3) == {name: [1]}
    aria.storage.set_lifecycle_rule(prefix, keep_last=2)
    assert {"name_prefix": prefix, "keep_last": 2} in [
        {"name_prefix": r["name_prefix"], "keep_last": r["keep_last"]} for r in aria.storage.lifecycle_rules()]
    assert aria.storage.apply_lifecycle(dry_run=True).get(name) == [2]
    assert aria.storage.apply_lifecycle().get(name) == [2]
    assert [v["version"] for v in aria.storage.versions(name)] == [3, 4]
    aria.storage.delete_lifecycle_rule(prefix)
    assert prefix not in {r["name_prefix"] for r in aria.storage.lifecycle_rules()}


def test_gc_collects_the_chunks_of_deleted_versions_and_verify_finds_the_store_sound(aria: AriaClient) -> None:
    name = _name("gone.bin")
    aria.storage.put(name, _random(20, 400_000))
    aria.storage.delete_version(name, 1)
    dry = aria.storage.gc(grace_s=0, dry_run=True)
    assert dry["dry_run"] is True and dry["removed"] > 0
    done = aria.storage.gc(grace_s=0)
    assert done["removed"] == dry["removed"] and done["removed_bytes"] > 0
    assert aria.storage.gc(grace_s=0)["removed"] == 0
    checked = aria.storage.verify()
    assert checked["checked"] == aria.storage.stats()["chunks"] and checked["corrupt"] == {}


@pytest.mark.parametrize("target", ["mirror", "s3", "sftp"])
def test_sync_copies_the_live_chunks_to_a_configured_store(aria: AriaClient, shared_aria: RunningAria,
                                                           target: str) -> None:
    targets = json.loads(shared_aria.env["ARIA_STORAGE_SYNC_TARGETS"])
    if target not in targets:
        pytest.skip(f"no {target} server here (see tests/fixtures/storage.py)")
    assert target in aria.storage.sync_targets()
    aria.storage.put(_name(f"{target}.bin"), _random(30, 200_000))
    first = aria.storage.sync(target)
    assert first["target"] == target and first["copied"] > 0 and not first["missing"]
    again = aria.storage.sync(target)
    assert again["copied"] == 0 and again["present"] == first["present"] + first["copied"]
    assert _stored(targets[target], shared_aria.env) >= first["copied"]


def _stored(url: str, env: dict[str, str]) -> int:
    """How many chunk files the store at ``url`` holds, read with the store's own protocol."""
    if url.startswith("s3://"):
        import s3fs  # s3fs: reads the bucket on moto, as aria_storage wrote it

        fs = s3fs.S3FileSystem(key="testing", secret="testing", skip_instance_cache=True,
                               client_kwargs={"endpoint_url": env["ARIA_STORAGE_S3_ENDPOINT_URL"],
                                              "region_name": "eu-west-1"})
        return sum(1 for f in fs.find(url.removeprefix("s3://")) if f.endswith(".cacnk"))
    path = Path(urlparse(url).path if url.startswith("sftp://") else url)  # sshd serves a local dir
    return sum(1 for _ in path.rglob("*.cacnk"))
