"""aria_debugger's tracing through the gateway of a running `aria up` (the shared one): an asset
upload (``PUT /v1/storage/assets/{name}``) answers with its trace id, and its trace, read back
through ``/v1/debugger/traces/{id}``, is gateway -> call -> aria_storage -> PostgreSQL with each
span's parent the one above it, in the listing too, from the SDK and from `aria debugger`. Also:
no attribute carries the asset's name or body, an unknown id is a 404 problem, a malformed one a
400, a viewer is refused (403)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem, until

RUN = uuid.uuid4().hex[:8]
PASSWORD = "e2e tracing passphrase"
BODY = b"traced body " + RUN.encode()


@pytest.fixture(scope="module")
def viewer(shared_aria: RunningAria, aria: AriaClient) -> dict[str, str]:
    name = f"trace-viewer-{RUN}"
    aria.auth.create_user(name, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        token = anon.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    return {"authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}


def walk(nodes: list[dict[str, Any]], parent: dict[str, Any] | None = None
         ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    for node in nodes:
        yield node, parent
        yield from walk(node["children"], node)


def _with_queries(http: httpx.Client, trace_id: str) -> dict[str, Any] | None:
    """The trace once aria_storage's commit and a PostgreSQL span under it are collected."""
    r = http.get(f"/v1/debugger/traces/{trace_id}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    spans = {n["span_id"]: n for n, _ in walk(body["tree"])}
    commit = [n for n in spans.values() if n["name"] == "aria_storage.upload_commit"]
    if not commit or not any(n["name"].startswith("db ") for n, _ in walk(commit[0]["children"])):
        return None
    return body


@pytest.fixture(scope="module")
def upload(http: httpx.Client) -> tuple[str, httpx.Response]:
    name = f"tracing-{RUN}/notes.txt"
    r = http.put(f"/v1/storage/assets/{name}", content=BODY, headers={"content-type": "text/plain"})
    assert r.status_code in (200, 201), r.text[:500]
    return name, r


def test_an_upload_is_traced_from_the_gateway_to_postgresql(http: httpx.Client,
                                                             upload: tuple[str, httpx.Response]) -> None:
    name, r = upload
    trace_id = r.headers["x-trace-id"]
    assert r.headers["traceparent"] == f"00-{trace_id}-{r.headers['traceparent'].split('-')[2]}-01"
    got = until(lambda: _with_queries(http, trace_id), "the upload's trace down to its PostgreSQL spans")
    assert got["trace_id"] == trace_id and {"aria_coordinate", "aria_storage"} <= set(got["services"])
    assert got["source"] == "database"  # stored in PostgreSQL through aria_data, read back from there
    [root] = [n for n in got["tree"] if n["parent_id"] is None]
    assert root["name"] == "PUT /v1/storage/assets/{name:path}" and root["service"] == "aria_coordinate"
    assert root["attributes"]["http.route"] == "/v1/storage/assets/{name:path}"
    assert root["attributes"]["http.response.status_code"] == r.status_code
    nodes = list(walk(got["tree"]))
    by_id = {n["span_id"]: n for n, _ in nodes}
    # gateway -> its call -> aria_storage's serving span -> a PostgreSQL statement, each the parent of the next
    [commit] = [n for n, _ in nodes if n["name"] == "aria_storage.upload_commit"]
    call = by_id[commit["parent_id"]]
    assert call["name"] == "call aria_storage.upload_commit" and call["service"] == "aria_coordinate"
    assert call["parent_id"] == root["span_id"] and call["kind"] == "client" and commit["kind"] == "server"
    assert commit["service"] == "aria_storage" and commit["attributes"]["rpc.method"] == "upload_commit"
    queries = [n for n, p in walk(commit["children"], commit) if n["name"].startswith("db ")]
    assert queries and all(q["service"] == "aria_storage" for q in queries)
    for q in queries:
        assert q["attributes"]["db.system"] == "postgresql" and q["attributes"]["db.statement.name"]
        chain, up = [], q
        while up["parent_id"] in by_id:
            up = by_id[up["parent_id"]]
            chain.append(up["span_id"])
        assert commit["span_id"] in chain and chain[-1] == root["span_id"]
    for node, parent in nodes:  # each span starts within its parent and no attribute leaks the request
        if parent is not None:
            assert node["start"] >= parent["start"] - 0.001
        assert node["status"] == "ok"
        text = repr(node["attributes"])
        assert name not in text and BODY.decode() not in text and "Bearer" not in text


def test_the_trace_is_listed_and_read_from_the_sdk_and_the_cli(http: httpx.Client, aria: AriaClient,
                                                               shared_aria: RunningAria,
                                                               upload: tuple[str, httpx.Response]) -> None:
    trace_id = upload[1].headers["x-trace-id"]
    until(lambda: _with_queries(http, trace_id), "the upload's trace")
    listed = until(lambda: [t for t in aria.debugger.traces(service="aria_storage", limit=500)["traces"]
                            if t["trace_id"] == trace_id], "the upload's trace in the listing")
    assert listed[0]["root"] == "PUT /v1/storage/assets/{name:path}" and listed[0]["spans"] >= 4
    assert aria.debugger.traces(min_duration_ms=listed[0]["duration_ms"] + 3_600_000)["traces"] == []
    assert aria.debugger.trace(trace_id)["trace_id"] == trace_id
    env = {"ARIA_TOKEN": shared_aria.token()}
    out = shared_aria.aria("debugger", "trace", trace_id, env=env)
    assert out.returncode == 0, out.stderr
    assert "aria_storage.upload_commit" in out.stdout and "[aria_storage]" in out.stdout
    out = shared_aria.aria("debugger", "traces", "--service", "aria_storage", "--limit", "500", env=env)
    assert out.returncode == 0 and trace_id in out.stdout, out.stderr
    bad = shared_aria.aria("debugger", "trace", "nope", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_bad_trace_reads_are_problems(http: httpx.Client, shared_aria: RunningAria, viewer: dict[str, str],
                                      upload: tuple[str, httpx.Response]) -> None:
    assert_problem(http.get(f"/v1/debugger/traces/{'f' * 32}"), 404, "not-found")
    for bad in ("nope", "F" * 32, "0" * 32, "a" * 33):
        assert_problem(http.get(f"/v1/debugger/traces/{bad}"), 400, "bad-request")
    for params in ({"limit": 0}, {"limit": 501}, {"min_duration_ms": -1}, {"service": "aria_nope"}):
        r = http.get("/v1/debugger/traces", params=params)
        assert r.status_code in (400, 404), r.text[:300]
        assert r.headers["content-type"].startswith("application/problem+json")
    trace_id = upload[1].headers["x-trace-id"]
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert_problem(anon.get(f"/v1/debugger/traces/{trace_id}", headers=viewer), 403, "forbidden")
        assert_problem(anon.get("/v1/debugger/traces", headers=viewer), 403, "forbidden")
        assert anon.get("/v1/debugger/traces").status_code == 401
