"""aria_tune's cache proposals through the gateway of the shared `aria up`: after storage uploads
and downloads and engine plans with learning, ``GET /v1/tune/caches`` lists the chunk cache and
the method cache with their hits, misses and LRU curves (read from each service's caches door),
one cache's finer view, the CLI, a resize refused where a cache is not resizable, bad input, and a
viewer refused."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e caches passphrase"


def _caches(http: httpx.Client) -> dict[str, dict[str, Any]]:
    r = http.get("/v1/tune/caches")
    assert r.status_code == 200, r.text[:500]
    return {c["name"]: c for c in r.json()["caches"]}


def test_caches_show_chunk_and_method_caches_with_curves(http: httpx.Client, aria: AriaClient) -> None:
    name = f"e2e-caches-{RUN}"
    data = os.urandom(1_500_000)  # about 20 chunks of 64 KiB on average
    aria.storage.put(name, data)
    for _ in range(3):  # read again: each chunk's second read is a reuse at the working set's distance
        assert aria.storage.get(name) == data

    problems = iter([f"BW_rand_{n}" for n in range(5, 45, 2)] * 3)

    def planned() -> dict[str, dict[str, Any]] | None:
        problem = next(problems)
        for _ in range(2):  # the second plan hits what the first learned
            aria.engine.learn("gtpyhop-blocksworld-gtohp", problem=problem)
        got = _caches(http)
        method = got.get("method")
        return got if method and method["hits"] > 0 and method["sampled"] > 0 else None

    # a sampled lookup (1 in 8 keys; a problem has about 30) shows after a problem or two
    found = _until(planned, "a method cache with hits and sampled lookups")
    chunk = found["chunk"]
    assert chunk["service"] == "aria_storage" and chunk["unit"] == "chunks"
    # no cache_dir: every read is a miss, and every read is in the trace (rate 1)
    assert chunk["hits"] == 0 and chunk["misses"] >= 30 and chunk["sampled"] >= 30, chunk
    assert chunk["reference"]["basis"] == "working set" and chunk["reference"]["size"] >= 5
    assert [p["size"] for p in chunk["curve"]] == sorted(p["size"] for p in chunk["curve"])
    ratios = [p["hit_ratio"] for p in chunk["curve"]]
    # this test's reads reuse their chunks (other modules' reads may come between them)
    assert ratios == sorted(ratios) and ratios[-1] > 0, chunk["curve"]
    assert chunk["proposal"]["size"] >= 1 and "storage.cache_dir" in chunk["proposal"]["apply"]
    method = found["method"]
    assert method["service"] == "aria_engine" and method["partitioned"] and method["capacity"] == 10_000
    assert method["curve"] and method["proposal"]["size"] >= 1 and method["resizable"]
    assert 0 < method["measured_hit_ratio"] <= 1
    for c in (chunk, method):  # the figures docs/tune.md quotes (pytest -s)
        print(f"{c['name']}: {c['hits']} hits, {c['misses']} misses, {c['sampled']} sampled, reference "
              f"{c['reference']}, curve {[(p['size'], p['hit_ratio']) for p in c['curve']]}, proposal "
              f"{c['proposal']['size']} ({c['proposal']['reason']})")
    one = http.get("/v1/tune/caches/chunk")
    assert one.status_code == 200, one.text[:500]
    assert len(one.json()["curve"]) > len(chunk["curve"]) and one.json()["hits"] == 0
    sdk = aria.tune.get_cache("method")
    assert sdk["name"] == "method" and sdk["proposal"] is not None


def test_resize_and_bad_input(http: httpx.Client, aria: AriaClient) -> None:
    _problem(http.get("/v1/tune/caches/no-such-cache"), 404, "tune-unknown-cache")
    _problem(http.get("/v1/tune/caches/Bad%20Name"), 422, "validation")
    _problem(http.post("/v1/tune/caches/method/resize", json={}), 422, "validation")
    _problem(http.post("/v1/tune/caches/method/resize", json={"size": 0}), 422, "validation")
    _problem(http.post("/v1/tune/caches/no-such-cache/resize", json={"size": 10}), 404, "tune-unknown-cache")
    aria.storage.put(f"e2e-caches-r-{RUN}", b"x" * 1000)
    assert aria.storage.get(f"e2e-caches-r-{RUN}") == b"x" * 1000
    r = http.post("/v1/tune/caches/chunk/resize", json={"size": 10})  # a directory without a size bound
    body = _problem(r, 409, "conflict")
    assert "storage.cache_dir" in body["detail"]
    _until(lambda: "method" in _caches(http), "the method cache registered")
    before = _caches(http)["method"]["capacity"]
    got = http.post("/v1/tune/caches/method/resize", json={"size": 5000})
    assert got.status_code == 200, got.text[:500]
    assert got.json() == {"name": "method", "service": "aria_engine", "before": before, "after": 5000}
    assert _caches(http)["method"]["capacity"] == 5000
    back = aria.tune.resize_cache("method", before)
    assert back["after"] == before


def test_a_viewer_may_not_read_caches_and_an_editor_may_not_resize(shared_aria: RunningAria,
                                                                  aria: AriaClient) -> None:
    headers = {}
    for role in ("viewer", "editor"):
        user = f"caches-{role}-{RUN}"
        aria.auth.create_user(user, PASSWORD, roles=[role])
        with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
            token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
            headers[role] = {"authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/tune/caches").status_code == 401
        assert anon.get("/v1/tune/caches", headers=headers["viewer"]).status_code == 403
        r = anon.post("/v1/tune/caches/method/resize", json={"size": 10}, headers=headers["editor"])
        assert r.status_code == 403, r.text


def test_the_cli_lists_and_shows_caches(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    ls = shared_aria.aria("tune", "caches", "ls", env=env)
    assert ls.returncode == 0, ls.stderr
    assert "chunk" in ls.stdout and "aria_storage" in ls.stdout
    as_json = shared_aria.aria("tune", "caches", "ls", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert any(c["name"] == "chunk" for c in json.loads(as_json.stdout)["caches"])
    show = shared_aria.aria("tune", "caches", "show", "chunk", env=env)
    assert show.returncode == 0 and "proposed" in show.stdout, show.stdout + show.stderr
    missing = shared_aria.aria("tune", "caches", "show", "no-such-cache", env=env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
