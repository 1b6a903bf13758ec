"""The /v1/storage router through TestClient, over a real service (Postgres + local store)."""

from __future__ import annotations

import contextlib
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.storage.api import router
from tests.integration.storage.test_service import _asset, _service


@pytest.fixture
def http(tmp_path, fresh_database):
    """The service starts inside the app's lifespan, so its pool lives on TestClient's loop."""
    svc = _service(tmp_path, fresh_database)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await svc.start(Deps())
        yield
        await svc.stop()

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_storage": LocalClient(svc)}
    with TestClient(app) as c:
        yield c


def test_http_put_get_range_search(http):
    data = _asset(50, 300_000)
    r = http.put("/v1/storage/assets/npc/body.glb?tags=npc,body", content=data,
                 headers={"content-type": "model/gltf-binary", "X-Aria-Metadata": '{"lod": 2}'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["tags"] == ["body", "npc"]
    r = http.get("/v1/storage/assets/npc/body.glb/content")
    assert r.content == data and r.headers["content-type"] == "model/gltf-binary"
    r = http.get("/v1/storage/assets/npc/body.glb/content", headers={"Range": "bytes=100000-170000"})
    assert r.status_code == 206 and r.content == data[100000:170001]
    assert r.headers["content-range"] == f"bytes 100000-170000/{len(data)}"
    r = http.get("/v1/storage/assets/npc/body.glb/content", headers={"Range": "bytes=-10"})
    assert r.content == data[-10:]
    r = http.get("/v1/storage/assets/npc/body.glb/content", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    r = http.post("/v1/storage/search", json={"metadata": {"lod": 2}})
    assert [x["name"] for x in r.json()] == ["npc/body.glb"]
    idx = http.get("/v1/storage/assets/npc/body.glb/index")
    from aria_actors.storage.index import decode

    assert decode(idx.content).length == len(data)
    assert http.get("/v1/storage/stats").json()["indexes"] == 1


def test_http_streams_in_parts(http, monkeypatch):
    from aria_actors.storage import api

    monkeypatch.setattr(api, "PART", 50_000)  # force several upload parts and download windows
    data = _asset(51, 400_000)
    r = http.put("/v1/storage/assets/big.bin", content=iter([data[i:i + 7000]
                                                          for i in range(0, len(data), 7000)]))
    assert r.status_code == 200, r.text
    assert r.json()["size"] == len(data)
    r = http.get("/v1/storage/assets/big.bin/content")
    assert r.content == data and r.headers["content-length"] == str(len(data))
    assert http.put("/v1/storage/assets/empty", content=b"").json()["size"] == 0
    assert http.get("/v1/storage/assets/empty/content").content == b""


def test_http_errors_are_problems(http):
    r = http.get("/v1/storage/assets/nope/content")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("storage-asset-not-found")
    r = http.put("/v1/storage/assets/x", content=b"1", headers={"X-Aria-Metadata": "{bad"})
    assert r.status_code == 400 and "X-Aria-Metadata" in r.json()["detail"]
    r = http.post("/v1/storage/lifecycle", json={"keep_last": 0})
    assert r.status_code == 422
    r = http.post("/v1/storage/search", json={"unknown": 1})
    assert r.status_code == 422
    r = http.delete("/v1/storage/assets/nope/versions/1")
    assert r.status_code == 404
    assert json.loads(r.text)["name"] == "nope"


def test_http_lifecycle_rules(http):
    for i in range(3):
        assert http.put("/v1/storage/assets/t/a", content=_asset(110 + i, 20_000)).status_code == 200
    r = http.post("/v1/storage/lifecycle/rules", json={"name_prefix": "t/", "keep_last": 2})
    assert r.status_code == 200, r.text
    assert http.get("/v1/storage/lifecycle/rules").json()[0]["keep_last"] == 2
    assert http.post("/v1/storage/lifecycle", json={"dry_run": True}).json() == {"t/a": [1]}
    assert http.post("/v1/storage/lifecycle", json={}).json() == {"t/a": [1]}
    assert [v["version"] for v in http.get("/v1/storage/assets/t/a").json()] == [2, 3]
    assert http.delete("/v1/storage/lifecycle/rules", params={"name_prefix": "t/"}).status_code == 204
    assert http.delete("/v1/storage/lifecycle/rules", params={"name_prefix": "t/"}).status_code == 404
    assert http.post("/v1/storage/lifecycle", json={}).status_code == 400
