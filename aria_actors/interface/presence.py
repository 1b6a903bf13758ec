"""Presence on the real-time channel: who else has a character open, told live to everyone there.

::

    client A                                              gateway (this module)                client B
    ── {"op":"here","topic":"presence:character:<id>","id":1} ──>  authorize: aria_shape
                                                          character_history(<id>) as A (as the
                                                          ``character:<id>`` topic does)
    <─ {"type":"presence","topic":T,"you":"mA","members":[{"member":"mA","user":...,"name":"alice",
        "since":...}],"change":{"joined":"mA"},"id":1}
                                                          ── the same frame (its own "you") ──> B
    ── {"op":"here","topic":T} every HEARTBEAT_S ──>      refreshes A (re-authorized every REAUTH_S); nobody told
    ── {"op":"gone","topic":T} ──> (or the connection ends, or A is not heard for TTL_S)
                                                          ── {"type":"presence",...,"change":
                                                              {"left":"mA","reason":"gone|disconnected|expired"}} ──> B

Guarantees and caveats
----------------------
- Being present needs read access to the thing, decided by its owning service as the caller
  itself (a character: aria_shape ``character_history``), at ``here`` and at every heartbeat; a
  refused heartbeat removes the member (told to the others) and answers an error frame.
- Members are named by the display name of their token (aria_auth's ``name`` claim: the
  username), else the subject; each connection is its own member (``member``: random per
  ``here``), so one user with two tabs shows twice; ``you`` tells each recipient which is itself.
- Bounded: :data:`MAX_MEMBERS` per topic, :data:`MAX_TOPICS_PER_CONNECTION` per connection,
  names cut to :data:`MAX_NAME_CHARS`. A member not heard for :data:`TTL_S` (a half-open TCP
  connection, a frozen tab) is dropped by a sweep every :data:`SWEEP_S`.
- One gateway process: members connected to different gateway replicas do not see each other
  (as for WebRTC rooms). Presence frames share the receiving connection's bounded queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aria_actors.interface.errors import InvalidTopic, NotSubscribed, UnknownTopic
from aria_actors.interface.hub import REFUSED, Subscriber, cause_of
from aria_actors.interface.protocol import dumps
from aria_actors.interface.topics import KINDS
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal

log = logging.getLogger("aria.interface.presence")

PREFIX = "presence:"
PRESENCE_KINDS = ("character",)  # the topics one may be present on
MAX_MEMBERS = 32                 # per topic and gateway process
MAX_TOPICS_PER_CONNECTION = 8
MAX_NAME_CHARS = 64
HEARTBEAT_S = 20.0               # how often a client says "here" again
TTL_S = 120.0                    # a member not heard for this long is dropped (a background tab's timers
                                 # may fire only once a minute)
REAUTH_S = 30.0                  # a member's heartbeat is authorized again at most this often
SWEEP_S = 10.0
# Whether ``caller`` may be present on the thing ``topic`` names (raises 403/404 when not).
Authorize = Callable[[Principal, str], Awaitable[None]]


class PresenceFull(BadRequest):
    """As many members or presence topics as allowed: leave one (``gone``) first."""

    type = "interface-presence-limit"
    status = 429
    title = "Presence limit reached"


def canonical(topic: str) -> tuple[str, str]:
    """``presence:character:<id>`` -> (canonical presence topic, the topic it is about); typed errors."""
    if not topic.startswith(PREFIX):
        raise InvalidTopic(f"presence is told on presence:<topic> (presence:character:<id>); got {topic[:80]!r}",
                           topic=topic[:80])
    inner = topic[len(PREFIX):]
    name, sep, arg = inner.partition(":")
    kind = KINDS.get(name)
    if kind is None or name not in PRESENCE_KINDS:
        raise UnknownTopic(f"no presence on {inner[:80]!r}: one of " + ", ".join(f"presence:{KINDS[k].pattern}"
                                                                                for k in PRESENCE_KINDS),
                           topic=topic[:80])
    if not sep or kind.arg is None or not kind.arg.fullmatch(arg):
        raise InvalidTopic(f"presence topic must be presence:{kind.pattern}; got {topic[:80]!r}", topic=topic[:80])
    about = f"{name}:{arg.lower()}"
    return PREFIX + about, about


def display_name(caller: Principal) -> str:
    claims = caller.claims or {}
    for key in ("name", "preferred_username", "username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_NAME_CHARS]
    return caller.subject[:MAX_NAME_CHARS]


@dataclass(slots=True)
class Member:
    member: str
    topic: str
    user: str
    name: str
    since: str
    sub: Subscriber
    seen: float
    authorized: float = 0.0  # when the read right was last checked (clock())

    def describe(self) -> dict[str, Any]:
        return {"member": self.member, "user": self.user, "name": self.name, "since": self.since}


class Presence:
    """The presence topics of one gateway process: topic -> subscriber -> :class:`Member`."""

    def __init__(self, *, ttl_s: float = TTL_S, sweep_s: float = SWEEP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.sweep_s = sweep_s
        self.clock = clock
        self.topics: dict[str, dict[Subscriber, Member]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def stats(self) -> dict[str, Any]:
        return {"topics": len(self.topics), "members": sum(len(m) for m in self.topics.values())}

    def members(self, topic: str) -> list[dict[str, Any]]:
        return [m.describe() for m in self.topics.get(topic, {}).values()]

    def member(self, topic: str, sub: Subscriber) -> Member | None:
        return self.topics.get(topic, {}).get(sub)

    def refresh(self, me: Member, req_id: str | int | None = None) -> None:
        """A heartbeat of a member whose right was checked lately: seen now, answered to it alone."""
        me.seen = self.clock()
        self._tell_one(me, {"refreshed": me.member}, req_id)

    def room_for(self, topic: str, sub: Subscriber) -> None:
        """Refuse (:class:`PresenceFull`) unless ``sub`` may join ``topic`` as a new member."""
        members = self.topics.get(topic)
        if members is not None and len(members) >= MAX_MEMBERS:
            raise PresenceFull(f"{MAX_MEMBERS} members are present on {topic} on this gateway, the most there may be",
                               limit=MAX_MEMBERS, topic=topic)
        mine = sum(1 for m in self.topics.values() if sub in m)
        if mine >= MAX_TOPICS_PER_CONNECTION:
            raise PresenceFull(f"this connection is present on {MAX_TOPICS_PER_CONNECTION} topics, the most one may",
                               limit=MAX_TOPICS_PER_CONNECTION, topic=topic)

    def here(self, topic: str, sub: Subscriber, caller: Principal, req_id: str | int | None = None) -> Member:
        """Add or refresh ``sub`` on ``topic`` (authorized by the caller already); a new member is told to all."""
        members = self.topics.get(topic)
        me = members.get(sub) if members is not None else None
        if me is not None:  # a heartbeat: answered to the sender only
            me.seen = me.authorized = self.clock()
            self._tell_one(me, {"refreshed": me.member}, req_id)
            return me
        self.room_for(topic, sub)
        me = Member(secrets.token_urlsafe(9), topic, caller.subject, display_name(caller),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), sub, self.clock(), self.clock())
        self.topics.setdefault(topic, {})[sub] = me
        self._tell(topic, {"joined": me.member}, me, req_id)
        self._sweep_soon()
        return me

    def gone(self, topic: str, sub: Subscriber, reason: str = "gone", req_id: str | int | None = None) -> bool:
        """Remove ``sub`` from ``topic`` (told to the others; the sender gets the list without itself)."""
        members = self.topics.get(topic)
        me = members.pop(sub, None) if members is not None else None
        if me is None:
            return False
        if not members:
            del self.topics[topic]
        self._tell(topic, {"left": me.member, "reason": reason}, None, None)
        if req_id is not None:
            sub.offer_doc({"type": "presence", "topic": topic, "you": None, "members": self.members(topic),
                           "change": {"left": me.member, "reason": reason}, "id": req_id})
        return True

    def drop(self, sub: Subscriber, reason: str = "disconnected") -> None:
        """The connection ended: it leaves every topic."""
        for topic in [t for t, m in self.topics.items() if sub in m]:
            self.gone(topic, sub, reason)

    def sweep(self) -> int:
        """Drop the members not heard for ``ttl_s`` (and those whose connection closed); how many."""
        edge = self.clock() - self.ttl_s
        stale = [(t, s) for t, members in self.topics.items() for s, m in members.items()
                 if m.seen < edge or s.closed.is_set()]
        for topic, sub in stale:
            self.gone(topic, sub, "expired")
        return len(stale)

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(BaseException):
                await self._sweeper

    # -- internals ----------------------------------------------------------------------------------
    def _tell(self, topic: str, change: dict[str, Any], sender: Member | None, req_id: str | int | None) -> None:
        members = self.topics.get(topic, {})
        listing = [m.describe() for m in members.values()]
        for m in members.values():
            doc: dict[str, Any] = {"type": "presence", "topic": topic, "you": m.member, "members": listing,
                                   "change": change}
            if m is sender and req_id is not None:
                doc["id"] = req_id
            m.sub.offer(dumps(doc), topic)

    def _tell_one(self, me: Member, change: dict[str, Any], req_id: str | int | None) -> None:
        doc: dict[str, Any] = {"type": "presence", "topic": me.topic, "you": me.member,
                               "members": self.members(me.topic), "change": change}
        if req_id is not None:
            doc["id"] = req_id
        me.sub.offer_doc(doc, me.topic)

    def _sweep_soon(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop(), name="aria-ws-presence")

    async def _sweep_loop(self) -> None:
        while self.topics:
            await asyncio.sleep(self.sweep_s)
            try:
                self.sweep()
            except Exception:  # a sweep must never end presence for the process
                log.exception("presence sweep failed")


class PresenceOf:
    """One connection's side of presence: its ``here``/``gone`` frames."""

    def __init__(self, presence: Presence, caller: Principal, sub: Subscriber, authorize: Authorize) -> None:
        self.presence = presence
        self.caller = caller
        self.sub = sub
        self.authorize = authorize

    async def handle(self, op: str, topic: str, req_id: str | int | None) -> None:
        canon, about = canonical(topic)
        if op == "gone":
            if not self.presence.gone(canon, self.sub, "gone", req_id):
                raise NotSubscribed(f"not present on {canon!r}", topic=canon)
            return
        me = self.presence.member(canon, self.sub)
        if me is None:
            self.presence.room_for(canon, self.sub)  # before the service call a refused join would waste
        elif self.presence.clock() - me.authorized < REAUTH_S:
            self.presence.refresh(me, req_id)  # a heartbeat soon after the last check: no service call
            return
        try:
            await self.authorize(self.caller, about)
        except Exception as exc:
            if isinstance(cause_of(exc), REFUSED):  # no longer allowed: no longer present
                self.presence.gone(canon, self.sub, "refused")
            raise  # a service in trouble (503, timeout) keeps the member until its TTL
        if self.sub.closed.is_set():
            return
        self.presence.here(canon, self.sub, self.caller, req_id)

    def close(self) -> None:
        self.presence.drop(self.sub)


def describe() -> dict[str, Any]:
    """The presence part of the protocol, as ``GET /v1/interface/topics`` tells clients."""
    return {
        "topics": [f"presence:{KINDS[k].pattern}" for k in PRESENCE_KINDS],
        "authorization": "as the topic it is about, as the caller (presence:character:<id>: "
                         "shape:character:read of that character, as GET /v1/shape/characters/{id}/versions), "
                         "at here and at every heartbeat",
        "client_frames": {
            "here": {"op": "here", "topic": "presence:character:<id>", "id": "<optional>",
                     "note": f"join, then again every {HEARTBEAT_S:g} s as a heartbeat"},
            "gone": {"op": "gone", "topic": "presence:character:<id>", "id": "<optional>"},
        },
        "server_frames": {
            "presence": {"type": "presence", "topic": "presence:character:<id>", "you": "<your member id>",
                         "members": [{"member": "<id>", "user": "<user id>", "name": "<display name>",
                                      "since": "<datetime>"}],
                         "change": {"joined|left|refreshed": "<member id>",
                                    "reason": "gone|disconnected|expired|refused"}},
        },
        "limits": {"max_members": MAX_MEMBERS, "max_topics_per_connection": MAX_TOPICS_PER_CONNECTION,
                   "heartbeat_s": HEARTBEAT_S, "ttl_s": TTL_S},
    }
