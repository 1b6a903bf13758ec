"""aria_debugger's traces, Ray-free: span trees, summaries and filters, the bounded trace buffer,
collection through the spans door (cursors, another process, a service down, nothing traced
while collecting), answers from memory when there is no database, and the RPCs' checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.debugger.service import DebuggerService
from aria_actors.debugger.traces import TraceBuffer, build_tree, check_trace_id, select, summarize
from aria_actors.runtime import tracing
from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings

T1, T2 = "1" * 32, "2" * 32
ADMIN = Principal("root", ("admin",), kind="user")
OPERATOR = Principal("op", ("operator",), tenant="t1")
VIEWER = Principal("viewer", ("viewer",), tenant="t1")


def span(trace_id: str, span_id: str, parent: str | None, start: float, ms: float, service: str = "aria_storage",
         name: str = "x", status: str = "ok", **attrs: Any) -> dict[str, Any]:
    return {"trace_id": trace_id, "span_id": span_id * 16 if len(span_id) == 1 else span_id,
            "parent_id": (parent * 16 if parent and len(parent) == 1 else parent), "name": name,
            "service": service, "kind": "server", "start": start, "duration_ms": ms, "status": status,
            "attributes": attrs}


TRACE = [span(T1, "c", "b", 100.002, 5.0, name="aria_storage.put"),
         span(T1, "a", None, 100.0, 10.0, service="aria_coordinate", name="PUT /v1/storage/assets/{name:path}",
              **{"http.response.status_code": 201}),
         span(T1, "d", "c", 100.003, 1.0, name="db transaction"),
         span(T1, "b", "a", 100.001, 8.0, service="aria_coordinate", name="call aria_storage.put"),
         span(T1, "e", "9", 100.004, 0.5, name="orphan")]


def test_tree_links_children_by_start_and_keeps_orphans_as_roots() -> None:
    roots = build_tree([*TRACE, TRACE[0]])  # a duplicate counts once
    assert [r["name"] for r in roots] == ["PUT /v1/storage/assets/{name:path}", "orphan"]
    gateway = roots[0]
    [client] = gateway["children"]
    [server] = client["children"]
    [query] = server["children"]
    assert (client["name"], server["name"], query["name"]) == ("call aria_storage.put", "aria_storage.put",
                                                               "db transaction")
    assert server["parent_id"] == client["span_id"] and query["children"] == []
    assert roots[1]["parent_id"] == "9" * 16


def test_summary_spans_first_start_to_last_end() -> None:
    s = summarize(T1, TRACE)
    assert s["root"] == "PUT /v1/storage/assets/{name:path}" and s["service"] == "aria_coordinate"
    assert s["spans"] == 5 and s["duration_ms"] == pytest.approx(10.0, abs=1e-6)
    assert s["services"] == ["aria_coordinate", "aria_storage"] and s["errors"] == 0 and s["status"] == 201


def test_select_filters_by_service_and_duration_newest_first() -> None:
    slow = summarize(T2, [span(T2, "f", None, 200.0, 50.0, service="aria_queue", status="error")])
    fast = summarize(T1, TRACE)
    assert [t["trace_id"] for t in select([fast, slow], None, None, 10)] == [T2, T1]
    assert [t["trace_id"] for t in select([fast, slow], "aria_storage", None, 10)] == [T1]
    assert [t["trace_id"] for t in select([fast, slow], None, 20.0, 10)] == [T2]
    assert select([fast, slow], None, None, 1) == [slow] and slow["errors"] == 1


def test_buffer_keeps_the_newest_traces() -> None:
    buf = TraceBuffer(2)
    for i in range(3):
        buf.add([span(f"{i + 1:032x}", "a", None, float(i), 1.0)])
    buf.add([span(f"{3:032x}", "b", "a", 2.5, 1.0)])
    assert len(buf) == 2 and buf.spans(f"{1:032x}") == []
    assert {s["span_id"] for s in buf.spans(f"{3:032x}")} == {"a" * 16, "b" * 16}
    assert [t["spans"] for t in buf.summaries()] == [1, 2]


@pytest.mark.parametrize("bad", ["nope", "0" * 32, "A" * 32, "1" * 33, None, 5])
def test_malformed_trace_ids_are_bad_requests(bad: Any) -> None:
    with pytest.raises(BadRequest):
        check_trace_id(bad)


# -- the service part ------------------------------------------------------------------------------
class Doors:
    """Fake shells: each service's spans door over a list, with a boot id; one service down."""

    def __init__(self) -> None:
        self.spans: dict[str, list[dict[str, Any]]] = {"aria_coordinate": TRACE[1:2] + TRACE[3:4],
                                                       "aria_storage": [TRACE[0], TRACE[2]]}
        self.boot = {"aria_coordinate": "b1", "aria_storage": "b1"}
        self.calls: list[tuple[str, int]] = []
        self.traced_while_collecting = False

    async def __call__(self, name: str, door: str, timeout_s: float, after: int = 0, limit: int = 1000) -> Any:
        assert door == "spans"
        if tracing.enabled():
            ctx = tracing.trace.get_current_span().get_span_context()
            self.traced_while_collecting |= ctx.trace_flags.sampled
        if name == "aria_engine":
            raise ServiceUnavailable("aria_engine is down")
        self.calls.append((name, after))
        items = self.spans.get(name, [])
        if after > len(items):
            after = 0
        got = items[after:after + limit]
        return {"boot": self.boot.get(name, "b0"), "pid": 1, "spans": got, "next": after + len(got), "missed": 0}


def _debugger(doors: Doors) -> DebuggerService:
    svc = DebuggerService(AriaSettings())
    svc.deps = Deps({}, door_of=doors)
    return svc


def test_collection_reads_every_service_from_its_cursor() -> None:
    doors = Doors()
    svc = _debugger(doors)
    assert asyncio.run(svc.collect_spans()) == 4
    assert asyncio.run(svc.collect_spans()) == 0
    assert ("aria_storage", 2) in doors.calls and ("aria_coordinate", 2) in doors.calls
    doors.spans["aria_storage"] = [TRACE[4]]  # the service restarted: a new process, a new ring
    doors.boot["aria_storage"] = "b2"
    assert asyncio.run(svc.collect_spans()) == 1
    assert len(svc.trace_buffer.spans(T1)) == 5


def test_reads_answer_from_memory_without_a_database() -> None:
    svc = _debugger(Doors())
    got = asyncio.run(svc.trace(OPERATOR, T1))  # not collected yet: the read collects first
    assert got["source"] == "memory" and got["spans"] == 4
    assert [r["name"] for r in got["tree"]] == ["PUT /v1/storage/assets/{name:path}"]
    listing = asyncio.run(svc.traces(ADMIN, service="aria_storage", min_duration_ms=1.0, limit=5))
    assert [t["trace_id"] for t in listing["traces"]] == [T1] and listing["source"] == "memory"
    with pytest.raises(NotFound):
        asyncio.run(svc.trace(OPERATOR, T2))


def test_collection_is_not_traced() -> None:
    tracing.shutdown()
    tracing.setup(AriaSettings().tracing, "aria_debugger")
    try:
        doors = Doors()
        svc = _debugger(doors)

        async def main() -> None:
            with tracing.request("GET"):  # a read arriving traced: its collection still is not
                await svc.collect_spans()

        asyncio.run(main())
        assert not doors.traced_while_collecting
    finally:
        tracing.shutdown()


def test_reads_check_their_arguments() -> None:
    svc = _debugger(Doors())
    for kwargs in ({"limit": 0}, {"limit": 501}, {"limit": True}, {"min_duration_ms": -1},
                   {"min_duration_ms": "5"}):
        with pytest.raises(BadRequest):
            asyncio.run(svc.traces(ADMIN, **kwargs))
    with pytest.raises(NotFound):
        asyncio.run(svc.traces(ADMIN, service="aria_nothing"))
    with pytest.raises(BadRequest):
        asyncio.run(svc.trace(ADMIN, "not-a-trace"))


def test_permission_is_trace_read_at_any() -> None:
    from aria_actors.runtime.rpc import surface

    gate = Gate()
    spec = surface(DebuggerService)["trace"]
    assert spec.permission == "debugger:trace:read" and spec.scope == "any"
    gate.check(spec, ADMIN)
    gate.check(spec, OPERATOR)
    with pytest.raises(Forbidden):
        gate.check(spec, VIEWER)
    with pytest.raises(Forbidden):
        gate.check(spec, Principal("svc", ("service",), kind="service"))
