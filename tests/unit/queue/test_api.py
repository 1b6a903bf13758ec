"""The /v1/queue router: validation, permissions and how bodies map to service calls (a recording
client stands in for the service; the service itself is tested in tests/integration/queue)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aria_actors.queue.api import router
from aria_actors.queue.errors import UnknownWorker
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.testing import api_app

OPERATOR = Principal.operator()
USER = Principal("u1", ("user",))
VIEWER = Principal("v1", ("viewer",))


class Recorder:
    name = "aria_queue"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args, kwargs))
        if len(args) > 1 and args[1] == "missing":
            raise UnknownWorker("no worker is registered as 'missing'", worker="missing")
        if method == "probe":
            return {"status": "ready", "message": "", "details": {}, "checked_at": 0}
        if method == "metrics":
            return "aria_queue_jobs 0\n"
        return [] if method in ("retry", "list_jobs", "workers", "queues") else {}


def make(caller: Principal = OPERATOR) -> tuple[TestClient, Recorder]:
    rec = Recorder()
    return TestClient(api_app(router, clients={"aria_queue": rec}, caller=caller)), rec


@pytest.fixture
def api() -> tuple[TestClient, Recorder]:
    return make()


def test_enqueue_maps_options_and_passes_the_caller(api):
    client, rec = api
    r = client.post("/v1/queue/jobs", json={"worker": "w", "args": {"a": 1}, "priority": 3,
                                            "unique": {"period": 30, "keys": ["a"]}})
    assert r.status_code == 201
    assert rec.calls == [("enqueue", (OPERATOR, "w", {"a": 1}),
                          {"priority": 3, "unique": {"period": 30.0, "keys": ["a"]}})]


@pytest.mark.parametrize("body", [
    {"worker": "w", "priority": 10}, {"worker": "w", "priority": -1}, {"worker": ""},
    {"worker": "w", "args": [1]}, {"worker": "w", "bogus": 1}, {"worker": "w", "schedule_in": -1},
    {"worker": "w", "schedule_in": 1e300}, {"worker": "w\x00"}, {"worker": "w", "queue": "q\x00"},
    {"worker": "w", "scheduled_at": "2030-01-01T00:00:00"},  # naive
    {"worker": "w", "max_attempts": 2**40}, {"worker": "w", "tags": ["t"] * 33},
    {"worker": "w", "args": {"blob": "x" * (256 * 1024)}},
    # who a job runs as is the caller: a body cannot name it, under any spelling
    {"worker": "w", "enqueued_by": {"subject": "admin", "roles": ["admin"]}},
    {"worker": "w", "principal": {"subject": "admin", "roles": ["admin"]}},
])
def test_enqueue_validation(api, body):
    client, rec = api
    r = client.post("/v1/queue/jobs", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert rec.calls == []


def test_non_json_numbers_are_refused(api):
    client, rec = api
    r = client.post("/v1/queue/jobs", content=b'{"worker": "w", "schedule_in": Infinity}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and rec.calls == []


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
    assert client.post("/v1/queue/jobs/retry", json={"ids": [2**63]}).status_code == 422
    assert client.post("/v1/queue/jobs/retry", json={"ids": [1, 2]}).json() == {"retried": []}
    assert client.get("/v1/queue/jobs", params={"state": "bogus"}).status_code == 422
    assert client.get("/v1/queue/jobs/99999999999999999999").status_code == 422
    assert client.get("/v1/queue/jobs", params={"state": "discarded", "limit": 5}).status_code == 200
    assert [c[0] for c in rec.calls] == ["scale", "retry", "list_jobs"]
    assert rec.calls[0] == ("scale", (OPERATOR, "q"), {"replicas": 2, "concurrency": None})
    assert rec.calls[2][2] == {"state": "discarded", "queue": None, "worker": None, "after_id": 0,
                               "limit": 5}


def test_health_metrics_workers_and_queues_reach_their_methods(api):
    client, rec = api
    assert client.get("/v1/queue/health").json()["status"] == "ready"
    assert client.get("/v1/queue/metrics").text.startswith("aria_queue_jobs")
    assert client.get("/v1/queue/workers").json() == []
    assert client.get("/v1/queue/queues").json() == []
    assert client.post("/v1/queue/queues/q/pause").status_code == 200
    assert client.post("/v1/queue/queues/q/resume").status_code == 200
    assert [c[0] for c in rec.calls] == ["probe", "metrics", "workers", "queues", "pause", "resume"]
    assert all(c[1][0] == OPERATOR for c in rec.calls)


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/queue/jobs", {"worker": "service:aria_security.issue_token",
                                "args": {"subject": "me", "claims": {"roles": ["admin"]}}}),
    ("POST", "/v1/queue/jobs/bulk", {"jobs": [{"worker": "w"}]}),
    ("GET", "/v1/queue/jobs", None),
    ("GET", "/v1/queue/jobs/1", None),
    ("POST", "/v1/queue/jobs/retry", {"ids": [1]}),
    ("POST", "/v1/queue/jobs/cancel", {"ids": [1]}),
    ("GET", "/v1/queue/queues", None),
    ("POST", "/v1/queue/queues/q/pause", None),
    ("POST", "/v1/queue/queues/q/resume", None),
    ("POST", "/v1/queue/queues/q/scale", {"replicas": 0}),
    ("GET", "/v1/queue/metrics", None),
])
def test_a_caller_without_queue_rights_is_refused_before_the_service_runs(method, path, body):
    """A caller whose roles grant no queue right (``user`` now holds ``queue:job:*@own``)."""
    client, rec = make(Principal("nobody", ("viewer",), tenant="t-none"))
    if method == "GET" and path.startswith("/v1/queue/jobs"):
        pytest.skip("viewer may read and list (its own tenant's) jobs")
    r = client.request(method, path, json=body)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert rec.calls == []


def test_operations_need_any_scope_rights():
    client, rec = make(VIEWER)  # viewer reads and lists in its tenant, nothing system-wide
    assert client.get("/v1/queue/jobs").status_code == 200
    assert client.get("/v1/queue/workers").status_code == 200
    assert client.get("/v1/queue/health").status_code == 200
    for method, path in (("GET", "/v1/queue/queues"), ("GET", "/v1/queue/metrics"),
                         ("POST", "/v1/queue/queues/q/pause"), ("POST", "/v1/queue/jobs/cancel")):
        assert client.request(method, path, json={"ids": [1]}).status_code == 403, path
    assert [c[0] for c in rec.calls] == ["list_jobs", "workers", "probe"]


def test_anonymous_callers_are_unauthorized():
    client, rec = make(Principal.anonymous())
    assert client.get("/v1/queue/jobs").status_code == 401
    assert rec.calls == []


def test_every_route_declares_the_method_it_fronts():
    from aria_actors.coordinate.gateway import route_permits

    routes = [r for r in router.routes if getattr(r, "methods", None)]
    assert routes and all(len(route_permits(r)) == 1 for r in routes), [
        r.path for r in routes if len(route_permits(r)) != 1]
