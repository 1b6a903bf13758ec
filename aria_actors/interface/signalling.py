"""WebRTC signalling on the real-time channel: rooms joined with an aria_auth peer grant, offers,
answers and ICE candidates relayed between the peers of a room, and presence.

::

    client A                                   gateway (this module)                    client B
    ── {"op":"join","room":R,"grant":G,"id":1} ──> aria_auth.verify_peer_grant(A, G, R)
    <─ {"type":"joined","room":R,"peer":"pA","rights":[...],"peers":[{"peer":"pB","user":...,"rights":[...]}],"id":1}
                                                   ── {"type":"peer-joined","room":R,"peer":"pA","user":...} ──>
    ── {"op":"signal","room":R,"to":"pB","kind":"offer","sdp":"v=0..."} ──>
                                                   ── {"type":"signal","room":R,"from":"pA","user":...,
                                                       "kind":"offer","sdp":"v=0..."} ──>
    ── {"op":"signal","room":R,"to":"pB","kind":"candidate","candidate":{"candidate":"candidate:...",
        "sdpMid":"0","sdpMLineIndex":0}} ──>        ── relayed the same way ──>
    ── {"op":"leave","room":R} ──>                  ── {"type":"peer-left","room":R,"peer":"pA",...} ──>

Guarantees and caveats
----------------------
- A join needs a grant aria_auth issued for that room to *this* connection's user, unexpired,
  whose rights the user still holds in the room (checked by aria_auth as the connection's
  principal); anything else is an error frame and no presence is told.
- Peer ids are assigned by the server (random, per join), so a peer cannot pose as another; the
  user id of each peer is told with it. A signal goes only to a peer of a room the sender has
  joined, on the same gateway process.
- Every field is validated (:func:`parse_signal`): SDP at most :data:`MAX_SDP_BYTES` and starting
  with ``v=0``, a candidate at most :data:`MAX_CANDIDATE_BYTES`, known fields only, and counts:
  :data:`MAX_ROOMS_PER_CONNECTION` rooms per connection, :data:`MAX_PEERS_PER_ROOM` peers per room,
  :data:`MAX_SIGNALS_PER_PEER` signals from one peer to another per join. A bad frame is an error
  frame to its sender only (the connection's bad-frame count applies); nothing it sends reaches
  another peer unless it is valid.
- Rights: an SDP whose media sections need rights the sender's grant lacks is refused (``m=audio``
  or ``m=video`` need ``publish`` or ``subscribe``, ``m=application`` needs ``data``); what the
  peers then send each other is between them (the media do not pass through Aria).
- A grant opens a room; the membership lasts while the connection does (the grant may expire
  meanwhile; the connection itself closes when its access token does). Removing a member in
  aria_auth refuses its next join, not its current one.
- Rooms live in one gateway process's memory: peers connected to different gateway replicas do
  not meet (run one gateway replica for signalling, or route a room's peers to one).
- Relayed frames use the receiving connection's bounded queue: a peer that does not read loses
  the oldest frames (with a ``lagged`` notice) and is closed after the stall timeout, as for topics.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.interface.errors import (
    AlreadyJoined,
    InvalidFrame,
    NotJoined,
    RightMissing,
    RoomLimit,
    UnknownPeer,
)
from aria_actors.interface.hub import Subscriber
from aria_actors.interface.protocol import MAX_SIGNAL_FRAME_BYTES
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal

KINDS = ("offer", "answer", "candidate")
RIGHTS = ("publish", "subscribe", "data")
MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_BYTES = 1024
MAX_GRANT_CHARS = 2048
MAX_ROOMS_PER_CONNECTION = 4
MAX_PEERS_PER_ROOM = 32
MAX_SIGNALS_PER_PEER = 512  # offers, answers and candidates from one peer to another, per join
MAX_MID_CHARS = 64
MAX_UFRAG_CHARS = 256
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PEER_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
# A peer grant is verified as the connection's principal: (caller, grant, room) -> the grant's claims.
Verify = Callable[[Principal, str, str], Awaitable[dict[str, Any]]]


# -- frames --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Join:
    room: str
    grant: str


@dataclass(frozen=True, slots=True)
class Leave:
    room: str


@dataclass(frozen=True, slots=True)
class Signal:
    room: str
    to: str
    kind: str
    sdp: str | None = None
    candidate: dict[str, Any] | None = None


FIELDS = {"join": {"room", "grant"}, "leave": {"room"}, "signal": {"room", "to", "kind", "sdp", "candidate"}}
CANDIDATE_FIELDS = {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _text(doc: dict[str, Any], name: str, max_chars: int, req_id: Any, *, optional: bool = False) -> str | None:
    value = doc.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidFrame(f"{name} must be a string", field=name, id=req_id)
    if len(value) > max_chars:
        raise InvalidFrame(f"{name} is at most {max_chars} characters", field=name, id=req_id, limit=max_chars)
    return value


def _room(doc: dict[str, Any], req_id: Any) -> str:
    room = _text(doc, "room", 36, req_id) or ""
    if not UUID.fullmatch(room):
        raise InvalidFrame("room must be a room id (a UUID from aria_auth: POST /v1/auth/peers/rooms)",
                           field="room", id=req_id)
    return room.lower()


def _candidate(value: Any, req_id: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidFrame("candidate must be an object {candidate, sdpMid, sdpMLineIndex}", field="candidate",
                           id=req_id)
    if unknown := sorted(set(value) - CANDIDATE_FIELDS):
        raise InvalidFrame(f"unknown candidate fields: {', '.join(k[:40] for k in unknown[:5])}",
                           field="candidate", id=req_id)
    text = value.get("candidate")
    if not isinstance(text, str):
        raise InvalidFrame("candidate.candidate must be a string ('' ends the candidates)", field="candidate",
                           id=req_id)
    if _utf8_size(text) > MAX_CANDIDATE_BYTES:
        raise InvalidFrame(f"a candidate is at most {MAX_CANDIDATE_BYTES} bytes", field="candidate", id=req_id,
                           limit=MAX_CANDIDATE_BYTES)
    if text and (not text.startswith("candidate:") or any(c in text for c in "\r\n\x00")):
        raise InvalidFrame("candidate.candidate must be one 'candidate:...' line (RFC 8839)", field="candidate",
                           id=req_id)
    mid = value.get("sdpMid")
    if mid is not None and (not isinstance(mid, str) or len(mid) > MAX_MID_CHARS):
        raise InvalidFrame(f"candidate.sdpMid must be a string of at most {MAX_MID_CHARS} characters or null",
                           field="candidate", id=req_id)
    index = value.get("sdpMLineIndex")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1024):
        raise InvalidFrame("candidate.sdpMLineIndex must be an integer 0-1023 or null", field="candidate", id=req_id)
    ufrag = value.get("usernameFragment")
    if ufrag is not None and (not isinstance(ufrag, str) or len(ufrag) > MAX_UFRAG_CHARS):
        raise InvalidFrame("candidate.usernameFragment must be a short string or null", field="candidate",
                           id=req_id)
    return {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index,
            **({"usernameFragment": ufrag} if ufrag is not None else {})}


def _sdp(value: Any, req_id: Any) -> str:
    if not isinstance(value, str):
        raise InvalidFrame("sdp must be a string (the session description)", field="sdp", id=req_id)
    if _utf8_size(value) > MAX_SDP_BYTES:
        raise InvalidFrame(f"an SDP is at most {MAX_SDP_BYTES} bytes", field="sdp", id=req_id, limit=MAX_SDP_BYTES)
    if not value.startswith("v=0") or "\x00" in value:
        raise InvalidFrame("sdp must be a session description starting with 'v=0' (RFC 8866)", field="sdp", id=req_id)
    return value


def parse_signal(op: str, doc: dict[str, Any], req_id: Any = None) -> Join | Leave | Signal:
    """A signalling frame (``op`` one of :data:`SIGNAL_OPS`) from its JSON object, or InvalidFrame."""
    if unknown := sorted(set(doc) - FIELDS[op] - {"op", "id"}):
        raise InvalidFrame(f"unknown fields: {', '.join(k[:40] for k in unknown[:5])}", field=unknown[0][:40],
                           id=req_id)
    room = _room(doc, req_id)
    if op == "join":
        grant = _text(doc, "grant", MAX_GRANT_CHARS, req_id) or ""
        if not grant:
            raise InvalidFrame("join needs a grant (POST /v1/auth/peers/grants)", field="grant", id=req_id)
        return Join(room, grant)
    if op == "leave":
        return Leave(room)
    to = _text(doc, "to", 32, req_id) or ""
    if not PEER_ID.fullmatch(to):
        raise InvalidFrame("to must be a peer id of the room (from joined or peer-joined)", field="to", id=req_id)
    kind = doc.get("kind")
    if kind not in KINDS:
        raise InvalidFrame(f"kind must be one of {', '.join(KINDS)}", field="kind", id=req_id)
    if kind == "candidate":
        if "sdp" in doc:
            raise InvalidFrame("a candidate carries no sdp", field="sdp", id=req_id)
        return Signal(room, to, kind, candidate=_candidate(doc.get("candidate"), req_id))
    if "candidate" in doc:
        raise InvalidFrame(f"an {kind} carries no candidate", field="candidate", id=req_id)
    return Signal(room, to, kind, sdp=_sdp(doc.get("sdp"), req_id))


def media_kinds(sdp: str) -> set[str]:
    """The media types of an SDP's ``m=`` lines (audio, video, application, ...)."""
    kinds = set()
    for line in sdp.splitlines():
        if line.startswith("m="):
            kinds.add(line[2:].split(" ", 1)[0].strip().lower())
    return kinds


def check_rights(sdp: str, rights: frozenset[str]) -> None:
    """Refuse an SDP whose media sections need rights the peer does not hold (RightMissing)."""
    for kind in sorted(media_kinds(sdp)):
        if kind == "application" and "data" not in rights:
            raise RightMissing("this peer's grant holds no 'data' right: no data channel", right="data")
        if kind != "application" and not rights & {"publish", "subscribe"}:
            raise RightMissing(f"this peer's grant holds neither 'publish' nor 'subscribe': no {kind[:20]}",
                               right="publish")


# -- rooms ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Peer:
    """One connection's presence in one room."""

    peer: str
    room: str
    user: str
    rights: frozenset[str]
    sub: Subscriber
    sent: Counter[str] = field(default_factory=Counter)

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "user": self.user, "rights": sorted(self.rights)}


class Rooms:
    """The rooms of one gateway process: room id -> peer id -> :class:`Peer`."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, Peer]] = {}

    def stats(self) -> dict[str, Any]:
        return {"rooms": len(self.rooms), "peers": sum(len(r) for r in self.rooms.values())}

    def join(self, room: str, user: str, rights: frozenset[str], sub: Subscriber) -> tuple[Peer, list[Peer]]:
        """Add a peer to ``room`` (told to the others): it and the peers already there."""
        peers = self.rooms.setdefault(room, {})
        if len(peers) >= MAX_PEERS_PER_ROOM:
            raise RoomLimit(f"room has {MAX_PEERS_PER_ROOM} peers on this gateway, the most one may",
                            limit=MAX_PEERS_PER_ROOM, room=room)
        peer_id = secrets.token_urlsafe(12)
        while peer_id in peers:  # 96 random bits: never in practice
            peer_id = secrets.token_urlsafe(12)
        me = Peer(peer_id, room, user, rights, sub)
        others = list(peers.values())
        peers[peer_id] = me
        notice = {"type": "peer-joined", "room": room, **me.describe()}
        for other in others:
            other.sub.offer_doc(notice)
        return me, others

    def leave(self, me: Peer, reason: str) -> None:
        peers = self.rooms.get(me.room)
        if peers is None or peers.get(me.peer) is not me:
            return
        del peers[me.peer]
        if not peers:
            del self.rooms[me.room]
            return
        notice = {"type": "peer-left", "room": me.room, **me.describe(), "reason": reason}
        for other in peers.values():
            other.sub.offer_doc(notice)

    def relay(self, me: Peer, signal: Signal) -> None:
        """Deliver ``signal`` from ``me`` to its target in the same room."""
        target = self.rooms.get(me.room, {}).get(signal.to)
        if target is None or target is me:
            raise UnknownPeer(f"no other peer {signal.to!r} in room {me.room}", room=me.room, peer=signal.to)
        if signal.sdp is not None:
            check_rights(signal.sdp, me.rights)
        if me.sent[signal.to] >= MAX_SIGNALS_PER_PEER:
            raise RoomLimit(f"{MAX_SIGNALS_PER_PEER} signals to this peer already; rejoin to renegotiate",
                            limit=MAX_SIGNALS_PER_PEER, room=me.room)
        me.sent[signal.to] += 1
        doc: dict[str, Any] = {"type": "signal", "room": me.room, "from": me.peer, "user": me.user,
                               "kind": signal.kind}
        if signal.sdp is not None:
            doc["sdp"] = signal.sdp
        else:
            doc["candidate"] = signal.candidate
        target.sub.offer_doc(doc)


class Signalling:
    """One connection's side of signalling: the rooms it joined and its frames."""

    def __init__(self, rooms: Rooms, caller: Principal, sub: Subscriber, verify: Verify) -> None:
        self.rooms = rooms
        self.caller = caller
        self.sub = sub
        self.verify = verify
        self.joined: dict[str, Peer] = {}

    async def handle(self, frame: Join | Leave | Signal, req_id: str | int | None) -> None:
        """Answer one signalling frame (raises a typed error for the connection's error frame)."""
        echo = {"id": req_id} if req_id is not None else {}
        if isinstance(frame, Join):
            if frame.room in self.joined:
                raise AlreadyJoined(f"already joined room {frame.room}", room=frame.room)
            if len(self.joined) >= MAX_ROOMS_PER_CONNECTION:
                raise RoomLimit(f"this connection has joined {MAX_ROOMS_PER_CONNECTION} rooms, the most one may",
                                limit=MAX_ROOMS_PER_CONNECTION, room=frame.room)
            claims = await self.verify(self.caller, frame.grant, frame.room)
            if claims.get("peer") != self.caller.subject or claims.get("room") != frame.room:
                raise Forbidden("the grant does not name this connection's user and room", room=frame.room)
            if frame.room in self.joined or self.sub.closed.is_set():  # joined meanwhile, or gone
                raise AlreadyJoined(f"already joined room {frame.room}", room=frame.room)
            rights = frozenset(r for r in claims.get("rights", ()) if r in RIGHTS)
            me, others = self.rooms.join(frame.room, self.caller.subject, rights, self.sub)
            self.joined[frame.room] = me
            self.sub.offer_doc({"type": "joined", "room": frame.room, "peer": me.peer, "rights": sorted(rights),
                                "expires_at": claims.get("expires_at"),
                                "peers": [p.describe() for p in others], **echo})
            return
        me = self.joined.get(frame.room)
        if me is None:
            raise NotJoined(f"not joined to room {frame.room}", room=frame.room)
        if isinstance(frame, Leave):
            del self.joined[frame.room]
            self.rooms.leave(me, "left")
            self.sub.offer_doc({"type": "left", "room": frame.room, **echo})
            return
        self.rooms.relay(me, frame)
        if req_id is not None:
            self.sub.offer_doc({"type": "sent", "room": frame.room, "to": frame.to, **echo})

    def close(self, reason: str = "disconnected") -> None:
        """The connection ended: leave every room (told to the other peers)."""
        for me in list(self.joined.values()):
            self.rooms.leave(me, reason)
        self.joined.clear()


def describe() -> dict[str, Any]:
    """The signalling part of the protocol, as ``GET /v1/interface/topics`` tells clients."""
    return {
        "client_frames": {
            "join": {"op": "join", "room": "<room id>", "grant": "<POST /v1/auth/peers/grants>", "id": "<optional>"},
            "leave": {"op": "leave", "room": "<room id>", "id": "<optional>"},
            "signal": {"op": "signal", "room": "<room id>", "to": "<peer id>", "kind": "offer|answer|candidate",
                       "sdp": "<offer/answer>", "candidate": {"candidate": "candidate:...", "sdpMid": "<str|null>",
                                                              "sdpMLineIndex": "<int|null>"}},
        },
        "server_frames": {
            "joined": {"type": "joined", "room": "<id>", "peer": "<your peer id>", "rights": ["<right>"],
                       "peers": [{"peer": "<id>", "user": "<user id>", "rights": ["<right>"]}]},
            "peer-joined": {"type": "peer-joined", "room": "<id>", "peer": "<id>", "user": "<user id>",
                            "rights": ["<right>"]},
            "peer-left": {"type": "peer-left", "room": "<id>", "peer": "<id>", "user": "<user id>",
                          "reason": "left|disconnected"},
            "signal": {"type": "signal", "room": "<id>", "from": "<peer id>", "user": "<user id>",
                       "kind": "offer|answer|candidate", "sdp": "<str>", "candidate": "<object>"},
            "sent": {"type": "sent", "room": "<id>", "to": "<peer id>", "id": "<echoed; only when id was given>"},
            "left": {"type": "left", "room": "<id>"},
        },
        "limits": {"max_sdp_bytes": MAX_SDP_BYTES, "max_candidate_bytes": MAX_CANDIDATE_BYTES,
                   "max_signal_frame_bytes": MAX_SIGNAL_FRAME_BYTES,
                   "max_rooms_per_connection": MAX_ROOMS_PER_CONNECTION,
                   "max_peers_per_room": MAX_PEERS_PER_ROOM, "max_signals_per_peer": MAX_SIGNALS_PER_PEER},
        "turn": "GET /v1/auth/peers/turn: TURN REST credentials (username, password, ttl, uris)",
    }
