"""Correlation ids, the access log, per-route analytics and the request deadline, in-process."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from aria_actors.coordinate.analytics import RouteAnalytics
from aria_actors.coordinate.deadline import GRACE_S, Deadlines
from aria_actors.coordinate.metrics import GatewayMetrics
from aria_actors.coordinate.observe import ObserveRequests, request_id_of
from tests.unit.coordinate.apps import build, client, directory

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
async def app():
    return build(await directory())


async def test_a_valid_request_id_is_echoed_and_a_missing_or_bad_one_replaced(app) -> None:
    async with client(app) as http:
        mine = await http.get("/v1/services", headers={"X-Request-ID": "trace-42:a.b_c"})
        assert mine.headers["x-request-id"] == "trace-42:a.b_c"
        fresh = await http.get("/v1/services")
        assert HEX32.match(fresh.headers["x-request-id"])
        for bad in ("has space", "x" * 65, "semi;colon", "ünï"):
            got = (await http.get("/health", headers={"X-Request-ID": bad.encode()})).headers["x-request-id"]
            assert got != bad and HEX32.match(got), bad
    assert request_id_of([(b"x-request-id", b"")]) != ""


async def test_behind_a_proxy_that_echoes_the_id_the_gateway_adds_no_second_header() -> None:
    from aria_actors.coordinate.config import CoordinateSettings
    from aria_actors.coordinate.gateway import create_app

    app = create_app(await directory(), require_auth=False, settings=CoordinateSettings(), echo_request_id=False)
    async with client(app) as http:
        r = await http.get("/v1/services/nope", headers={"X-Request-ID": "from-the-proxy"})
    assert "x-request-id" not in r.headers and r.json()["request_id"] == "from-the-proxy"


async def test_problem_bodies_carry_the_request_id(app) -> None:
    async with client(app) as http:
        missing = await http.get("/v1/services/nope", headers={"X-Request-ID": "rid-1"})
        assert missing.status_code == 404 and missing.json()["request_id"] == "rid-1"
        unknown = await http.get("/v1/no/such/route", headers={"X-Request-ID": "rid-2"})
        assert unknown.json()["request_id"] == "rid-2"
        # An unhandled error: the problem is answered here, with the id, not by Starlette's last handler.
        boom = await http.get("/v1/t/boom", headers={"X-Request-ID": "rid-3"})
        assert boom.status_code == 500 and boom.headers["content-type"] == "application/problem+json"
        assert boom.json()["request_id"] == "rid-3" and boom.headers["x-request-id"] == "rid-3"
        assert "a bug in a handler" not in boom.text and "RuntimeError" in boom.json()["detail"]


async def test_one_access_line_per_request_with_the_route_template(app, caplog) -> None:
    caplog.set_level(logging.INFO, logger="aria.gateway.access")
    async with client(app) as http:
        await http.get("/v1/t/t_left/pid", headers={"X-Request-ID": "line-1"})
        await http.get("/v1/services/t_top", headers={"X-Request-ID": "line-2"})
    lines = [r for r in caplog.records if r.name == "aria.gateway.access"]
    assert [r.request_id for r in lines] == ["line-1", "line-2"]
    first = lines[0]
    assert (first.http_method, first.route, first.status) == ("GET", "/v1/t/{service}/pid", 200)
    assert first.duration_ms > 0 and first.subject is None
    assert first.getMessage().startswith("id=line-1 method=GET route=/v1/t/{service}/pid status=200 ms=")
    assert "t_top" not in lines[1].getMessage()  # templates, never the raw path


async def test_the_access_log_can_be_turned_off(caplog) -> None:
    caplog.set_level(logging.INFO, logger="aria.gateway.access")
    app = build(await directory(), access_log=False)
    async with client(app) as http:
        await http.get("/health")
    assert not [r for r in caplog.records if r.name == "aria.gateway.access"]


async def test_the_access_line_names_the_authenticated_subject(caplog) -> None:
    caplog.set_level(logging.INFO, logger="aria.gateway.access")
    app = build(await directory())

    @app.middleware("http")  # stands in for the bearer check: the verified claims on request.state
    async def _claims(request: Any, call_next: Any) -> Any:
        request.state.principal = {"sub": "alice", "roles": ["viewer"]}
        return await call_next(request)

    async with client(app) as http:
        await http.get("/health")
    [line] = [r for r in caplog.records if r.name == "aria.gateway.access"]
    assert line.subject == "alice" and line.getMessage().endswith(" sub=alice")


async def test_route_analytics_count_errors_and_percentiles_per_template(app) -> None:
    async with client(app) as http:
        assert (await http.get("/v1/services")).status_code == 200  # the gateway now knows t_broken failed
        for name in ("t_left", "t_right", "t_top"):
            assert (await http.get(f"/v1/t/{name}/pid")).status_code == 200
        assert (await http.get("/v1/t/t_broken/pid")).status_code == 503
        assert (await http.get("/v1/services/nope")).status_code == 404
        body = (await http.get("/v1/gateway/routes")).json()
    by_route = {(r["method"], r["route"]): r for r in body["routes"]}
    pid = by_route[("GET", "/v1/t/{service}/pid")]
    assert (pid["count"], pid["errors_4xx"], pid["errors_5xx"]) == (4, 0, 1)
    window = pid["window"]
    assert window["count"] == 4 and 0 < window["p50_ms"] <= window["p95_ms"] <= window["p99_ms"]
    assert by_route[("GET", "/v1/services/{name}")]["errors_4xx"] == 1
    assert body["access_log"] is True and body["window_s"] == 300.0
    assert body["routes"][0]["route"] == "/v1/t/{service}/pid"  # busiest first


async def test_route_analytics_need_a_bearer_token() -> None:
    app = build(await directory(), require_auth=True)
    async with client(app) as http:
        denied = await http.get("/v1/gateway/routes")
        assert denied.status_code == 401 and denied.json()["request_id"] == denied.headers["x-request-id"]
        assert (await http.get("/versions")).status_code == 200  # public, like /health


def test_analytics_memory_is_bounded_and_percentiles_use_the_window() -> None:
    from aria_actors.coordinate import analytics as a

    now = [0.0]
    stats = RouteAnalytics(clock=lambda: now[0])
    for i in range(a.RESERVOIR * 3):
        stats.record("GET", "/v1/x", 200, 0.001 * (i % 10 + 1))
    ring = stats.routes[("GET", "/v1/x")]
    assert len(ring.millis) == a.RESERVOIR and ring.count == a.RESERVOIR * 3
    now[0] = 100.0
    for _ in range(10):
        stats.record("GET", "/v1/x", 500, 1.0)  # the only samples inside a 50 s window
    snap = stats.snapshot(window_s=50.0)["routes"][0]
    assert snap["window"] == {"count": 10, "p50_ms": 1000.0, "p95_ms": 1000.0, "p99_ms": 1000.0}
    assert snap["errors_5xx"] == 10
    for i in range(a.MAX_ROUTES + 50):
        stats.record("BREW", f"/r{i}", 200, 0.001)
    assert len(stats.routes) == a.MAX_ROUTES + 1  # then one shared "other" key
    assert ("OTHER", "other") in stats.routes and not any(m == "BREW" for m, _ in stats.routes)


# -- the deadline ----------------------------------------------------------------------------------
async def test_a_request_past_the_deadline_gets_a_504_problem() -> None:
    app = build(await directory(), request_timeout_s=0.05)
    async with client(app) as http:
        late = await http.get("/v1/t/slow", params={"seconds": 30}, headers={"X-Request-ID": "late-1"})
        assert late.status_code == 504 and late.headers["content-type"] == "application/problem+json"
        doc = late.json()
        assert doc["type"].endswith("/gateway-timeout") and doc["request_id"] == "late-1"
        assert doc["deadline_s"] == 0.05
        assert (await http.get("/v1/t/slow", params={"seconds": 0})).status_code == 200
        routes = (await http.get("/v1/gateway/routes")).json()["routes"]
        assert {r["route"]: r["errors_5xx"] for r in routes}["/v1/t/slow"] == 1


async def test_a_started_stream_is_not_cut_by_the_deadline() -> None:
    app = build(await directory(), request_timeout_s=0.05)
    async with client(app) as http:
        r = await http.get("/v1/t/stream", params={"chunks": 4, "gap": 0.03})  # 0.12 s in all
        assert r.status_code == 200 and r.text == "chunk0;chunk1;chunk2;chunk3;"


async def test_the_deadline_counts_from_the_last_body_chunk() -> None:
    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    layer = ObserveRequests(echo, GatewayMetrics(), deadlines=Deadlines(0.05))
    chunks = [b"x" * 10] * 5

    async def slow_upload() -> dict[str, Any]:
        await asyncio.sleep(0.03)  # 0.15 s in all: past the deadline, but never 0.05 s without a chunk
        body = chunks.pop()
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "PUT", "path": "/v1/storage/x", "headers": []}
    await layer(scope, slow_upload, send)
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"50"


async def test_websockets_pass_through_untouched() -> None:
    seen = []

    async def ws_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await ObserveRequests(ws_app, GatewayMetrics(), deadlines=Deadlines(0.001))({"type": "websocket"}, None, None)
    assert seen == ["websocket"]


def test_a_service_with_a_longer_call_timeout_gets_a_longer_deadline() -> None:
    timeouts = {"aria_engine": 90.0, "aria_storage": 30.0}
    d = Deadlines.for_services(60.0, ["engine", "storage", "queue"], timeouts.get)
    assert d.for_path("/v1/engine/plan") == 90.0 + GRACE_S == d.for_path("/v2/engine/plan")
    assert d.for_path("/v1/storage/assets/a") == 60.0 == d.for_path("/v1/queue/jobs") == d.for_path("/health")
