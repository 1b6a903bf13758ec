"""runtime/tracing.py, Ray-free: traceparent encode/decode, the span ring's bounds and cursor,
attribute masking, parent links across a (simulated) Ray hop, sampling, untraced blocks, query
naming, and the gateway's trace header (coordinate/traced.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace as otel_trace

from aria_actors.coordinate.traced import install_tracing
from aria_actors.runtime import tracing
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.tracing_config import TracingSettings


@pytest.fixture
def traced() -> Iterator[None]:
    tracing.shutdown()
    tracing._ring = None
    assert tracing.setup(TracingSettings(enabled=True, sample_ratio=1.0, ring_size=64), "aria_test")
    yield
    tracing.shutdown()
    tracing._ring = None


def spans() -> list[dict[str, Any]]:
    return tracing.collect(0, tracing.MAX_COLLECT)["spans"]


# -- W3C traceparent -------------------------------------------------------------------------------
def test_traceparent_round_trip() -> None:
    text = tracing.format_traceparent(0xABC, 0x12, True)
    assert text == "00-00000000000000000000000000000abc-0000000000000012-01"
    assert tracing.parse_traceparent(text) == (0xABC, 0x12, True)
    assert tracing.parse_traceparent(tracing.format_traceparent(5, 6, False)) == (5, 6, False)


@pytest.mark.parametrize("bad", [None, 42, "", "00-abc-def-01", "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
                                 "00-" + "0" * 32 + "-" + "b" * 16 + "-01", "00-" + "a" * 32 + "-" + "0" * 16 + "-01",
                                 "00-" + "A" * 32 + "-" + "b" * 16 + "-01", "00-" + "a" * 32 + "-" + "b" * 16 + "-01x"])
def test_malformed_traceparent_is_ignored(bad: Any) -> None:
    assert tracing.parse_traceparent(bad) is None


def test_trace_id_check() -> None:
    assert tracing.is_trace_id("a" * 32)
    assert not tracing.is_trace_id("0" * 32)
    assert not tracing.is_trace_id("A" * 32)
    assert not tracing.is_trace_id("a" * 31)
    assert not tracing.is_trace_id(None)


# -- the ring --------------------------------------------------------------------------------------
def test_ring_keeps_the_newest_and_counts_what_was_missed() -> None:
    ring = tracing.SpanRing(3)
    for i in range(5):
        ring.append({"i": i})
    got, cursor, missed = ring.since(0, 10)
    assert [r["i"] for r in got] == [2, 3, 4] and cursor == 5 and missed == 2
    assert ring.since(cursor, 10) == ([], 5, 0)
    ring.append({"i": 5})
    got, cursor, missed = ring.since(5, 10)
    assert [r["i"] for r in got] == [5] and cursor == 6 and missed == 0
    assert len(ring) == 3


def test_ring_pages_with_a_limit() -> None:
    ring = tracing.SpanRing(10)
    for i in range(7):
        ring.append({"i": i})
    first, cursor, _ = ring.since(0, 4)
    rest, cursor, _ = ring.since(cursor, 4)
    assert [r["i"] for r in first + rest] == list(range(7)) and cursor == 7


def test_a_cursor_from_another_process_starts_over() -> None:
    ring = tracing.SpanRing(10)
    ring.append({"i": 0})
    got, cursor, missed = ring.since(99, 10)
    assert [r["i"] for r in got] == [0] and cursor == 1 and missed == 0


def test_collect_checks_its_arguments() -> None:
    for after, limit in ((-1, 10), ("0", 10), (True, 10), (0, 0), (0, tracing.MAX_COLLECT + 1), (0, 1.5)):
        with pytest.raises(BadRequest):
            tracing.collect(after, limit)


# -- masking ---------------------------------------------------------------------------------------
def test_only_allowed_attributes_are_kept_and_secrets_masked() -> None:
    got = tracing.clean_attributes({
        "http.route": "/v1/storage/assets/{name:path}", "http.response.status_code": 201,
        "db.statement.name": "repository.insert_version",
        "db.statement": "SELECT * FROM users WHERE password = 'x'",  # not allowed: dropped
        "http.request.body": "{}", "enduser.id": "alice",
        "rpc.method": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
        "peer.service": "postgresql://aria:pw@db/aria", "error.type": "x" * 500,
        "aria.job.worker": "token=abc", "rpc.service": ["a", "list"],
    })
    assert got == {"http.route": "/v1/storage/assets/{name:path}", "http.response.status_code": 201,
                   "db.statement.name": "repository.insert_version", "rpc.method": "***",
                   "peer.service": "***", "error.type": "***", "aria.job.worker": "***"}
    assert tracing.clean_attributes({"error.type": "ValueError"}) == {"error.type": "ValueError"}
    assert tracing.clean_attributes(None) == {}


def test_statements_are_named_never_shown() -> None:
    assert tracing.operation_of("  -- a comment\n select * from x where a = $1") == "SELECT"
    assert tracing.statement_summary("INSERT INTO t VALUES ('secret')") == "INSERT"
    assert tracing.statement_summary("transaction Repo.add.<locals>.insert") == "transaction Repo.add.<locals>.insert"


# -- spans and their links -------------------------------------------------------------------------
def test_off_costs_nothing_and_records_nothing() -> None:
    tracing.shutdown()
    assert not tracing.enabled()
    assert tracing.setup(TracingSettings(enabled=False), "aria_test") is False
    with tracing.serving("aria_x", "m", None) as span:
        assert span is None
    with tracing.calling("aria_x", "m") as extra:
        assert extra == ()
    with tracing.query("SELECT 1"), tracing.request("GET"), tracing.job("q", "w", 1), tracing.untraced():
        pass


async def _hop(traceparent: str | None) -> None:
    """The far side of a Ray call: ServiceHost.call's span, with a query inside."""
    with tracing.serving("aria_storage", "put", traceparent):
        assert otel_trace.get_current_span().is_recording()  # the log agent reads this
        with tracing.query("select 1", lambda _t: "health.ping"):
            pass


def test_parent_links_across_a_call(traced: None) -> None:
    async def main() -> None:
        with tracing.request("PUT") as root:
            with tracing.calling("aria_storage", "put") as extra:
                assert len(extra) == 1 and tracing.parse_traceparent(extra[0])[2] is True
                await asyncio.create_task(_hop(*extra))
            root.update_name("PUT /v1/storage/assets/{name:path}")

    asyncio.run(main())
    got = {s["name"]: s for s in spans()}
    root = got["PUT /v1/storage/assets/{name:path}"]
    client, server, query = got["call aria_storage.put"], got["aria_storage.put"], got["db health.ping"]
    assert root["parent_id"] is None and root["service"] == "aria_coordinate"
    assert client["parent_id"] == root["span_id"]
    assert server["parent_id"] == client["span_id"] and server["service"] == "aria_storage"
    assert query["parent_id"] == server["span_id"] and query["service"] == "aria_storage"
    assert query["attributes"] == {"db.system": "postgresql", "db.operation.name": "SELECT",
                                   "db.statement.name": "health.ping"}
    assert len({s["trace_id"] for s in got.values()}) == 1
    assert all(s["status"] == "ok" for s in got.values())


def test_errors_are_marked_with_their_type_only(traced: None) -> None:
    with pytest.raises(ValueError), tracing.serving("aria_x", "m", None):
        raise ValueError("a caller's secret")
    [span] = spans()
    assert span["status"] == "error" and span["attributes"]["error.type"] == "ValueError"
    assert "secret" not in repr(span)


def test_background_work_makes_no_span_and_calls_go_unsampled(traced: None) -> None:
    with tracing.query("SELECT 1"):
        pass
    with tracing.calling("aria_data", "dsn") as extra:
        assert tracing.parse_traceparent(extra[0])[2] is False
    with tracing.serving("aria_data", "dsn", extra[0]), tracing.query("SELECT 1"):
        pass
    assert spans() == []


def test_untraced_blocks_record_nothing_below_them(traced: None) -> None:
    with tracing.untraced():
        with tracing.calling("aria_data", "x") as extra:
            assert tracing.parse_traceparent(extra[0])[2] is False
        with tracing.serving("aria_data", "x", tracing.outgoing()):
            pass
    assert spans() == []


def test_sampling_ratio_zero_records_no_trace() -> None:
    tracing.shutdown()
    tracing._ring = None
    tracing.setup(TracingSettings(sample_ratio=0.0), "aria_test")
    try:
        with tracing.request("GET"), tracing.calling("aria_x", "m") as extra:
            assert tracing.parse_traceparent(extra[0])[2] is False
        assert spans() == []
    finally:
        tracing.shutdown()
        tracing._ring = None


def test_a_job_is_a_root(traced: None) -> None:
    with tracing.job("default", "service:aria_tune.trial", 2), tracing.calling("aria_tune", "trial"):
        pass
    got = {s["name"]: s for s in spans()}
    assert got["job service:aria_tune.trial"]["parent_id"] is None
    assert got["job service:aria_tune.trial"]["attributes"]["aria.job.attempt"] == 2
    assert got["call aria_tune.trial"]["parent_id"] == got["job service:aria_tune.trial"]["span_id"]


# -- the gateway's header --------------------------------------------------------------------------
def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/things/{name}")
    async def thing(name: str) -> dict[str, Any]:
        return {"trace": tracing.outgoing()}

    install_tracing(app)
    return app


def test_the_gateway_answers_with_its_trace_id(traced: None) -> None:
    with TestClient(_app()) as http:
        r = http.get("/v1/things/secret-name", headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    trace_id = r.headers["x-trace-id"]
    assert tracing.is_trace_id(trace_id) and trace_id != "a" * 32  # never the client's trace
    assert r.headers["traceparent"].split("-")[1] == trace_id
    assert r.json()["trace"].split("-")[1] == trace_id  # the handler runs inside the span
    [span] = spans()
    assert span["name"] == "GET /v1/things/{name}" and span["trace_id"] == trace_id
    assert span["attributes"] == {"http.request.method": "GET", "http.route": "/v1/things/{name}",
                                  "http.response.status_code": 200}
    assert "secret-name" not in repr(span)


def test_no_header_when_tracing_is_off() -> None:
    tracing.shutdown()
    with TestClient(_app()) as http:
        r = http.get("/v1/things/x")
    assert r.status_code == 200 and "x-trace-id" not in r.headers and "traceparent" not in r.headers


def test_otlp_gets_each_span_as_an_sdk_readable_span() -> None:
    tracing.shutdown()
    tracing._ring = None
    assert tracing.setup(TracingSettings(otlp_endpoint="http://127.0.0.1:9/v1/traces"), "aria_test")
    state = tracing._state
    assert state is not None and state.exporter is not None
    state.exporter.shutdown()  # the real batch exporter: replaced by one that keeps what it gets
    got: list[Any] = []

    class Keep:
        def on_end(self, span: Any) -> None:
            got.append(span)

        def shutdown(self) -> None:
            return None

    state.exporter = Keep()
    try:
        with tracing.serving("aria_x", "put", None):
            pass
        [span] = got
        assert span.name == "aria_x.put" and span.kind.name == "SERVER" and span.parent is None
        assert dict(span.attributes) == {"rpc.method": "put", "rpc.system": "ray", "rpc.service": "aria_x"}
        assert span.resource.attributes["service.name"] == "aria_test" and span.end_time >= span.start_time
        assert f"{span.context.trace_id:032x}" == spans()[0]["trace_id"]
    finally:
        tracing.shutdown()
        tracing._ring = None
