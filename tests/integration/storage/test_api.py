"""The /v1/storage router through TestClient, over a real service (Postgres + local store).

Requests are made as the principal named by the test-only ``X-Test-As`` header (default: the
operator), standing for what the gateway verifies from a bearer token.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.sdk import AriaClient
from aria_actors.storage.api import router
from aria_actors.storage.cli import app as cli_app
from tests.integration.storage.test_service import EDITOR, OP, OTHER, USER, VIEWER, _asset, _service

CALLERS = {"operator": OP, "user": USER, "other": OTHER, "editor": EDITOR, "viewer": VIEWER,
           "anonymous": Principal.anonymous()}


def _as(who: str) -> dict[str, str]:
    return {"X-Test-As": who}


@pytest.fixture
def http(tmp_path, fresh_database):
    """The service starts inside the app's lifespan, so its pool lives on TestClient's loop (one
    app for every caller: runtime.testing.api_app fixes one caller per app)."""
    svc = _service(tmp_path, fresh_database, sync_targets={"backup": str(tmp_path / "backup")})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await svc.start(Deps())
        yield
        await svc.stop()

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_storage": LocalClient(svc)}

    @app.middleware("http")
    async def as_caller(request: Request, call_next):
        request.state.caller = CALLERS[request.headers.get("x-test-as", "operator")]
        return await call_next(request)

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


def test_http_a_user_cannot_gc_sync_verify_or_apply_lifecycle(http, tmp_path):
    r = http.put("/v1/storage/assets/users/u1/a", content=_asset(120, 20_000), headers=_as("user"))
    assert r.status_code == 200
    for who in ("user", "editor", "viewer"):
        for path, body in (("/v1/storage/gc", {}), ("/v1/storage/sync", {"target": "backup"}),
                           ("/v1/storage/lifecycle", {"keep_last": 1}),
                           ("/v1/storage/lifecycle/rules", {"keep_last": 1})):
            r = http.post(path, json=body, headers=_as(who))
            assert r.status_code == 403, (who, path, r.text)
            assert r.json()["type"].endswith("/forbidden")
        assert http.post("/v1/storage/verify", headers=_as(who)).status_code == 403
    # The permission is checked before the body: a forbidden caller learns nothing from validation.
    assert http.post("/v1/storage/sync", json={"destination": "/tmp/x"}, headers=_as("user")).status_code == 403
    assert http.post("/v1/storage/gc", json={}, headers=_as("anonymous")).status_code == 401
    assert not (tmp_path / "backup").exists()
    assert http.post("/v1/storage/gc", json={"dry_run": True}).json()["dry_run"] is True


def test_http_sync_takes_a_configured_target_name_only(http, tmp_path):
    assert http.put("/v1/storage/assets/s", content=_asset(121, 50_000)).status_code == 200
    evil = tmp_path / "evil"
    for body in ({"destination": str(evil)}, {"target": str(evil)}, {"target": f"file://{evil}"},
                 {"target": "s3://bucket/x"}, {"target": "backup", "source": str(evil)}, {}):
        r = http.post("/v1/storage/sync", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = http.post("/v1/storage/sync", json={"target": "nope"})
    assert r.status_code == 404 and r.json()["targets"] == ["backup"]
    assert r.json()["type"].endswith("storage-sync-target-unknown")
    assert not evil.exists()
    assert http.get("/v1/storage/sync/targets").json() == ["backup"]
    r = http.post("/v1/storage/sync", json={"target": "backup"})
    assert r.status_code == 200, r.text
    assert r.json()["copied"] > 0 and (tmp_path / "backup").is_dir()


def test_http_users_change_only_their_own_assets(http):
    r = http.put("/v1/storage/assets/users/u1/face.png", content=b"mine", headers=_as("user"))
    assert r.status_code == 200 and r.json()["owner"] == "u1"
    assert http.get("/v1/storage/assets/users/u1/face.png/content", headers=_as("other")).content == b"mine"
    r = http.put("/v1/storage/assets/users/u1/face.png", content=b"theirs", headers=_as("other"))
    assert r.status_code == 403, r.text
    assert http.delete("/v1/storage/assets/users/u1/face.png/versions/1", headers=_as("other")).status_code == 403
    assert http.put("/v1/storage/assets/v/x", content=b"x", headers=_as("viewer")).status_code == 403
    assert http.put("/v1/storage/assets/users/u1/face.png", content=b"v2", headers=_as("user")).status_code == 200
    assert http.delete("/v1/storage/assets/users/u1/face.png/versions/1", headers=_as("user")).status_code == 204
    assert http.delete("/v1/storage/assets/users/u1/face.png/versions/2", headers=_as("editor")).status_code == 204
    # no versions left
    assert http.get("/v1/storage/assets/users/u1/face.png", headers=_as("viewer")).status_code == 404


def test_http_bad_input_is_a_4xx(http):
    assert http.put("/v1/storage/assets/ok", content=b"x").status_code == 200
    assert http.get("/v1/storage/assets/ok/versions/0").status_code == 422
    assert http.get("/v1/storage/assets/ok/content", params={"version": -1}).status_code == 422
    assert http.get("/v1/storage/assets/" + "n" * 600).status_code == 422
    r = http.put("/v1/storage/assets/ok", content=b"x", params={"tags": ",".join(["t"] * 100)})
    assert r.status_code == 400 and r.json()["field"] == "tags"
    r = http.put("/v1/storage/assets/ok", content=b"x", headers={"X-Aria-Metadata": "[1]"})
    assert r.status_code == 400
    assert http.post("/v1/storage/search", json={"limit": 10_000}).status_code == 422
    assert http.post("/v1/storage/search", json={"tags": [""]}).status_code == 422
    assert http.post("/v1/storage/gc", json={"grace_s": -1}).status_code == 422
    assert http.post("/v1/storage/lifecycle/rules", json={"name_prefix": "x"}).status_code == 400


def test_http_a_user_writes_only_in_its_own_namespace(http):
    r = http.put("/v1/storage/assets/shape/checkpoints/run/manifest", content=b"squat", headers=_as("user"))
    assert r.status_code == 403, r.text
    assert r.json()["allowed_prefix"] == "users/u1/" and "users/u1/" in r.json()["detail"]
    r = http.put("/v1/storage/assets/shape/checkpoints/run/manifest", content=b"m1", headers=_as("editor"))
    assert r.status_code == 200 and r.json()["owner"] == "e1"
    assert http.put("/v1/storage/assets/users/u1/a", content=b"mine", headers=_as("user")).status_code == 200
    assert http.put("/v1/storage/assets/users/u1/a", content=b"edit", headers=_as("editor")).status_code == 200
    # u1 owns the asset, not the editor's version of it.
    assert http.delete("/v1/storage/assets/users/u1/a/versions/2", headers=_as("user")).status_code == 403
    assert http.delete("/v1/storage/assets/users/u1/a/versions/1", headers=_as("user")).status_code == 204


@pytest.mark.parametrize("bad", ["%00", "%01", "%7F", "%C2%85", "%09"])
def test_http_control_characters_in_names_are_a_422(http, bad):
    for method, path in (("PUT", f"a{bad}b"), ("GET", f"a{bad}b"), ("GET", f"a{bad}b/content"),
                         ("GET", f"a{bad}b/index"), ("GET", f"a{bad}b/versions/1"),
                         ("DELETE", f"a{bad}b/versions/1")):
        r = http.request(method, f"/v1/storage/assets/{path}", content=b"x" if method == "PUT" else None)
        assert r.status_code == 422, (method, path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    for params in ({"tags": f"a,b{bad}"}, {"content_type": f"text/{bad}"}):
        r = http.put("/v1/storage/assets/ok?" + "&".join(f"{k}={v}" for k, v in params.items()), content=b"x")
        assert r.status_code == 422, (params, r.text)
    r = http.delete(f"/v1/storage/lifecycle/rules?name_prefix=a{bad}")
    assert r.status_code == 422, r.text
    assert http.get("/v1/storage/stats").json()["indexes"] == 0


@pytest.mark.parametrize("header", ['{"k": "a\\u0000"}', '{"k\\u0000": 1}', '{"a": [{"b": ["\\u0000"]}]}',
                                    '{"k": NaN}', '{"k": "\\ud800"}'])
def test_http_unstorable_metadata_is_a_422(http, header):
    r = http.put("/v1/storage/assets/ok", content=b"x", headers={"X-Aria-Metadata": header})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/validation") and "X-Aria-Metadata" in r.json()["detail"]
    r = http.post("/v1/storage/search", content=f'{{"metadata": {header}}}',
                  headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_http_unstorable_search_and_rule_fields_are_a_422(http):
    for body in ({"name_prefix": "a\u0000"}, {"tags": ["\u0000"]}, {"content_type": "x\u0001"},
                 {"metadata": {"k": ["\u0000"]}}):
        r = http.post("/v1/storage/search", json=body)
        assert r.status_code == 422, (body, r.text)
    for path, body in (("/v1/storage/lifecycle/rules", {"name_prefix": "a\u0000", "keep_last": 1}),
                       ("/v1/storage/lifecycle", {"name": "a\u0000", "keep_last": 1})):
        r = http.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
    # Control characters other than NUL are fine inside metadata.
    r = http.put("/v1/storage/assets/ok", content=b"x", headers={"X-Aria-Metadata": '{"note": "a\\nb"}'})
    assert r.status_code == 200, r.text
    assert [v["name"] for v in http.post("/v1/storage/search", json={"metadata": {"note": "a\nb"}}).json()] == ["ok"]


def test_http_a_content_type_header_with_c1_controls_is_a_422(http):
    r = http.put("/v1/storage/assets/ok", content=b"x", headers=[(b"content-type", b"text/\x85plain")])
    assert r.status_code == 422, r.text
    assert http.get("/v1/storage/stats").json()["indexes"] == 0


def test_cli_through_the_router(http, tmp_path, monkeypatch):
    """`aria storage ...` over the router: assets, search, lifecycle, and the operator's maintenance."""
    def make_client(token, timeout):
        client = AriaClient("http://testserver", http=http)
        client.close = lambda: None  # the fixture's client (and the service's loop) outlive one command
        return client

    monkeypatch.setattr(support, "make_client", make_client)
    runner = CliRunner()

    def run(*args: str):
        r = runner.invoke(cli_app, list(args))
        assert r.exit_code == 0, r.output
        return r.stdout

    data = _asset(130, 3 * 1024 * 1024)  # three blocks: streamed up in pieces
    src = tmp_path / "body.glb"
    src.write_bytes(data)
    put = json.loads(run("put", "npc/cli.glb", str(src), "--tag", "npc", "--metadata", '{"lod": 1}',
                         "--content-type", "model/gltf-binary"))
    assert put["version"] == 1 and put["size"] == len(data) and put["tags"] == ["npc"]
    again = json.loads(run("put", "npc/cli.glb", str(src)))
    assert again["version"] == 2
    out = tmp_path / "back.glb"
    run("get", "npc/cli.glb", "--version", "1", "--out", str(out))
    assert out.read_bytes() == data
    assert [line.split()[0] for line in run("versions", "npc/cli.glb").splitlines()] == ["1", "2"]
    assert run("search", "--metadata", '{"lod": 1}').split()[0] == "npc/cli.glb@1"
    assert "npc/cli.glb" in run("search", "--prefix", "npc/", "--latest")
    stats = json.loads(run("service", "stats"))
    assert stats["logical_bytes"] >= 2 * len(data) and stats["dedupe_ratio"] >= 1.9
    assert json.loads(run("prune", "npc/cli.glb", "--keep-last", "1", "--dry-run")) == {"npc/cli.glb": [1]}
    assert "t/" in run("rules", "--set", "t/", "--keep-last", "3")
    assert run("service", "targets").split() == ["backup"]
    assert json.loads(run("service", "sync", "backup"))["copied"] > 0
    assert json.loads(run("service", "verify"))["corrupt"] == {}
    assert json.loads(run("service", "gc", "--dry-run"))["dry_run"] is True
    assert "deleted" in run("rm", "npc/cli.glb", "1")
    r = runner.invoke(cli_app, ["get", "npc/cli.glb", "--version", "1"])
    assert r.exit_code == 1 and "not found" in r.output.lower()
    assert runner.invoke(cli_app, ["put", "x", str(src), "--metadata", "[1]"]).exit_code == 2
