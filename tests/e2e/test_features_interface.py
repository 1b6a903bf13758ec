"""aria_interface's built features through the gateway of a running `aria up` (the shared one): the
real-time WebSocket channel (``/v1/interface/ws`` behind Ray Serve's proxy) authenticated at the
handshake, the service directory and a workflow run's timeline pushed as they happen, bad frames
answered without ending the connection, the topic list, and the API documentation (every
service's OpenAPI and the role table), from the SDK, raw HTTP, a WebSocket client and the CLI.

Names carry a run id so a rerun on the same `aria up` does not meet an earlier run's workflows."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import ARIA, RunningAria

RUN = uuid.uuid4().hex[:6]
RECV_S = 120  # a frame's wait on a loaded machine (the boot's services poll at most every second)


@pytest.fixture(scope="module")
def token(shared_aria: RunningAria) -> str:
    return shared_aria.token()


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria, token: str) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=token, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def http(shared_aria: RunningAria, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_aria.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        yield c


def ws_base(running: RunningAria) -> str:
    return "ws://" + running.url.removeprefix("http://")


def frames_until(ws: ClientConnection, done: Any) -> list[dict[str, Any]]:
    seen = []
    while True:
        frame = json.loads(ws.recv(timeout=RECV_S))
        seen.append(frame)
        if done(frame):
            return seen


def waiter(name: str) -> dict[str, Any]:
    return {"name": name, "steps": [
        {"id": "approve", "signal": {"name": "approved", "timeout_s": 600}},
        {"id": "after", "needs": ["approve"], "set": {"value": "${steps.approve.output}"}},
    ], "output": "${steps.after.output}"}


# -- the WebSocket channel --------------------------------------------------------------------------
def test_the_channel_refuses_a_handshake_without_a_token(shared_aria: RunningAria) -> None:
    with pytest.raises(InvalidStatus) as refused, connect(f"{ws_base(shared_aria)}/v1/interface/ws", open_timeout=60):
        pass
    assert refused.value.response.status_code == 403  # closed 1008 before accepting


def test_services_status_is_pushed_with_a_snapshot_and_bad_frames_are_answered(shared_aria: RunningAria,
                                                                                token: str) -> None:
    # a browser's way: the token as the second subprotocol
    with connect(f"{ws_base(shared_aria)}/v1/interface/ws", subprotocols=["bearer", token],  # type: ignore[list-item]
                 open_timeout=60) as ws:
        assert ws.subprotocol == "bearer"
        ws.send(json.dumps({"op": "subscribe", "topic": "services", "id": 1}))
        ack = frames_until(ws, lambda f: f["type"] == "subscribed")[-1]
        services = ack["snapshot"]["services"]
        assert services["aria_interface"]["status"] == "ready", services["aria_interface"]
        assert services["aria_workflow"]["status"] == "ready" and ack["id"] == 1
        ws.send("{not json")
        assert frames_until(ws, lambda f: f["type"] == "error")[-1]["error"] == "interface-invalid-frame"
        ws.send("x" * 10_000)
        assert frames_until(ws, lambda f: f["type"] == "error")[-1]["error"] == "interface-frame-too-large"
        ws.send(json.dumps({"op": "subscribe", "topic": "weather:today", "id": 2}))
        unknown = frames_until(ws, lambda f: f["type"] == "error")[-1]
        assert unknown["error"] == "interface-unknown-topic" and unknown["id"] == 2
        ws.send(json.dumps({"op": "subscribe", "topic": f"workflow:{uuid.uuid4()}", "id": 3}))
        refused = frames_until(ws, lambda f: f["type"] == "error")[-1]
        assert refused["error"] == "workflow-unknown-run" and refused["id"] == 3
        ws.send(json.dumps({"op": "ping", "id": 4}))
        assert frames_until(ws, lambda f: f["type"] == "pong")[-1] == {"type": "pong", "id": 4}


def test_a_workflow_runs_timeline_is_pushed_as_it_happens(shared_aria: RunningAria, aria: AriaClient,
                                                          token: str) -> None:
    name = f"ws-wait-{RUN}"
    aria.workflow.publish(waiter(name))
    run_id = aria.workflow.start_run(name)["run_id"]
    topic = f"workflow:{run_id}"
    with connect(f"{ws_base(shared_aria)}/v1/interface/ws", additional_headers={"Authorization": f"Bearer {token}"},
                 open_timeout=60) as ws:
        ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": "timeline"}))
        ack = frames_until(ws, lambda f: f["type"] == "subscribed")[-1]
        assert ack["topic"] == topic and ack["snapshot"]["run_id"] == run_id
        assert ack["snapshot"]["events"][0]["kind"] == "started"
        aria.workflow.signal(run_id, "approved", {"by": "websocket"})
        frames = frames_until(ws, lambda f: f["type"] == "event" and (f["data"]["event"] or {}).get("kind")
                              == "completed")  # the timeline's last event
    events = [f for f in frames if f["type"] == "event"]
    assert [e["id"] for e in events] == list(range(ack["last_id"] + 1, ack["last_id"] + 1 + len(events)))
    kinds = [e["data"]["event"]["kind"] for e in events if e["data"]["event"]]
    assert "step-completed" in kinds and kinds[-1] == "completed", kinds
    assert events[-1]["data"]["state"] == "completed"
    assert not [f for f in frames if f["type"] == "error"]
    assert aria.workflow.run(run_id)["output"] == {"by": "websocket"}


def test_the_cli_watches_a_topic_until_count_events(shared_aria: RunningAria, aria: AriaClient) -> None:
    name = f"ws-cli-{RUN}"
    aria.workflow.publish(waiter(name))
    run_id = aria.workflow.start_run(name)["run_id"]
    watch = subprocess.Popen([ARIA, "interface", "watch", f"workflow:{run_id}", "--count", "1", "--timeout", "300"],
                             env=shared_aria.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())  # subscribed: the watch is live
        assert first["type"] == "subscribed" and first["snapshot"]["run_id"] == run_id, first
        aria.workflow.signal(run_id, "approved", 1)
        rest, err = watch.communicate(timeout=300)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    [event] = [json.loads(line) for line in rest.splitlines() if json.loads(line)["type"] == "event"]
    assert event["topic"] == f"workflow:{run_id}" and event["data"]["run_id"] == run_id


# -- topics and documentation --------------------------------------------------------------------------
def test_topics_and_docs_through_the_gateway(shared_aria: RunningAria, http: httpx.Client, aria: AriaClient) -> None:
    assert httpx.get(f"{shared_aria.url}/v1/interface/topics", timeout=60).status_code == 401  # no token
    topics = http.get("/v1/interface/topics").json()
    assert [t["pattern"] for t in topics["topics"]] == ["services", "workflow:<run_id>", "job:<id>",
                                                        "character:<id>"]
    assert topics["url"] == "/v1/interface/ws" and "1008" in topics["close_codes"]
    index = http.get("/v1/interface/docs").json()
    names = {s["service"] for s in index["services"]}
    assert {"aria_workflow", "aria_storage", "aria_interface", "aria_coordinate"} <= names
    assert any(row["door"] == "GET /v1/interface/docs" for row in index["permissions"]["doors"])
    doc = http.get("/v1/interface/docs/aria_workflow").json()
    assert doc["paths"] and all(p.startswith("/v1/workflow/") for p in doc["paths"])
    assert aria.interface.openapi("storage")["info"]["title"].endswith("aria_storage")
    missing = http.get("/v1/interface/docs/aria_nothing")
    assert missing.status_code == 404 and missing.json()["type"].endswith("interface-unknown-service")


def test_the_cli_prints_topics_and_docs(shared_aria: RunningAria) -> None:
    topics = shared_aria.aria("interface", "topics", timeout=300)
    assert topics.returncode == 0, topics.stderr
    assert "workflow:<run_id>" in topics.stdout
    docs = shared_aria.aria("interface", "docs", timeout=300)
    assert docs.returncode == 0 and "aria_workflow" in docs.stdout and "/v1/interface/ws" in docs.stdout, docs.stderr
    one = shared_aria.aria("interface", "docs", "workflow", timeout=300)
    assert one.returncode == 0 and "/v1/workflow/runs" in one.stdout, one.stderr
