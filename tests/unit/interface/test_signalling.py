"""WebRTC signalling on the channel: every field of a join, leave and signal frame validated
(sizes, counts, types), rights enforced on the SDP, presence, and, inside the real gateway app
(``create_app``, its bearer check) over aria_auth's real grant check (``PeerGrants`` with fixed keys
and an in-memory room table): peers join with their own grants only, relay offers, answers and
candidates to each other, and a malformed frame is an error to its sender only."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from aria_actors.auth.peers import PeerKeys
from aria_actors.auth.spec import SPEC as AUTH
from aria_actors.interface.errors import FrameTooLarge, InvalidFrame, RightMissing, RoomLimit, UnknownPeer
from aria_actors.interface.protocol import MAX_SIGNAL_FRAME_BYTES, parse_frame
from aria_actors.interface.signalling import (
    MAX_CANDIDATE_BYTES,
    MAX_PEERS_PER_ROOM,
    MAX_SDP_BYTES,
    MAX_SIGNALS_PER_PEER,
    Join,
    Rooms,
    Signal,
    check_rights,
    parse_signal,
)
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from tests.unit.auth.test_peers import Stub
from tests.unit.interface.apps import Gateway

WS = "/v1/interface/ws"
ROOM = str(uuid.uuid4())
OTHER_ROOM = str(uuid.uuid4())
ALICE, BOB, MALLORY = (str(uuid.uuid4()) for _ in range(3))
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
AUDIO_SDP = SDP.replace("m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=audio 9 UDP/TLS/RTP/SAVPF 111")
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


# -- frames ---------------------------------------------------------------------------------------------
def frame(**doc: Any) -> Any:
    f = parse_frame(json.dumps(doc))
    assert f.body is not None
    return parse_signal(f.op, f.body, f.id)


def test_valid_signalling_frames_parse() -> None:
    assert frame(op="join", room=ROOM, grant="g", id=1) == Join(ROOM, "g")
    offer = frame(op="signal", room=ROOM.upper(), to="abcdefgh12", kind="offer", sdp=SDP)
    assert offer == Signal(ROOM, "abcdefgh12", "offer", sdp=SDP)
    cand = frame(op="signal", room=ROOM, to="abcdefgh12", kind="candidate", candidate=CANDIDATE)
    assert cand.candidate == CANDIDATE
    end = frame(op="signal", room=ROOM, to="abcdefgh12", kind="candidate", candidate={"candidate": ""})
    assert end.candidate["candidate"] == ""
    # a signal frame may carry a 64 KiB SDP; every other frame stays small
    big = SDP + "a=x-pad:" + "p" * (MAX_SDP_BYTES - len(SDP) - 20) + "\r\n"
    assert frame(op="signal", room=ROOM, to="abcdefgh12", kind="answer", sdp=big).sdp == big


BAD: list[tuple[dict[str, Any], str]] = [
    ({"op": "join", "room": ROOM}, "grant"),
    ({"op": "join", "room": ROOM, "grant": ""}, "grant"),
    ({"op": "join", "room": ROOM, "grant": "g" * 3000}, "grant"),
    ({"op": "join", "room": "lobby", "grant": "g"}, "room"),
    ({"op": "join", "room": ROOM + "\n", "grant": "g"}, "room"),
    ({"op": "join", "room": 7, "grant": "g"}, "room"),
    ({"op": "join", "room": ROOM, "grant": "g", "peer": "me"}, "peer"),
    ({"op": "leave"}, "room"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "offer"}, "sdp"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "offer", "sdp": "hello"}, "sdp"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "offer", "sdp": SDP, "candidate": CANDIDATE},
     "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "bye"}, "kind"),
    ({"op": "signal", "room": ROOM, "to": "x", "kind": "offer", "sdp": SDP}, "to"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12\n", "kind": "offer", "sdp": SDP}, "to"),
    ({"op": "signal", "room": ROOM, "to": "../../etc", "kind": "offer", "sdp": SDP}, "to"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate", "candidate": "candidate:1"},
     "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {"candidate": "candidate:" + "1" * MAX_CANDIDATE_BYTES}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {"candidate": "a=rtcp-mux"}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {"candidate": "candidate:1\r\nm=video"}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {**CANDIDATE, "sdpMLineIndex": -1}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {**CANDIDATE, "sdpMLineIndex": True}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate",
      "candidate": {**CANDIDATE, "evil": 1}}, "candidate"),
    ({"op": "signal", "room": ROOM, "to": "abcdefgh12", "kind": "candidate", "candidate": CANDIDATE, "sdp": SDP},
     "sdp"),
]


@pytest.mark.parametrize(("doc", "field"), BAD)
def test_a_malformed_signalling_frame_names_its_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFrame) as bad:
        frame(**doc)
    assert bad.value.fields["field"] == field


def test_frame_sizes_over_the_caps_are_refused() -> None:
    huge_sdp = "v=0\r\n" + "a" * MAX_SDP_BYTES
    with pytest.raises(InvalidFrame):  # within the frame cap, over the SDP's
        frame(op="signal", room=ROOM, to="abcdefgh12", kind="offer", sdp=huge_sdp)
    with pytest.raises(FrameTooLarge):
        parse_frame(json.dumps({"op": "signal", "sdp": "v=0" + "a" * MAX_SIGNAL_FRAME_BYTES}))
    with pytest.raises(FrameTooLarge):  # only a signal frame may be larger than 4 KiB
        parse_frame(json.dumps({"op": "join", "room": ROOM, "grant": "g" * 5000}))
    with pytest.raises(FrameTooLarge):
        parse_frame("x" * 5000)


def test_rights_are_enforced_on_the_media_sections() -> None:
    check_rights(SDP, frozenset({"data"}))
    check_rights(AUDIO_SDP, frozenset({"subscribe"}))
    with pytest.raises(RightMissing):
        check_rights(SDP, frozenset({"publish", "subscribe"}))
    with pytest.raises(RightMissing):
        check_rights(AUDIO_SDP, frozenset({"data"}))


# -- rooms, without a socket ----------------------------------------------------------------------------
class Sink:
    """A Subscriber's offer side, recording."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.closed = asyncio.Event()

    def offer_doc(self, doc: dict[str, Any], topic: str | None = None) -> None:
        self.docs.append(json.loads(json.dumps(doc)))


def test_rooms_tell_presence_relay_to_the_addressed_peer_and_count() -> None:
    rooms = Rooms()
    a, b, c = Sink(), Sink(), Sink()
    pa, _ = rooms.join(ROOM, ALICE, frozenset({"data"}), a)  # type: ignore[arg-type]
    pb, seen = rooms.join(ROOM, BOB, frozenset({"data"}), b)  # type: ignore[arg-type]
    pc, _ = rooms.join(OTHER_ROOM, MALLORY, frozenset({"data"}), c)  # type: ignore[arg-type]
    assert seen == [pa] and a.docs[-1]["type"] == "peer-joined" and a.docs[-1]["peer"] == pb.peer
    rooms.relay(pa, Signal(ROOM, pb.peer, "offer", sdp=SDP))
    assert b.docs[-1] == {"type": "signal", "room": ROOM, "from": pa.peer, "user": ALICE, "kind": "offer", "sdp": SDP}
    assert c.docs == []  # another room hears nothing
    with pytest.raises(UnknownPeer):  # a peer of another room cannot be addressed
        rooms.relay(pc, Signal(OTHER_ROOM, pa.peer, "offer", sdp=SDP))
    with pytest.raises(UnknownPeer):  # nor oneself
        rooms.relay(pa, Signal(ROOM, pa.peer, "offer", sdp=SDP))
    for _ in range(MAX_SIGNALS_PER_PEER - 1):
        rooms.relay(pa, Signal(ROOM, pb.peer, "candidate", candidate=CANDIDATE))
    with pytest.raises(RoomLimit):
        rooms.relay(pa, Signal(ROOM, pb.peer, "candidate", candidate=CANDIDATE))
    rooms.leave(pb, "left")
    assert a.docs[-1]["type"] == "peer-left" and a.docs[-1]["peer"] == pb.peer
    rooms.leave(pa, "left")
    assert ROOM not in rooms.rooms and rooms.stats() == {"rooms": 1, "peers": 1}
    for i in range(MAX_PEERS_PER_ROOM):
        rooms.join(ROOM, f"u{i}", frozenset(), Sink())  # type: ignore[arg-type]
    with pytest.raises(RoomLimit):
        rooms.join(ROOM, "one-too-many", frozenset(), Sink())  # type: ignore[arg-type]


# -- through the gateway app ----------------------------------------------------------------------------
class Auth(Stub, Service):
    """aria_auth's real peer grant methods (verify_peer_grant, create_peer_grant) over fixed keys and
    an in-memory room table, as an in-process service behind the gateway."""

    SPEC = AUTH

    def __init__(self) -> None:
        Service.__init__(self, AriaSettings())
        Stub.__init__(self, PeerKeys.new(int(time.time())))

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("auth:session:read", scope="any", feature="endpoint-protection")
    async def revocations(self, caller: Principal, since_cursor: str | None = None) -> dict[str, Any]:
        """The gateway's revocation feed (aria_actors.auth.revocation): nothing revoked here."""
        return {"cursor": "0", "more": False, "horizon_s": 3600, "token_ttl_s": 900, "sessions": [], "clients": [],
                "locks": []}


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    g = Gateway()
    auth = Auth()
    auth.rooms[ROOM] = {"id": uuid.UUID(ROOM), "tenant": "t1", "name": "demo", "created_by": ALICE}
    auth.members[(ROOM, ALICE)] = ["data", "publish", "subscribe"]
    auth.members[(ROOM, BOB)] = ["data"]
    g.directory.clients["aria_auth"] = LocalClient(auth)
    g.auth = auth  # type: ignore[attr-defined]
    return g


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(gateway.app) as c:
        yield c


def session_of(gateway: Gateway, subject: str) -> dict[str, str]:
    token = asyncio.run(gateway.security.issue_token(Principal.operator(), subject,
                                                     {"roles": ["user"], "tenant": "t1", "sid": "s-" + subject[:8]},
                                                     600))
    return {"authorization": f"Bearer {token}"}


def grant_for(gateway: Gateway, subject: str, room: str = ROOM) -> str:
    caller = Principal(subject=subject, roles=("user",), tenant="t1", session="s")
    return asyncio.run(gateway.auth.create_peer_grant(caller, room))["grant"]  # type: ignore[attr-defined]


def until(ws: WebSocketTestSession, kind: str, tries: int = 3) -> dict[str, Any]:
    """The first frame of ``kind``, which must come before the pong of one of ``tries`` pings (the
    channel answers in order: a frame already queued for this connection comes first). A frame that
    never comes fails the test instead of hanging it."""
    for n in range(tries):
        marker = f"until-{kind}-{n}-{uuid.uuid4().hex[:6]}"
        ws.send_json({"op": "ping", "id": marker})
        while True:
            doc = ws.receive_json()
            if doc["type"] == kind and not (kind == "pong" and doc.get("id", "").startswith("until-")):
                return doc
            if doc == {"type": "pong", "id": marker}:
                break
    pytest.fail(f"no {kind!r} frame after {tries} pings")


def drain(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every frame queued for this connection before the pong of a new ping."""
    marker = f"drain-{uuid.uuid4().hex[:6]}"
    ws.send_json({"op": "ping", "id": marker})
    seen = []
    while (doc := ws.receive_json()) != {"type": "pong", "id": marker}:
        seen.append(doc)
    return seen


def test_two_peers_join_with_their_own_grants_and_relay_offer_answer_and_candidates(
        client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=session_of(gateway, ALICE)) as alice, \
            client.websocket_connect(WS, headers=session_of(gateway, BOB)) as bob:
        alice.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, ALICE), "id": "j"})
        joined_a = until(alice, "joined")
        assert joined_a["peers"] == [] and joined_a["id"] == "j" and joined_a["rights"] == ["data", "publish",
                                                                                           "subscribe"]
        # Bob presenting Alice's grant is refused; nobody is told about it
        bob.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, ALICE), "id": 1})
        refused = until(bob, "error")
        assert refused["error"] == "auth-peer-grant-mismatch" and refused["status"] == 403 and refused["id"] == 1
        bob.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, BOB), "id": 2})
        joined_b = until(bob, "joined")
        assert [p["user"] for p in joined_b["peers"]] == [ALICE] and joined_b["rights"] == ["data"]
        told = until(alice, "peer-joined")
        assert told["peer"] == joined_b["peer"] and told["user"] == BOB
        alice.send_json({"op": "signal", "room": ROOM, "to": joined_b["peer"], "kind": "offer", "sdp": SDP, "id": 3})
        assert until(alice, "sent")["id"] == 3
        offer = until(bob, "signal")
        assert offer["from"] == joined_a["peer"] and offer["user"] == ALICE and offer["sdp"] == SDP
        # Bob holds only "data": an audio answer is refused, a data-channel one relayed
        bob.send_json({"op": "signal", "room": ROOM, "to": joined_a["peer"], "kind": "answer", "sdp": AUDIO_SDP})
        assert until(bob, "error")["error"] == "interface-right-missing"
        bob.send_json({"op": "signal", "room": ROOM, "to": joined_a["peer"], "kind": "answer", "sdp": SDP})
        bob.send_json({"op": "signal", "room": ROOM, "to": joined_a["peer"], "kind": "candidate",
                       "candidate": CANDIDATE})
        assert until(alice, "signal")["kind"] == "answer"
        assert until(alice, "signal")["candidate"] == CANDIDATE
        bob.send_json({"op": "leave", "room": ROOM, "id": 4})
        assert until(bob, "left")["id"] == 4
        assert until(alice, "peer-left")["reason"] == "left"


def test_bad_signalling_frames_are_errors_to_their_sender_only(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=session_of(gateway, ALICE)) as alice, \
            client.websocket_connect(WS, headers=session_of(gateway, BOB)) as bob:
        alice.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, ALICE)})
        until(alice, "joined")
        bob.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, BOB)})
        peer_b = until(bob, "joined")["peer"]
        until(alice, "peer-joined")
        for bad, error in [
            ({"op": "signal", "room": ROOM, "to": peer_b, "kind": "offer", "sdp": "nope"}, "interface-invalid-frame"),
            ({"op": "signal", "room": OTHER_ROOM, "to": peer_b, "kind": "offer", "sdp": SDP}, "interface-not-joined"),
            ({"op": "signal", "room": ROOM, "to": "zzzzzzzzzzzz", "kind": "offer", "sdp": SDP},
             "interface-unknown-peer"),
            ({"op": "join", "room": ROOM, "grant": grant_for(gateway, ALICE)}, "interface-already-joined"),
            ({"op": "join", "room": OTHER_ROOM, "grant": "pg1.e30.AAAA"}, "auth-peer-grant-invalid"),
            ({"op": "join", "room": OTHER_ROOM, "grant": grant_for(gateway, ALICE)}, "auth-peer-grant-mismatch"),
            ({"op": "leave", "room": OTHER_ROOM}, "interface-not-joined"),
        ]:
            alice.send_json(bad)
            got = until(alice, "error")
            assert got["error"] == error, (bad, got)
        alice.send_text("{" + "x" * 70_000)
        assert until(alice, "error")["error"] == "interface-frame-too-large"
        # Bob heard nothing of it and both connections still work
        assert [f for f in drain(bob) if f["type"] != "pong"] == []
        assert [f for f in drain(alice) if f["type"] != "pong"] == []
    # Alice's connection closed: a peer that reconnects is told nothing stale (the room is empty)
    assert ROOM not in client.app.state.interface.rooms.rooms  # type: ignore[attr-defined]


def test_a_closed_connection_leaves_its_rooms(client: TestClient, gateway: Gateway) -> None:
    with client.websocket_connect(WS, headers=session_of(gateway, ALICE)) as alice:
        alice.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, ALICE)})
        until(alice, "joined")
        with client.websocket_connect(WS, headers=session_of(gateway, BOB)) as bob:
            bob.send_json({"op": "join", "room": ROOM, "grant": grant_for(gateway, BOB)})
            until(bob, "joined")
            until(alice, "peer-joined")
        gone = until(alice, "peer-left", tries=200)  # the other connection's end is handled on its own task
        assert gone["user"] == BOB and gone["reason"] == "disconnected"


def test_the_topics_route_describes_signalling(client: TestClient, gateway: Gateway) -> None:
    resp = client.get("/v1/interface/topics", headers=session_of(gateway, ALICE))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["webrtc"]["limits"]["max_sdp_bytes"] == MAX_SDP_BYTES
    assert set(out["webrtc"]["client_frames"]) == {"join", "leave", "signal"}
