"""WebRTC through a running `aria up` (the shared one): two users log in, one creates a room and
lets the other in, each takes a peer grant and TURN credentials from aria_auth, both join the room
on aria_interface's channel (``/v1/interface/ws`` behind Ray Serve's proxy), and two aiortc peers
exchange their offer, answer and ICE candidates through it, forced to relay through a coturn
(``/usr/bin/turnserver`` on loopback, configured with the TURN secrets Aria holds), open a data
channel and exchange a message. Without coturn the TURN part is skipped (with the reason) and the
peers connect over host candidates; the signalling is checked either way."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.fixtures.aria_up import RunningAria
from tests.integration.auth.test_peers import NO_COTURN, TURNSERVER, coturn

PASSWORD = "e2e webrtc passphrase"
RUN = uuid.uuid4().hex[:6]
RECV_S = 120  # a frame's wait on a loaded machine


@pytest.fixture(scope="module")
def admin(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_aria.url, headers={"Authorization": f"Bearer {shared_aria.token()}"},
                      timeout=120) as c:
        yield c


def login(admin: httpx.Client, shared_aria: RunningAria, name: str) -> tuple[str, str]:
    r = admin.post("/v1/auth/users", json={"username": name, "password": PASSWORD, "roles": ["user"]})
    assert r.status_code == 201, r.text
    with httpx.Client(base_url=shared_aria.url, timeout=120) as anonymous:
        tokens = anonymous.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return r.json()["id"], tokens.json()["access_token"]


async def frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (an error frame instead fails the test)."""
    while True:
        doc = json.loads(await asyncio.wait_for(ws.recv(), RECV_S))
        if doc["type"] == "error":
            pytest.fail(f"error frame while waiting for {kind}: {doc}")
        if doc["type"] == kind:
            return doc


def without_candidates(sdp: str) -> tuple[str, list[str]]:
    """The SDP without its candidate lines (they are trickled as candidate frames) and those lines."""
    lines = sdp.splitlines()
    candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
    rest = [line for line in lines if not line.startswith("a=candidate:") and line != "a=end-of-candidates"]
    return "\r\n".join(rest) + "\r\n", candidates


async def peers_exchange_a_message(base: str, alice: dict[str, Any], bob: dict[str, Any],
                                   ice: dict[str, list[Any]], relay_only: bool) -> dict[str, Any]:
    """Alice offers a data channel to Bob over the channel's signalling; the message Bob received and
    the candidate types the connection used."""
    # why: aiortc (and its codecs) load only for this test
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.rtcconfiguration import RTCIceTransportPolicy
    from aiortc.sdp import candidate_from_sdp

    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    pc_a = RTCPeerConnection(RTCConfiguration(iceServers=ice["alice"], iceTransportPolicy=policy))
    pc_b = RTCPeerConnection(RTCConfiguration(iceServers=ice["bob"], iceTransportPolicy=policy))
    loop = asyncio.get_running_loop()
    received: asyncio.Future[str] = loop.create_future()
    opened: asyncio.Future[bool] = loop.create_future()
    out: dict[str, Any] = {}
    try:
        async with connect(f"{base}/v1/interface/ws", additional_headers={"Authorization": f"Bearer {alice['token']}"},
                           open_timeout=60, max_size=2**24) as ws_a, \
                connect(f"{base}/v1/interface/ws", additional_headers={"Authorization": f"Bearer {bob['token']}"},
                        open_timeout=60, max_size=2**24) as ws_b:
            await ws_a.send(json.dumps({"op": "join", "room": alice["room"], "grant": alice["grant"], "id": "a"}))
            joined_a = await frame(ws_a, "joined")
            # Bob with Alice's grant is refused (the grant names Alice), then joins with his own
            await ws_b.send(json.dumps({"op": "join", "room": bob["room"], "grant": alice["grant"], "id": "x"}))
            refused = json.loads(await asyncio.wait_for(ws_b.recv(), RECV_S))
            out["refused"] = refused
            await ws_b.send(json.dumps({"op": "join", "room": bob["room"], "grant": bob["grant"], "id": "b"}))
            joined_b = await frame(ws_b, "joined")
            out["bob_saw"] = joined_b["peers"]
            out["alice_told"] = await frame(ws_a, "peer-joined")
            room, peer_a, peer_b = alice["room"], joined_a["peer"], joined_b["peer"]

            channel = pc_a.createDataChannel("chat")
            channel.on("open", lambda: opened.done() or opened.set_result(True))

            @pc_b.on("datachannel")
            def on_channel(dc: Any) -> None:
                dc.on("message", lambda m: received.done() or received.set_result(m))

            async def send(ws: ClientConnection, to: str, kind: str, **body: Any) -> None:
                await ws.send(json.dumps({"op": "signal", "room": room, "to": to, "kind": kind, **body}))

            async def trickle(ws: ClientConnection, to: str, candidates: list[str]) -> None:
                for line in candidates:
                    await send(ws, to, "candidate", candidate={"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})

            async def take_candidates(ws: ClientConnection, pc: Any, count: int) -> list[str]:
                types = []
                for _ in range(count):
                    doc = await frame(ws, "signal")
                    assert doc["kind"] == "candidate", doc
                    candidate = candidate_from_sdp(doc["candidate"]["candidate"].removeprefix("candidate:"))
                    candidate.sdpMid = doc["candidate"]["sdpMid"]
                    await pc.addIceCandidate(candidate)
                    types.append(candidate.type)
                return types

            await pc_a.setLocalDescription(await pc_a.createOffer())  # aiortc gathers here
            offer, cands_a = without_candidates(pc_a.localDescription.sdp)
            await send(ws_a, peer_b, "offer", sdp=offer)
            await trickle(ws_a, peer_b, cands_a)
            got_offer = await frame(ws_b, "signal")
            assert got_offer["kind"] == "offer" and got_offer["from"] == peer_a and got_offer["user"] == alice["id"]
            await pc_b.setRemoteDescription(RTCSessionDescription(got_offer["sdp"], "offer"))
            out["alice_candidates"] = await take_candidates(ws_b, pc_b, len(cands_a))
            await pc_b.setLocalDescription(await pc_b.createAnswer())
            answer, cands_b = without_candidates(pc_b.localDescription.sdp)
            await send(ws_b, peer_a, "answer", sdp=answer)
            await trickle(ws_b, peer_a, cands_b)
            got_answer = await frame(ws_a, "signal")
            assert got_answer["kind"] == "answer" and got_answer["from"] == peer_b
            await pc_a.setRemoteDescription(RTCSessionDescription(got_answer["sdp"], "answer"))
            out["bob_candidates"] = await take_candidates(ws_a, pc_a, len(cands_b))

            await asyncio.wait_for(opened, RECV_S)
            channel.send(f"hello bob {RUN}")
            out["message"] = await asyncio.wait_for(received, RECV_S)
            ice_a = pc_a.sctp.transport.transport  # RTCIceTransport over aioice
            out["pairs"] = [(p.local_candidate.type, p.remote_candidate.type)
                            for p in ice_a._connection._nominated.values()]
            await ws_b.send(json.dumps({"op": "leave", "room": room}))
            out["left"] = await frame(ws_a, "peer-left")
    finally:
        await pc_a.close()
        await pc_b.close()
    return out


def test_two_aiortc_peers_signal_through_aria_and_talk_over_turn(admin: httpx.Client,
                                                                 shared_aria: RunningAria) -> None:
    from aiortc import RTCIceServer  # why: aiortc loads only for this test

    alice_id, alice_token = login(admin, shared_aria, f"rtc-alice-{RUN}")
    bob_id, bob_token = login(admin, shared_aria, f"rtc-bob-{RUN}")
    as_alice = {"Authorization": f"Bearer {alice_token}"}
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    with httpx.Client(base_url=shared_aria.url, timeout=120) as http:
        room = http.post("/v1/auth/peers/rooms", headers=as_alice, json={"name": f"e2e {RUN}"})
        assert room.status_code == 201, room.text
        room_id = room.json()["id"]
        added = http.put(f"/v1/auth/peers/rooms/{room_id}/members/{bob_id}", headers=as_alice,
                         json={"rights": ["data"]})
        assert added.status_code == 200, added.text
        grants = {who: http.post("/v1/auth/peers/grants", headers=h, json={"room": room_id})
                  for who, h in (("alice", as_alice), ("bob", as_bob))}
        assert all(g.status_code == 201 for g in grants.values()), {k: g.text for k, g in grants.items()}
        turn = {who: http.get("/v1/auth/peers/turn", headers=h).json() for who, h in (("alice", as_alice),
                                                                                      ("bob", as_bob))}
    assert turn["alice"]["username"].endswith(f":{alice_id}") and turn["bob"]["username"].endswith(f":{bob_id}")
    secrets = admin.get("/v1/auth/peers/turn/secrets")
    assert secrets.status_code == 200, secrets.text
    peers = {"alice": {"id": alice_id, "token": alice_token, "room": room_id, "grant": grants["alice"].json()["grant"]},
             "bob": {"id": bob_id, "token": bob_token, "room": room_id, "grant": grants["bob"].json()["grant"]}}
    base = "ws://" + shared_aria.url.removeprefix("http://")

    if not os.access(TURNSERVER, os.X_OK):
        out = asyncio.run(peers_exchange_a_message(base, peers["alice"], peers["bob"],
                                                   {"alice": [], "bob": []}, relay_only=False))
        assert out["message"] == f"hello bob {RUN}"
        pytest.skip(f"signalling and a host-candidate data channel checked; the TURN relay not: {NO_COTURN}")
    lines = [s for s in (secrets.json()["current"], secrets.json()["previous"]) if s]
    with coturn(lines) as (port, log):
        uri = f"turn:127.0.0.1:{port}?transport=udp"  # the test's coturn; Aria's settings name no TURN server here
        ice = {who: [RTCIceServer(urls=uri, username=turn[who]["username"], credential=turn[who]["password"])]
               for who in ("alice", "bob")}
        out = asyncio.run(peers_exchange_a_message(base, peers["alice"], peers["bob"], ice, relay_only=True))
        turn_log = log.read_text()
    assert out["refused"]["type"] == "error" and out["refused"]["error"] == "auth-peer-grant-mismatch"
    assert [p["user"] for p in out["bob_saw"]] == [alice_id] and out["alice_told"]["user"] == bob_id
    assert out["message"] == f"hello bob {RUN}"
    # relay only: every candidate exchanged was a TURN relay candidate, and so is the pair in use
    assert out["alice_candidates"] and set(out["alice_candidates"]) == {"relay"}
    assert out["bob_candidates"] and set(out["bob_candidates"]) == {"relay"}
    assert out["pairs"] and all(pair == ("relay", "relay") for pair in out["pairs"])
    assert out["left"]["user"] == bob_id
    # coturn allocated for the usernames Aria issued (its log names the user of each session)
    assert turn["alice"]["username"] in turn_log and turn["bob"]["username"] in turn_log
