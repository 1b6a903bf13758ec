"""The real-time channel's publish/subscribe hub: topics -> subscribers, one producer per topic.

::

    Source.read(as one subscriber) every 0.25-1 s ──> Channel(topic): changes since the last read
        (one producer task per topic with subscribers;        │ id += 1, the frame encoded once
         started on the first subscribe, stopped on the last)  ▼
    Subscriber (one per connection): bounded queue ──> its sender task ──> websocket.send_text
        full: the oldest message is dropped, and the next one sent is
              {"type": "lagged", "dropped": n, "topics": {topic: n}}
        full (above half capacity) for longer than stall_timeout_s: closed with 1013

Who sees what: every topic's data is the same for everyone allowed to read it (one run's
timeline, one job's record, one character's versions, the public service directory), so a channel
is keyed by the topic alone and its data is fetched once and fanned out. Each subscriber is
authorized on its own: at subscribe, by the source's read *as that subscriber* (a refusal is an
error frame, not a close); again every ``recheck_s``; and at once, every subscriber, when a poll is
refused (403/404: rights revoked, the thing deleted), ending with an error frame (``"ended": true``)
the subscriptions of those now refused. The poll itself runs as the longest-standing subscriber.
A topic whose content would differ by viewer must carry the viewer in its key (``topic@tenant``),
so that no fan-out crosses rights.

Guarantees and caveats
----------------------
- A slow client never slows the producer or another client: ``offer`` never awaits; each
  connection's sender awaits only its own socket.
- Message ids count up by one per topic from the channel's start; a gap seen by a client is
  exactly the messages dropped for it (a ``lagged`` frame says how many). A channel that stops
  (no subscribers) and starts again begins at 1 with a fresh snapshot.
- A failing source (its service down, a timeout) is reported once per kind of failure with an
  error frame ``"ended": false`` and polled at the slowest interval until it answers again.
- Only this process's subscribers: each gateway replica has its own hub and polls on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aria_actors.interface.protocol import CLOSE_TRY_LATER, QUEUE_CAPACITY, STALL_TIMEOUT_S, dumps, error_frame
from aria_actors.runtime.errors import AriaError, Forbidden, NotFound, ServiceUnavailable, Unauthorized
from aria_actors.runtime.principal import Principal

log = logging.getLogger("aria.interface.hub")
Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
REFUSED = (Forbidden, NotFound, Unauthorized)
CLOSE_WAIT_S = 2.0  # how long a close frame may wait on a client that reads nothing


class Source(Protocol):
    """Where one topic's data comes from (see :mod:`aria_actors.interface.topics`)."""

    min_interval_s: float
    max_interval_s: float

    async def authorize(self, caller: Principal) -> None:
        """Raise (403/404) unless ``caller`` may read this topic."""

    async def read(self, caller: Principal) -> Any:
        """The topic's current state, read as ``caller`` (raises when refused)."""

    def update(self, state: Any) -> list[dict[str, Any]]:
        """The events since the last state (the first state is the baseline: none)."""

    def snapshot(self) -> Any:
        """The current state, for a subscriber that joins now."""


def cause_of(exc: BaseException) -> BaseException:
    """A service's own error for one that arrived wrapped (a Ray actor's error)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, AriaError) else exc


def as_aria_error(exc: BaseException, what: str) -> AriaError:
    exc = cause_of(exc)
    if isinstance(exc, AriaError):
        return exc
    return ServiceUnavailable(f"{what}: {type(exc).__name__}")


class Subscriber:
    """One connection's outgoing side: a bounded queue and the task that drains it to the socket."""

    def __init__(self, send: Send, close: Close, *, capacity: int = QUEUE_CAPACITY,
                 stall_timeout_s: float = STALL_TIMEOUT_S, clock: Callable[[], float] = time.monotonic,
                 name: str = "") -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self._send = send
        self._close = close
        self.capacity = capacity
        self.stall_timeout_s = stall_timeout_s
        self.clock = clock
        self.name = name
        self.topics: set[str] = set()
        self.dropped_total = 0
        self.sent = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._queue: deque[tuple[str | None, str]] = deque()
        self._dropped: Counter[str] = Counter()
        self._full_since: float | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Subscriber({self.name or id(self)}, {len(self._queue)} queued)"

    @property
    def queued(self) -> int:
        return len(self._queue)

    def start(self) -> asyncio.Task[None]:
        """Start the sender task (it ends when the subscriber closes or a send fails)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"aria-ws-send-{self.name}")
        return self._task

    def offer(self, text: str, topic: str | None = None) -> None:
        """Queue one frame; never waits. Full: drop the oldest (counted for the lagged notice)."""
        if self.closed.is_set():
            return
        queue = self._queue
        if len(queue) >= self.capacity:
            dropped, _ = queue.popleft()
            self._dropped[dropped or ""] += 1
            self.dropped_total += 1
            now = self.clock()
            if self._full_since is None:
                self._full_since = now
            elif now - self._full_since > self.stall_timeout_s:
                self.close_soon(CLOSE_TRY_LATER, f"too slow: {self.dropped_total} messages dropped; "
                                                 "reconnect and resubscribe")
                return
        queue.append((topic, text))
        self._ready.set()

    def offer_doc(self, doc: dict[str, Any], topic: str | None = None) -> None:
        self.offer(dumps(doc), topic)

    def _lagged(self) -> str:
        topics = {k: v for k, v in self._dropped.items() if k}
        text = dumps({"type": "lagged", "dropped": sum(self._dropped.values()), "topics": topics})
        self._dropped.clear()
        return text

    async def _run(self) -> None:
        queue = self._queue
        try:
            while not self.closed.is_set():
                if not queue:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                if self._dropped:
                    text = self._lagged()
                else:
                    _, text = queue.popleft()
                    if self._full_since is not None and len(queue) <= self.capacity // 2:
                        self._full_since = None  # caught up (hysteresis: not merely one below full)
                await self._send(text)
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client went away mid-send: the connection is over
            self._mark_closed(None, f"send failed: {type(exc).__name__}")

    def _mark_closed(self, code: int | None, reason: str) -> None:
        if not self.closed.is_set():
            self.close_code, self.close_reason = code, reason
            self.closed.set()
            self._ready.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` from outside the sender (which may be stuck in a send)."""
        if self.closed.is_set():
            return
        self._mark_closed(code, reason)
        self._closing = asyncio.get_running_loop().create_task(self._shutdown(code, reason))

    async def _shutdown(self, code: int, reason: str) -> None:
        if self._task is not None:
            self._task.cancel()
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self._close(code, reason)
        except Exception as exc:  # the socket is gone or stuck: the handler drops it anyway
            log.debug("close %s of %s: %s", code, self.name, type(exc).__name__)

    async def aclose(self) -> None:
        """Stop the sender (the connection ended; queued frames are discarded), and let a close
        begun by :meth:`close_soon` finish (it is bounded by ``CLOSE_WAIT_S``)."""
        self._mark_closed(self.close_code, self.close_reason)
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._closing is not None and self._closing is not asyncio.current_task():
            with contextlib.suppress(Exception):
                await self._closing


class _Channel:
    __slots__ = ("checked_at", "failing", "last_id", "polls", "source", "subscribers", "task", "topic", "wake")

    def __init__(self, topic: str, source: Source, now: float) -> None:
        self.topic = topic
        self.source = source
        self.subscribers: dict[Subscriber, Principal] = {}  # in subscription order: the first polls
        self.last_id = 0
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.failing: str | None = None
        self.polls = 0
        self.checked_at = now


class Hub:
    """Topics -> subscribers, with one producer task per topic that has subscribers."""

    def __init__(self, *, recheck_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_s = recheck_s
        self.clock = clock
        self.connections: set[Subscriber] = set()
        self._channels: dict[str, _Channel] = {}

    # -- connections ---------------------------------------------------------------------------------
    def attach(self, sub: Subscriber) -> None:
        self.connections.add(sub)

    def detach(self, sub: Subscriber) -> None:
        """The connection ended: every subscription of it goes."""
        for topic in list(sub.topics):
            self.unsubscribe(sub, topic)
        self.connections.discard(sub)

    # -- subscriptions -------------------------------------------------------------------------------
    async def subscribe(self, sub: Subscriber, caller: Principal, topic: str,
                        make_source: Callable[[], Source], req_id: str | int | None = None) -> bool:
        """Subscribe ``sub`` as ``caller`` once the source lets ``caller`` read it (raises if not).

        The ``subscribed`` frame (with the snapshot and the last id) is queued before any event of
        the topic that follows it. Subscribing again to the same topic re-checks and re-sends it.
        False: the connection closed meanwhile.
        """
        channel = self._channels.get(topic)
        if channel is None:
            source = make_source()
            state = await source.read(caller)  # the authorization, and the baseline
            channel = self._channels.get(topic)  # another subscriber may have opened it meanwhile
            if channel is None:
                source.update(state)
                channel = self._open(topic, source)
        else:
            await channel.source.authorize(caller)
            if self._channels.get(topic) is not channel:  # its last subscriber left meanwhile
                return await self.subscribe(sub, caller, topic, make_source, req_id)
        if sub.closed.is_set():
            if not channel.subscribers:
                self._close(channel)
            return False
        channel.subscribers.setdefault(sub, caller)
        sub.topics.add(topic)
        ack: dict[str, Any] = {"type": "subscribed", "topic": topic, "last_id": channel.last_id,
                               "snapshot": channel.source.snapshot()}
        if req_id is not None:
            ack["id"] = req_id
        sub.offer_doc(ack)
        return True

    def unsubscribe(self, sub: Subscriber, topic: str) -> bool:
        channel = self._channels.get(topic)
        sub.topics.discard(topic)
        if channel is None or channel.subscribers.pop(sub, None) is None:
            return False
        if not channel.subscribers:
            self._close(channel)
        return True

    def publish(self, topic: str, data: Any) -> int | None:
        """Fan ``data`` out to the topic's subscribers now (a push source); its id, None if nobody listens."""
        channel = self._channels.get(topic)
        return None if channel is None else self._publish(channel, data)

    def wake(self, topic: str) -> None:
        """Poll ``topic`` now rather than at its next interval (something knows it changed)."""
        channel = self._channels.get(topic)
        if channel is not None:
            channel.wake.set()

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.connections), "channels": len(self._channels),
                "topics": {t: {"subscribers": len(c.subscribers), "last_id": c.last_id, "polls": c.polls,
                               "failing": c.failing} for t, c in self._channels.items()}}

    async def aclose(self) -> None:
        for channel in list(self._channels.values()):
            self._close(channel)

    # -- producers -----------------------------------------------------------------------------------
    def _open(self, topic: str, source: Source) -> _Channel:
        channel = _Channel(topic, source, self.clock())
        self._channels[topic] = channel
        channel.task = asyncio.create_task(self._produce(channel), name=f"aria-ws-topic-{topic}")
        return channel

    def _close(self, channel: _Channel) -> None:
        if self._channels.get(channel.topic) is channel:
            del self._channels[channel.topic]
        task = channel.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def _publish(self, channel: _Channel, data: Any) -> int:
        try:
            text = dumps({"type": "event", "topic": channel.topic, "id": channel.last_id + 1, "data": data})
        except (TypeError, ValueError) as exc:  # NaN, odd keys: skip the event, keep the channel
            log.warning("event of %s not sent: %s", channel.topic, exc)
            return channel.last_id
        channel.last_id += 1
        for sub in channel.subscribers:
            sub.offer(text, channel.topic)
        return channel.last_id

    async def _produce(self, channel: _Channel) -> None:
        source = channel.source
        interval = source.min_interval_s
        try:
            while channel.subscribers:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await channel.wake.wait()
                channel.wake.clear()
                if not channel.subscribers:
                    break
                interval = await self._poll(channel, interval)
                if channel.subscribers and self.clock() - channel.checked_at >= self.recheck_s:
                    await self._recheck(channel)
        finally:
            self._close(channel)

    async def _poll(self, channel: _Channel, interval: float) -> float:
        """One read and its fan-out; the interval until the next."""
        source = channel.source
        poller = next(iter(channel.subscribers.values()))
        try:
            events = source.update(await source.read(poller))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = cause_of(exc)
            if isinstance(error, REFUSED):
                await self._recheck(channel)
                return source.min_interval_s
            self._failing(channel, as_aria_error(exc, f"cannot read {channel.topic}"), exc)
            return source.max_interval_s
        channel.polls += 1
        channel.failing = None
        for data in events:
            self._publish(channel, data)
        return source.min_interval_s if events else min(interval * 2, source.max_interval_s)

    def _failing(self, channel: _Channel, error: AriaError, exc: BaseException) -> None:
        if channel.failing == error.type:
            return  # told once per kind of failure
        channel.failing = error.type
        if not isinstance(cause_of(exc), AriaError):
            log.warning("topic %s: %s", channel.topic, error.message, exc_info=exc)
        text = dumps(error_frame(error, topic=channel.topic, ended=False))
        for sub in channel.subscribers:
            sub.offer(text, channel.topic)

    async def _recheck(self, channel: _Channel) -> None:
        """Authorize every subscriber again, as itself; end the subscriptions now refused."""
        channel.checked_at = self.clock()
        for sub, caller in list(channel.subscribers.items()):
            try:
                await channel.source.authorize(caller)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = cause_of(exc)
                if isinstance(error, REFUSED):  # else the service is in trouble: the poll fails too
                    self._end(channel, sub, error)

    def _end(self, channel: _Channel, sub: Subscriber, error: AriaError) -> None:
        if channel.subscribers.pop(sub, None) is None:
            return
        sub.topics.discard(channel.topic)
        sub.offer_doc(error_frame(error, topic=channel.topic, ended=True))
        if not channel.subscribers:
            self._close(channel)
