"""The channel's handler and REST routes inside the real gateway app (``create_app``, its bearer
check, its service clients) through Starlette's TestClient: authentication at the handshake, bad
frames answered without ending the connection or touching another, topics subscribed and
refused as the subscriber, and the documentation routes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from aria_actors.interface.protocol import MAX_BAD_FRAMES, MAX_SUBSCRIPTIONS
from tests.unit.interface.apps import OTHER_RUN, RUN, Gateway

WS = "/v1/interface/ws"


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    g = Gateway()
    g.workflow.add_run(RUN, "alice")
    g.workflow.add_run(OTHER_RUN, "alice")
    return g


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(gateway.app) as c:  # one event loop for every connection (one hub)
        yield c


def frames_until(ws: WebSocketTestSession, kind: str, topic: str | None = None) -> list[dict[str, Any]]:
    """Frames received up to and including the first of ``kind`` (for ``topic``)."""
    seen = []
    while True:
        frame = ws.receive_json()
        seen.append(frame)
        if frame["type"] == kind and (topic is None or frame.get("topic") == topic):
            return seen


def ping(ws: WebSocketTestSession, marker: str) -> list[dict[str, Any]]:
    """Everything queued before a pong: the connection is alive and answers in order."""
    ws.send_json({"op": "ping", "id": marker})
    seen = frames_until(ws, "pong")
    assert seen[-1] == {"type": "pong", "id": marker}
    return seen[:-1]


# -- authentication at the handshake ------------------------------------------------------------------
@pytest.mark.parametrize("how", ["none", "forged", "query", "not-bearer", "empty-subprotocol"])
def test_a_handshake_without_a_valid_token_is_closed_1008_before_accepting(
        client: TestClient, gateway: Gateway, how: str) -> None:
    token = gateway.token("alice")
    head, body, sig = token.split(".")
    kwargs: dict[str, Any] = {
        "none": {},
        "forged": {"headers": {"authorization": f"Bearer {head}.{body}.{sig[::-1]}"}},
        "query": {},
        "not-bearer": {"headers": {"authorization": f"Basic {token}"}},
        "empty-subprotocol": {"subprotocols": ["bearer"]},
    }[how]
    url = f"{WS}?access_token={token}" if how == "query" else WS
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url, **kwargs):
        pass
    assert refused.value.code == 1008
    assert "token" in refused.value.reason


def test_a_token_in_the_header_or_as_a_subprotocol_is_accepted(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        assert ws.accepted_subprotocol is None
        assert ping(ws, "a") == []
    # browsers: new WebSocket(url, ["bearer", token]); only "bearer" is selected, never the token
    with client.websocket_connect(WS, subprotocols=["bearer", gateway.token("alice")]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ping(ws, "b") == []


def test_the_connection_closes_when_its_token_expires(client: TestClient, gateway: Gateway) -> None:
    token = gateway.token("alice", ttl_s=1)
    with client.websocket_connect(WS, headers={"authorization": f"Bearer {token}"}) as ws:
        t0 = time.monotonic()
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
    assert closed.value.code == 1008 and "expired" in closed.value.reason
    assert time.monotonic() - t0 < 5


# -- bad input ----------------------------------------------------------------------------------------
BAD = [
    ("{not json", "interface-invalid-frame"),
    ("[1, 2]", "interface-invalid-frame"),
    ("x" * 5000, "interface-frame-too-large"),
    ('{"op": "dance"}', "interface-unknown-op"),
    ('{"topic": "services"}', "interface-invalid-frame"),
    ('{"op": "subscribe"}', "interface-invalid-frame"),
    ('{"op": "subscribe", "topic": 7}', "interface-invalid-frame"),
    ('{"op": "subscribe", "topic": "services", "extra": 1}', "interface-invalid-frame"),
    ('{"op": "subscribe", "topic": "services", "id": [1]}', "interface-invalid-frame"),
    ('{"op": "subscribe", "topic": "weather:today"}', "interface-unknown-topic"),
    ('{"op": "subscribe", "topic": "workflow:not-a-uuid"}', "interface-invalid-topic"),
    ('{"op": "subscribe", "topic": "job:-1"}', "interface-invalid-topic"),
    ('{"op": "subscribe", "topic": "services:extra"}', "interface-invalid-topic"),
    ('{"op": "unsubscribe", "topic": "services"}', "interface-not-subscribed"),
    ('{"op": "ping", "topic": "services"}', "interface-invalid-frame"),
    ("[" * 100_000, "interface-frame-too-large"),
    ("[" * 4000, "interface-invalid-frame"),  # deeply nested, under the cap
    ('"\\ud800"', "interface-invalid-frame"),
]


def test_each_bad_frame_is_an_error_frame_and_the_connection_goes_on(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        for text, error in BAD:
            ws.send_text(text)
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["error"] == error, (text[:60], frame)
            assert frame["detail"] and 400 <= frame["status"] < 500
        ws.send_bytes(b'{"op": "ping"}')
        assert ws.receive_json()["error"] == "interface-invalid-frame"
        ws.send_text('{"op": "subscribe", "topic": "weather", "id": "req-9"}')
        assert ws.receive_json()["id"] == "req-9"  # the request's id is echoed with its error
        assert ping(ws, "still-open") == []


def test_bad_frames_never_touch_another_clients_session(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as good, \
            client.websocket_connect(WS, headers=gateway.bearer("alice")) as bad:
        good.send_json({"op": "subscribe", "topic": f"workflow:{RUN}", "id": 1})
        assert frames_until(good, "subscribed")[-1]["id"] == 1
        for text, _ in BAD:
            bad.send_text(text)
            assert bad.receive_json()["type"] == "error"
        gateway.workflow.record(RUN, "step-started", "isolated")
        [event] = [f for f in frames_until(good, "event") if f["type"] == "event"]
        assert event["data"]["event"]["key"] == "isolated"
        assert ping(bad, "bad-still-open") == []


def test_too_many_bad_frames_close_the_connection_1008(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        for _ in range(MAX_BAD_FRAMES):
            ws.send_text("nope")
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                assert ws.receive_json()["type"] == "error"
    assert closed.value.code == 1008 and "bad frames" in closed.value.reason


# -- topics -------------------------------------------------------------------------------------------
def test_subscribe_receive_and_unsubscribe_a_workflow_timeline(client: TestClient, gateway: Gateway) -> None:
    topic = f"workflow:{RUN}"
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        ws.send_json({"op": "subscribe", "topic": topic.upper().replace("WORKFLOW", "workflow"), "id": 1})
        ack = frames_until(ws, "subscribed")[-1]
        assert ack["topic"] == topic  # one spelling per topic
        assert ack["snapshot"]["run_id"] == RUN and ack["snapshot"]["events"][0]["kind"] == "started"
        gateway.workflow.record(RUN, "step-started", "a")
        gateway.workflow.record(RUN, "step-completed", "a", state="completed")
        events = [f for f in frames_until(ws, "event") if f["type"] == "event"]
        while len(events) < 2:
            events += [f for f in frames_until(ws, "event") if f["type"] == "event"]
        assert [e["data"]["event"]["kind"] for e in events] == ["step-started", "step-completed"]
        assert [e["id"] for e in events] == [ack["last_id"] + 1, ack["last_id"] + 2]
        assert events[-1]["data"]["state"] == "completed"
        ws.send_json({"op": "unsubscribe", "topic": topic, "id": 2})
        assert frames_until(ws, "unsubscribed")[-1] == {"type": "unsubscribed", "topic": topic, "id": 2}
        gateway.workflow.record(RUN, "signal", "late")
        time.sleep(0.6)  # longer than the poll interval: an event would have come by now
        assert ping(ws, "after") == []


def test_a_topic_the_caller_may_not_read_is_refused_with_an_error_frame(client: TestClient,
                                                                       gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("bob")) as ws:
        ws.send_json({"op": "subscribe", "topic": f"workflow:{RUN}", "id": 1})
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["error"] == "workflow-unknown-run" and frame["id"] == 1
        assert frame["topic"] == f"workflow:{RUN}"
        assert ping(ws, "open") == []  # refused, not closed
    with client.websocket_connect(WS, headers=gateway.bearer("root", ("admin",))) as ws:
        ws.send_json({"op": "subscribe", "topic": f"workflow:{RUN}", "id": 1})
        assert frames_until(ws, "subscribed")[-1]["snapshot"]["run_id"] == RUN


def test_a_subscription_ends_when_the_subscriber_may_no_longer_read(client: TestClient, gateway: Gateway) -> None:
    gateway.workflow.add_run(OTHER_RUN, "alice")
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        ws.send_json({"op": "subscribe", "topic": f"workflow:{OTHER_RUN}", "id": 1})
        frames_until(ws, "subscribed")
        gateway.workflow.runs[OTHER_RUN]["owner"] = "carol"  # the run is no longer alice's to read
        ended = frames_until(ws, "error")[-1]
        assert ended["ended"] is True and ended["error"] == "workflow-unknown-run"
        assert ended["topic"] == f"workflow:{OTHER_RUN}"
        ws.send_json({"op": "unsubscribe", "topic": f"workflow:{OTHER_RUN}"})
        assert ws.receive_json()["error"] == "interface-not-subscribed"


def test_services_topic_sends_changes_only(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=gateway.bearer("viewer1", ("viewer",))) as ws:
        ws.send_json({"op": "subscribe", "topic": "services"})
        ack = frames_until(ws, "subscribed")[-1]
        assert ack["snapshot"]["services"]["aria_workflow"] == {"status": "ready", "restarts": 0, "message": ""}
        gateway.directory.statuses["aria_workflow"] = "degraded"
        gateway.directory.restarts["aria_workflow"] = 1
        [event] = [f for f in frames_until(ws, "event") if f["type"] == "event"]
        assert event["data"]["service"] == "aria_workflow"
        assert (event["data"]["status"], event["data"]["restarts"]) == ("degraded", 1)
        assert event["data"]["was"] == {"status": "ready", "restarts": 0}
        gateway.directory.statuses["aria_workflow"] = "ready"
        assert frames_until(ws, "event")[-1]["data"]["status"] == "ready"


def test_a_jobs_state_changes_are_pushed_to_its_enqueuer(client: TestClient, gateway: Gateway) -> None:
    gateway.queue.jobs[42] = {"id": 42, "worker": "w", "queue": "default", "state": "available", "attempt": 0,
                              "max_attempts": 3, "errors": [], "enqueued_by": {"subject": "alice"}}
    with client.websocket_connect(WS, headers=gateway.bearer("alice")) as ws:
        ws.send_json({"op": "subscribe", "topic": "job:42"})
        assert frames_until(ws, "subscribed")[-1]["snapshot"]["state"] == "available"
        gateway.queue.jobs[42] = {**gateway.queue.jobs[42], "state": "executing", "attempt": 1}
        [event] = [f for f in frames_until(ws, "event") if f["type"] == "event"]
        assert event["data"]["state"] == "executing" and event["data"]["was"] == {"state": "available",
                                                                                   "attempt": 0}
    with client.websocket_connect(WS, headers=gateway.bearer("bob")) as ws:
        ws.send_json({"op": "subscribe", "topic": "job:42"})
        assert ws.receive_json()["error"] == "queue-job-not-found"


def test_a_connection_holds_at_most_max_subscriptions(client: TestClient, gateway: Gateway) -> None:
    runs = [f"00000000-0000-4000-8000-{i:012d}" for i in range(MAX_SUBSCRIPTIONS + 1)]
    for run in runs:
        gateway.workflow.add_run(run, "dora")
    with client.websocket_connect(WS, headers=gateway.bearer("dora")) as ws:
        for run in runs[:-1]:
            ws.send_json({"op": "subscribe", "topic": f"workflow:{run}"})
            frames_until(ws, "subscribed")
        ws.send_json({"op": "subscribe", "topic": f"workflow:{runs[-1]}"})
        frame = frames_until(ws, "error")[-1]
        assert frame["error"] == "interface-too-many-subscriptions" and frame["limit"] == MAX_SUBSCRIPTIONS
        ws.send_json({"op": "subscribe", "topic": f"workflow:{runs[0]}", "id": "again"})  # held already: fine
        assert frames_until(ws, "subscribed")[-1]["id"] == "again"


# -- REST -----------------------------------------------------------------------------------------------
def test_topics_lists_every_topic_with_its_shapes_and_the_protocol(client: TestClient, gateway: Gateway) -> None:
    assert client.get("/v1/interface/topics").status_code == 401
    body = client.get("/v1/interface/topics", headers=gateway.bearer("u1", ("user",))).json()
    assert [t["pattern"] for t in body["topics"]] == ["services", "workflow:<run_id>", "job:<id>",
                                                      "character:<id>"]
    assert all(t["event"] and t["snapshot"] and t["authorization"] for t in body["topics"])
    assert body["url"] == WS and body["limits"]["max_subscriptions"] == MAX_SUBSCRIPTIONS
    assert set(body["close_codes"]) == {"1008", "1009", "1011", "1013"}


def test_docs_index_and_one_services_openapi(client: TestClient, gateway: Gateway) -> None:
    headers = gateway.bearer("v1", ("viewer",))
    index = client.get("/v1/interface/docs", headers=headers).json()
    services = {s["service"]: s for s in index["services"]}
    assert {"aria_workflow", "aria_interface", "aria_coordinate"} <= set(services)
    assert services["aria_workflow"]["openapi"] == "/v1/interface/docs/aria_workflow"
    doors = {row["door"]: row for row in index["permissions"]["doors"]}
    assert doors["GET /v1/interface/topics"]["fronts"] == "aria_interface.topics"
    assert doors["GET /v1/workflow/runs/{run_id}/history"]["roles"]["anonymous"] is False
    assert index["websocket"]["url"] == WS
    doc = client.get("/v1/interface/docs/aria_workflow", headers=headers).json()
    assert doc["paths"] and all(p.startswith("/v1/workflow/") for p in doc["paths"])
    refs = {r.rsplit("/", 1)[-1] for r in _refs(doc)}
    assert refs and refs <= set(doc["components"]["schemas"])  # a complete document
    assert client.get("/v1/interface/docs/workflow", headers=headers).json()["paths"] == doc["paths"]
    missing = client.get("/v1/interface/docs/aria_nothing", headers=headers)
    assert missing.status_code == 404 and missing.json()["type"].endswith("interface-unknown-service")
    assert client.get("/v1/interface/docs/..%2Fetc", headers=headers).status_code in (404, 422)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_error_frames_carry_no_remote_traceback() -> None:
    from aria_actors.interface.protocol import error_frame
    from aria_actors.runtime.errors import ServiceUnavailable

    text = 'aria_workflow is down: Traceback (most recent call last):\n  File "/srv/x.py", line 3\nBoom'
    frame = error_frame(ServiceUnavailable(text))
    assert "Traceback" not in frame["detail"] and "/srv/x.py" not in frame["detail"]
