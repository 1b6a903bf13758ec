"""The HTTP edge: problem documents never carry a traceback; any asset name makes valid headers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.testclient import TestClient

from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.testing import api_app

REMOTE = ("cannot deploy model version 'base': ray::ServeController.deploy() (pid=9)\n"
          "Traceback (most recent call last):\n  File \"/x.py\", line 1, in f\nRuntimeError: boom")


def test_a_problem_detail_never_carries_a_remote_traceback() -> None:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise ServiceUnavailable(REMOTE)

    r = TestClient(api_app(router, clients={})).get("/boom")
    assert r.status_code == 503
    assert "Traceback" not in r.text and "File" not in r.text
    assert r.json()["detail"].startswith("cannot deploy model version 'base'")


class _Storage:
    name = "aria_storage"

    async def call(self, method: str, caller: Any, *args: Any, **kwargs: Any) -> Any:
        if method == "info":
            return {"name": args[0], "version": 1, "size": 3, "content_type": "téxt/plain"}
        if method == "read_range":
            return b"abc"[args[1]:args[2]]
        raise AssertionError(method)


def test_content_of_an_asset_with_any_name_has_valid_headers() -> None:
    from aria_actors.storage.api import router

    http = TestClient(api_app(router, clients={"aria_storage": _Storage()}))
    name = "users/operator/ÂÔĽ\U000444d4é"
    for headers in ({}, {"Range": "bytes=0-1"}):
        r = http.get(f"/v1/storage/assets/{name}/content", headers=headers)
        assert r.status_code in (200, 206), r.text
        assert r.headers["etag"].isascii() and r.headers["content-type"] == "application/octet-stream"
