"""The /v1/queue router: validation and how bodies map to service calls (a recording client
stands in for the service; the service itself is tested in tests/integration/queue)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aria_actors.queue.api import router
from aria_actors.queue.errors import UnknownWorker
from aria_actors.runtime.http import install_problem_handlers


class Recorder:
    name = "aria_queue"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args, kwargs))
        if args and args[0] == "missing":
            raise UnknownWorker("no worker is registered as 'missing'", worker="missing")
        return [] if method in ("retry", "list_jobs") else {}


@pytest.fixture
def api() -> tuple[TestClient, Recorder]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    rec = Recorder()
    app.state.clients = {"aria_queue": rec}
    return TestClient(app), rec


def test_enqueue_maps_options(api):
    client, rec = api
    r = client.post("/v1/queue/jobs", json={"worker": "w", "args": {"a": 1}, "priority": 3,
                                            "unique": {"period": 30, "keys": ["a"]}})
    assert r.status_code == 201
    assert rec.calls == [("enqueue", ("w", {"a": 1}),
                          {"priority": 3, "unique": {"period": 30.0, "keys": ["a"]}})]


@pytest.mark.parametrize("body", [
    {"worker": "w", "priority": 10}, {"worker": "w", "priority": -1}, {"worker": ""},
    {"worker": "w", "args": [1]}, {"worker": "w", "bogus": 1}, {"worker": "w", "schedule_in": -1},
])
def test_enqueue_validation(api, body):
    client, rec = api
    r = client.post("/v1/queue/jobs", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert rec.calls == []


def test_service_errors_become_problems(api):
    client, _ = api
    r = client.post("/v1/queue/jobs", json={"worker": "missing"})
    assert r.status_code == 400 and r.json()["type"].endswith("/queue-unknown-worker")
    assert r.json()["worker"] == "missing"


def test_queue_and_dead_letter_routes(api):
    client, rec = api
    assert client.post("/v1/queue/queues/q/scale", json={"replicas": 300}).status_code == 422
    assert client.post("/v1/queue/queues/q/scale", json={"replicas": 2}).status_code == 200
    assert client.post("/v1/queue/jobs/retry", json={"ids": []}).status_code == 422
    assert client.post("/v1/queue/jobs/retry", json={"ids": [1, 2]}).json() == {"retried": []}
    assert client.get("/v1/queue/jobs", params={"state": "bogus"}).status_code == 422
    assert client.get("/v1/queue/jobs", params={"state": "discarded", "limit": 5}).status_code == 200
    assert [c[0] for c in rec.calls] == ["scale", "retry", "list_jobs"]
    assert rec.calls[0] == ("scale", ("q",), {"replicas": 2, "concurrency": None})
    assert rec.calls[2][2] == {"state": "discarded", "queue": None, "worker": None, "after_id": 0,
                               "limit": 5}
