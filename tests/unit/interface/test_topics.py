"""Topic names, each source's diffing (state in, events out), the OpenAPI split, and the service's
health and surface."""

from __future__ import annotations

from typing import Any

import pytest

from aria_actors.interface import docs as api_docs
from aria_actors.interface.errors import InvalidTopic, UnknownService, UnknownTopic
from aria_actors.interface.service import InterfaceService
from aria_actors.interface.topics import (
    CharacterSource,
    Context,
    JobSource,
    ServicesSource,
    WorkflowSource,
    canonical,
    catalogue,
    parse_topic,
)
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status

RUN = "0B6F2D3E-5A1C-4E8F-9D2A-7C4B1E0F3A21"
class _Unused:
    """A transport the diffing never calls."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self.name}.{method} called")


CTX = Context(_Unused)


def test_topics_parse_to_one_canonical_spelling() -> None:
    assert canonical("services") == "services"
    assert canonical(f"workflow:{RUN}") == f"workflow:{RUN.lower()}"
    assert canonical("job:42") == "job:42"
    assert parse_topic(f"character:{RUN}")[0].name == "character"
    for bad, error in [("weather", UnknownTopic), ("", UnknownTopic), ("services:1", InvalidTopic),
                       ("workflow:", InvalidTopic), ("workflow:x", InvalidTopic), ("job:0", InvalidTopic),
                       ("job:01", InvalidTopic), ("job:" + "9" * 20, InvalidTopic), ("job:1.5", InvalidTopic),
                       (f"workflow:{RUN}x", InvalidTopic)]:
        with pytest.raises(error):
            parse_topic(bad)
    assert [t["pattern"] for t in catalogue()] == ["services", "workflow:<run_id>", "job:<id>", "character:<id>"]


def _status(**services: tuple[str, int]) -> dict[str, Any]:
    return {"phase": "ready", "services": [{"name": n, "status": s, "restarts": r, "message": f"m-{n}-{s}"}
                                           for n, (s, r) in services.items()]}


def test_services_tells_status_and_restart_changes_only() -> None:
    src = ServicesSource(CTX)
    assert src.update(_status(a=("ready", 0), b=("starting", 0))) == []  # the baseline
    assert src.snapshot()["services"]["b"]["status"] == "starting"
    assert src.update(_status(a=("ready", 0), b=("starting", 0))) == []
    changed = src.update(_status(a=("ready", 0), b=("ready", 0), c=("starting", 0)))
    assert [(e["service"], e["status"], e["was"]["status"]) for e in changed] == [("b", "ready", "starting"),
                                                                                 ("c", "starting", None)]
    [restarted] = src.update(_status(a=("ready", 1), b=("ready", 0), c=("starting", 0)))
    assert restarted["service"] == "a" and restarted["restarts"] == 1 and restarted["was"]["restarts"] == 0
    [gone] = src.update(_status(a=("ready", 1), b=("ready", 0)))
    assert gone["service"] == "c" and gone["status"] is None


def _history(state: str, *kinds: str) -> dict[str, Any]:
    return {"run_id": RUN.lower(), "name": "demo", "state": state, "events_total": len(kinds),
            "events": [{"at": f"t{i}", "kind": k, "key": None, "detail": {}} for i, k in enumerate(kinds)]}


def test_workflow_tells_each_new_timeline_event_once_and_bare_state_changes() -> None:
    src = WorkflowSource(CTX, RUN)
    assert src.update(_history("pending", "started")) == []
    assert src.snapshot()["events"][0]["kind"] == "started" and src.snapshot()["state"] == "pending"
    [bare] = src.update(_history("running", "started"))
    assert bare["event"] is None and bare["state"] == "running"
    events = src.update(_history("running", "started", "step-started", "step-completed"))
    assert [e["event"]["kind"] for e in events] == ["step-started", "step-completed"]
    assert src.update(_history("running", "started", "step-started", "step-completed")) == []
    [done] = src.update(_history("completed", "started", "step-started", "step-completed", "completed"))
    assert done["event"]["kind"] == "completed" and done["state"] == "completed"


def test_a_job_is_told_when_its_state_or_attempt_changes() -> None:
    src = JobSource(CTX, 7)
    job = {"id": 7, "worker": "w", "queue": "q", "state": "available", "attempt": 0, "max_attempts": 3,
           "errors": [], "args": {"secret": "not told"}, "result": None}
    assert src.update(job) == []
    assert src.update({**job, "priority": 5}) == []  # neither state nor attempt
    [running] = src.update({**job, "state": "executing", "attempt": 1})
    assert running["was"] == {"state": "available", "attempt": 0} and "args" not in running
    [retry] = src.update({**job, "state": "retryable", "attempt": 1, "errors": [{"error": "boom"}]})
    assert retry["error"] == {"error": "boom"}
    [done] = src.update({**job, "state": "completed", "attempt": 2, "result": {"ok": True}})
    assert done["result"] == {"ok": True} and src.snapshot()["state"] == "completed"


def test_a_character_is_told_each_new_version() -> None:
    src = CharacterSource(CTX, RUN)
    v = [{"version": i, "character": {"name": f"v{i}"}, "change": {"n": i}, "created_at": f"t{i}"} for i in (1, 2, 3)]
    assert src.update(v[:1]) == []
    assert src.snapshot() == {"character_id": RUN.lower(), "version": 1, "character": {"name": "v1"},
                              "created_at": "t1", "versions": 1}
    assert [e["version"] for e in src.update(list(reversed(v)))] == [2, 3]
    assert src.update(v) == []


def test_the_openapi_split_gives_each_service_its_paths_and_the_schemas_they_use() -> None:
    doc = {"openapi": "3.1.0", "info": {"title": "Aria", "version": "1"}, "paths": {
        "/health": {"get": {"tags": ["system"]}},
        "/v1/workflow/runs": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Start"}}}}}},
        "/v1/storage/assets": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/v1/nothing/here": {"get": {}},
    }, "components": {"schemas": {"Start": {"properties": {"x": {"$ref": "#/components/schemas/Inner"}}},
                                  "Inner": {"type": "object"}, "Unused": {"type": "string"}}}}
    parts = api_docs.split_openapi(doc)
    assert set(parts) == {"aria_coordinate", "aria_workflow", "aria_storage"}
    assert set(parts["aria_coordinate"]["paths"]) == {"/health", "/v1/nothing/here"}
    assert set(parts["aria_workflow"]["components"]["schemas"]) == {"Start", "Inner"}  # closed over refs
    assert "components" not in parts["aria_storage"]
    assert parts["aria_workflow"]["info"]["title"] == "Aria: aria_workflow"
    index = api_docs.DocsIndex(parts, {"roles": [], "doors": []})
    assert index.openapi("workflow") is parts["aria_workflow"]
    with pytest.raises(UnknownService):
        index.openapi("aria_nothing")


async def test_the_service_is_ready_with_its_docs_and_lists_what_is_missing() -> None:
    svc = InterfaceService(AriaSettings())
    assert (await svc.health()).status == Status.STARTING
    await svc.start(Deps())
    health = await svc.health()
    assert health.status == Status.READY, health.message
    assert health.details["missing"] == [] and "collaboration" in health.details["capabilities"]
    assert health.details["docs"]["operations"] > 100
    caller = Principal("u", ("user",), tenant="t1")
    assert (await svc.topics(caller))["url"] == "/v1/interface/ws"
    assert (await svc.openapi(caller, "aria_interface"))["paths"]


async def test_the_service_is_degraded_when_its_docs_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> api_docs.DocsIndex:
        raise RuntimeError("a router failed to import")

    monkeypatch.setattr(api_docs, "build", broken)
    svc = InterfaceService(AriaSettings())
    await svc.start(Deps())
    health = await svc.health()
    assert health.status == Status.DEGRADED and "RuntimeError" in health.message
    assert "a router failed to import" not in health.message  # health is public: no error text
    from aria_actors.runtime.errors import ServiceUnavailable  # only this test needs it

    with pytest.raises(ServiceUnavailable):
        await svc.docs_index(Principal("u", ("user",), tenant="t1"))
    assert (await svc.topics(Principal("u", ("user",), tenant="t1")))["topics"]  # the channel's part still works
