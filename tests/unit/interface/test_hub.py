"""The hub: one producer per topic, per-topic ids, backpressure (drop oldest, lagged notice, close a
client that stays full) without touching other clients, and per-subscriber authorization."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aria_actors.interface.hub import Hub, Subscriber
from aria_actors.interface.protocol import CLOSE_TRY_LATER
from aria_actors.runtime.errors import Forbidden, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal

ALICE = Principal("alice", ("editor",), tenant="t1")
BOB = Principal("bob", ("editor",), tenant="t1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A source whose state is a number; each change is one event. Who may read it is a set."""

    min_interval_s = 0.005
    max_interval_s = 0.01

    def __init__(self, allowed: set[str] | None = None) -> None:
        self.value = 0
        self.allowed = allowed
        self.reads: list[str] = []
        self.authorized: list[str] = []
        self.error: Exception | None = None
        self._last: int | None = None

    def _check(self, caller: Principal) -> None:
        if self.allowed is not None and caller.subject not in self.allowed:
            raise NotFound(f"nothing for {caller.subject}")

    async def authorize(self, caller: Principal) -> None:
        self.authorized.append(caller.subject)
        self._check(caller)

    async def read(self, caller: Principal) -> Any:
        self.reads.append(caller.subject)
        if self.error is not None:
            raise self.error
        self._check(caller)
        return self.value

    def update(self, state: Any) -> list[dict[str, Any]]:
        was, self._last = self._last, state
        return [] if was is None or was == state else [{"value": state}]

    def snapshot(self) -> Any:
        return {"value": self._last}


class Sink:
    """A client socket: what was sent, and a gate that can hold every send (a client that reads nothing)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        await self.open.wait()
        self.frames.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


def subscriber(sink: Sink, **kw: Any) -> Subscriber:
    sub = Subscriber(sink.send, sink.close, **kw)
    sub.start()
    return sub


async def until(check: Any, steps: int = 400) -> None:
    for _ in range(steps):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def test_one_producer_per_topic_fans_each_change_out_to_every_subscriber() -> None:
    hub, source = Hub(), Counter()
    sinks = [Sink() for _ in range(50)]
    subs = [subscriber(s) for s in sinks]
    made = []

    def make() -> Counter:
        made.append(1)
        return source

    for sub in subs:
        assert await hub.subscribe(sub, ALICE, "count", make)
    assert len(made) == 1 and hub.stats()["channels"] == 1
    await until(lambda: len(source.reads) >= 4)  # polls run on their own
    polls_before = len(source.reads)
    for value in (1, 2, 3):
        source.value = value
        hub.wake("count")
        await until(lambda v=value: all(s.of("event") and s.of("event")[-1]["data"] == {"value": v} for s in sinks))
    for sink in sinks:
        assert [f["id"] for f in sink.of("event")] == [1, 2, 3]  # per-topic ids, no gap
        assert sink.frames[0]["type"] == "subscribed" and sink.frames[0]["snapshot"] == {"value": 0}
    # N subscribers cost one read per poll: the first subscribe's read, then the polls, never one per client
    polls = len(source.reads) - polls_before
    assert 3 <= polls < 3 * len(sinks) // 4
    assert source.authorized.count("alice") == len(subs) - 1  # each later subscriber was checked once
    for sub in subs:
        await sub.aclose()


async def test_the_producer_starts_on_the_first_subscribe_and_stops_on_the_last_unsubscribe() -> None:
    hub, source = Hub(), Counter()
    a, b = subscriber(Sink()), subscriber(Sink())
    await hub.subscribe(a, ALICE, "count", lambda: source)
    task = hub._channels["count"].task
    assert task is not None and not task.done()
    await hub.subscribe(b, BOB, "count", lambda: source)
    assert hub.unsubscribe(a, "count") and not task.done()
    assert not hub.unsubscribe(a, "count")  # not subscribed any more
    hub.detach(b)
    await asyncio.sleep(0)
    assert task.cancelled() or task.done()
    assert hub.stats()["channels"] == 0 and b.topics == set()
    reads = len(source.reads)
    await asyncio.sleep(0.05)
    assert len(source.reads) == reads  # nobody listens: nothing polls
    # a fresh channel for a later subscriber: ids start again, with a fresh snapshot
    sink = Sink()
    c = subscriber(sink)
    source.value = 7
    await hub.subscribe(c, ALICE, "count", Counter)
    await until(lambda: sink.frames)
    assert sink.frames[0]["last_id"] == 0
    for sub in (a, b, c):
        await sub.aclose()


async def test_a_full_queue_drops_the_oldest_and_says_how_many_before_the_next_message() -> None:
    sink = Sink()
    sub = subscriber(sink, capacity=4)
    sink.open.clear()  # the client reads nothing for now
    sub.offer('{"type":"event","topic":"t","id":1}', "t")
    await asyncio.sleep(0.01)  # the sender took #1 and waits on the socket
    for i in range(2, 12):
        sub.offer(f'{{"type":"event","topic":"t","id":{i}}}', "t")
    assert sub.queued == 4 and sub.dropped_total == 6
    sink.open.set()
    await until(lambda: len(sink.frames) == 6)
    assert sink.frames[0]["id"] == 1
    assert sink.frames[1] == {"type": "lagged", "dropped": 6, "topics": {"t": 6}}
    assert [f["id"] for f in sink.frames[2:]] == [8, 9, 10, 11]  # the gap 2-7 is what was dropped
    assert sink.closed is None
    await sub.aclose()


async def test_a_client_that_stays_full_is_closed_and_the_others_go_on() -> None:
    clock, hub, source = Clock(), Hub(), Counter()
    slow_sink, fast_sink = Sink(), Sink()
    slow = subscriber(slow_sink, capacity=4, stall_timeout_s=5.0, clock=clock)
    fast = subscriber(fast_sink, capacity=4, stall_timeout_s=5.0, clock=clock)
    await hub.subscribe(slow, ALICE, "count", lambda: source)
    await hub.subscribe(fast, BOB, "count", lambda: source)
    await until(lambda: slow_sink.frames and fast_sink.frames)
    slow_sink.open.clear()
    for i in range(1, 8):
        hub.publish("count", {"value": i})
        await until(lambda i=i: fast_sink.of("event") and fast_sink.of("event")[-1]["id"] == i)
    assert slow.dropped_total > 0 and slow_sink.closed is None  # lagging, within the timeout
    clock.now += 5.1
    hub.publish("count", {"value": 8})
    await until(lambda: slow_sink.closed is not None)
    assert slow_sink.closed[0] == CLOSE_TRY_LATER and "too slow" in slow_sink.closed[1]
    assert slow.closed.is_set()
    hub.detach(slow)  # what the handler does when its connection ends
    for i in range(9, 12):
        hub.publish("count", {"value": i})
    await until(lambda: fast_sink.of("event")[-1]["id"] == 11)
    assert [f["id"] for f in fast_sink.of("event")] == list(range(1, 12))  # nothing lost, nothing lagged
    assert not fast_sink.of("lagged") and fast_sink.closed is None
    await fast.aclose()
    await slow.aclose()


async def test_a_client_that_catches_up_is_not_closed() -> None:
    clock, sink = Clock(), Sink()
    sub = subscriber(sink, capacity=4, stall_timeout_s=5.0, clock=clock)
    sink.open.clear()
    for i in range(10):
        sub.offer(f'{{"type":"event","id":{i}}}', "t")
    sink.open.set()
    await until(lambda: sub.queued == 0)
    clock.now += 60
    for i in range(10, 16):  # full again, but a new stall: it started now
        sub.offer(f'{{"type":"event","id":{i}}}', "t")
    assert sink.closed is None and not sub.closed.is_set()
    await sub.aclose()


async def test_a_refused_subscribe_raises_and_registers_nothing() -> None:
    hub, source = Hub(), Counter(allowed={"alice"})
    sink = Sink()
    bob = subscriber(sink)
    with pytest.raises(NotFound):
        await hub.subscribe(bob, BOB, "count", lambda: source)
    assert hub.stats()["channels"] == 0 and bob.topics == set()
    alice = subscriber(Sink())
    await hub.subscribe(alice, ALICE, "count", lambda: source)
    with pytest.raises(NotFound):  # the channel exists now: bob is still checked, as himself
        await hub.subscribe(bob, BOB, "count", lambda: source)
    assert hub.stats()["topics"]["count"]["subscribers"] == 1
    await alice.aclose()
    await bob.aclose()


async def test_a_refused_poll_rechecks_each_subscriber_and_ends_only_the_refused() -> None:
    hub, source = Hub(), Counter(allowed={"alice", "bob"})
    a_sink, b_sink = Sink(), Sink()
    a, b = subscriber(a_sink), subscriber(b_sink)
    await hub.subscribe(a, ALICE, "count", lambda: source)
    await hub.subscribe(b, BOB, "count", lambda: source)
    await until(lambda: "alice" in source.reads[1:])  # alice, the first, polls
    source.allowed = {"bob"}  # alice's rights are revoked
    await until(lambda: a_sink.of("error"))
    [ended] = a_sink.of("error")
    assert ended["ended"] is True and ended["topic"] == "count" and ended["error"] == "not-found"
    assert a.topics == set() and not a.closed.is_set()  # the subscription ends, not the connection
    source.value = 5
    await until(lambda: b_sink.of("event"))
    assert b_sink.of("event")[0]["data"] == {"value": 5} and not b_sink.of("error")
    assert source.reads[-1] == "bob"  # bob polls now
    assert not a_sink.of("event")
    await a.aclose()
    await b.aclose()


async def test_subscribers_are_rechecked_every_recheck_interval() -> None:
    clock = Clock()
    hub, source = Hub(recheck_s=30.0, clock=clock), Counter(allowed={"alice", "bob"})
    a_sink, b_sink = Sink(), Sink()
    a, b = subscriber(a_sink), subscriber(b_sink)
    await hub.subscribe(a, ALICE, "count", lambda: source)
    await hub.subscribe(b, BOB, "count", lambda: source)
    source.allowed = {"alice"}  # bob loses the right; alice's polls still succeed
    await asyncio.sleep(0.05)
    assert not b_sink.of("error")
    clock.now += 31
    await until(lambda: b_sink.of("error"))
    assert b_sink.of("error")[0]["ended"] is True and not a_sink.of("error")
    await a.aclose()
    await b.aclose()


async def test_a_failing_source_is_told_once_and_its_events_resume() -> None:
    hub, source = Hub(), Counter()
    sink = Sink()
    sub = subscriber(sink)
    await hub.subscribe(sub, ALICE, "count", lambda: source)
    source.error = ServiceUnavailable("aria_x is restarting")
    await until(lambda: len(source.reads) > 6)
    [told] = sink.of("error")
    assert told["ended"] is False and told["error"] == "service-unavailable"
    source.error = RuntimeError("a bug in a source")  # not raised out of the producer; the same kind: not told again
    reads = len(source.reads)
    await until(lambda: len(source.reads) > reads + 3)
    assert len(sink.of("error")) == 1 and not hub._channels["count"].task.done()
    source.error = None
    source.value = 3
    await until(lambda: sink.of("event"))
    assert sink.of("event")[0]["data"] == {"value": 3} and sub.topics == {"count"}
    await sub.aclose()


async def test_a_closed_connection_is_not_registered_by_a_late_subscribe() -> None:
    hub = Hub()
    gate = asyncio.Event()

    class Slow(Counter):
        async def read(self, caller: Principal) -> Any:
            await gate.wait()
            return await super().read(caller)

    sub = subscriber(Sink())
    pending = asyncio.create_task(hub.subscribe(sub, ALICE, "count", Slow))
    await asyncio.sleep(0.01)
    await sub.aclose()
    gate.set()
    assert await pending is False
    assert hub.stats()["channels"] == 0


async def test_a_forbidden_error_ends_like_a_not_found() -> None:
    hub, source = Hub(), Counter()
    sink = Sink()
    sub = subscriber(sink)
    await hub.subscribe(sub, ALICE, "count", lambda: source)

    async def refuse(caller: Principal) -> None:
        raise Forbidden("no")

    source.authorize = refuse  # type: ignore[method-assign]
    source.error = Forbidden("no")
    await until(lambda: sink.of("error"))
    assert sink.of("error")[0] == {"type": "error", "error": "forbidden", "status": 403, "title": "Forbidden",
                                   "detail": "no", "topic": "count", "ended": True}
    await until(lambda: hub.stats()["channels"] == 0)
    await sub.aclose()
