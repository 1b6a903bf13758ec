"""aria_auth's WebRTC peers part without a database: TURN REST credentials against an independent
HMAC and the draft's response shape, peer grants (signed, expired, forged, another room, another
peer, another tenant, rights no longer held), and who may get a grant or manage a room."""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from aria_actors.auth.config import AuthSettings
from aria_actors.auth.peers import (
    TURN_URI,
    InvalidPeerRequest,
    PeerGrantExpired,
    PeerGrantInvalid,
    PeerGrantMismatch,
    PeerGrants,
    PeerKeys,
    PeerRoomNotFound,
    check_rights,
    open_grant,
    sign_grant,
    turn_password,
    turn_username,
)
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal

ROOM = str(uuid.uuid4())
OTHER_ROOM = str(uuid.uuid4())
ALICE, BOB, CAROL = (str(uuid.uuid4()) for _ in range(3))


def independent_turn_password(secret: str, username: str) -> str:
    """HMAC-SHA1 through another implementation (cryptography's OpenSSL binding), base64."""
    mac = crypto_hmac.HMAC(secret.encode(), hashes.SHA1())
    mac.update(username.encode())
    return base64.b64encode(mac.finalize()).decode()


# -- TURN REST credentials ------------------------------------------------------------------------------
def test_turn_password_is_base64_hmac_sha1_of_the_username() -> None:
    # RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?")
    expected = base64.b64encode(bytes.fromhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")).decode()
    assert turn_password("Jefe", "what do ya want for nothing?") == expected
    username = turn_username(1_900_000_000, ALICE)
    assert username == f"1900000000:{ALICE}"
    assert turn_password("s3cret", username) == independent_turn_password("s3cret", username)
    assert turn_password("s3cret", username) != turn_password("other", username)


def test_the_draft_example_uris_are_accepted_and_others_refused() -> None:
    # draft-uberti-behave-turn-rest-00 section 2.2's example response
    for uri in ("turn:1.2.3.4:9991?transport=udp", "turn:1.2.3.4:9992?transport=tcp",
                "turns:1.2.3.4:443?transport=tcp", "stun:stun.example.org:3478", "turn:[::1]:3478"):
        assert TURN_URI.fullmatch(uri), uri
    for uri in ("http://1.2.3.4", "turn:", "turn:host?transport=sctp", "turn:a b", "turn:h\n"):
        assert not TURN_URI.fullmatch(uri), uri


class Stub(PeerGrants):
    """The part over fixed keys and an in-memory room table (no database, no aria_security)."""

    def __init__(self, keys: PeerKeys, uris: list[str] | None = None) -> None:
        self.config = AuthSettings(peer_turn_uris=uris or ["turn:127.0.0.1:3478?transport=udp"])
        self.keys = keys
        self.rooms: dict[str, dict[str, Any]] = {}
        self.members: dict[tuple[str, str], list[str]] = {}

    async def _keys(self, *, fresh: bool = False) -> PeerKeys:
        return self.keys

    async def _room_row(self, caller: Principal, room: uuid.UUID) -> Any:
        row = self.rooms.get(str(room))
        if row is None or (caller.tenant or "") != row["tenant"]:
            return None, None  # row-level security: another tenant's room is not seen
        rights = self.members.get((str(room), caller.subject))
        return row, (None if rights is None else {"rights": rights})


def user(subject: str, roles: tuple[str, ...] = ("user",), tenant: str | None = "t1") -> Principal:
    return Principal(subject=subject, roles=roles, tenant=tenant, kind="user", session=str(uuid.uuid4()))


@pytest.fixture
def stub() -> Stub:
    s = Stub(PeerKeys.new(int(time.time())))
    s.rooms[ROOM] = {"id": uuid.UUID(ROOM), "tenant": "t1", "name": "demo", "created_by": ALICE}
    s.rooms[OTHER_ROOM] = {"id": uuid.UUID(OTHER_ROOM), "tenant": "t1", "name": "other", "created_by": CAROL}
    s.members[(ROOM, ALICE)] = ["data", "publish", "subscribe"]
    s.members[(ROOM, BOB)] = ["data", "subscribe"]
    return s


def test_turn_credentials_have_the_draft_shape_and_verify_with_the_secret(stub: Stub) -> None:
    before = int(time.time())
    out = asyncio.run(stub.turn_credentials(user(ALICE)))
    assert set(out) == {"username", "password", "ttl", "uris"}
    expiry, _, who = out["username"].partition(":")
    assert who == ALICE and re.fullmatch(r"\d+", expiry)
    assert before + out["ttl"] <= int(expiry) <= int(time.time()) + out["ttl"]
    assert out["ttl"] == stub.config.peer_turn_ttl_s
    assert len(base64.b64decode(out["password"], validate=True)) == 20  # a SHA-1 MAC
    assert out["password"] == independent_turn_password(stub.keys.turn, out["username"])
    assert out["uris"] == ["turn:127.0.0.1:3478?transport=udp"]
    short = asyncio.run(stub.turn_credentials(user(ALICE), 120))
    assert short["ttl"] == 120 and int(short["username"].split(":")[0]) <= int(time.time()) + 120


@pytest.mark.parametrize("ttl", [0, 59, 86401, True, "600"])
def test_turn_credentials_refuse_a_bad_lifetime(stub: Stub, ttl: Any) -> None:
    with pytest.raises(InvalidPeerRequest):
        asyncio.run(stub.turn_credentials(user(ALICE), ttl))


def test_turn_credentials_are_for_a_user_session_only(stub: Stub) -> None:
    service = Principal(subject="svc:x", roles=("service",), kind="service")
    with pytest.raises(Forbidden):
        asyncio.run(stub.turn_credentials(service))


def test_rotation_keeps_the_previous_secret_and_grant_key() -> None:
    keys = PeerKeys.new(1000)
    rotated = keys.rotated(2000)
    assert rotated.previous_turn == keys.turn and rotated.turn != keys.turn
    assert rotated.grant_keys() == {rotated.kid: rotated.grant, keys.kid: keys.grant}
    assert PeerKeys.from_doc(rotated.to_doc()) == rotated
    grant = sign_grant(keys.kid, keys.grant, claims(exp=int(time.time()) + 60))
    assert open_grant(grant, rotated.grant_keys(), time.time())["peer"] == ALICE  # made before the rotation
    twice = rotated.rotated(3000)
    with pytest.raises(PeerGrantInvalid):
        open_grant(grant, twice.grant_keys(), time.time())  # two rotations later: gone


# -- grants ---------------------------------------------------------------------------------------------
def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"room": ROOM, "peer": ALICE, "tenant": "t1", "rights": ["data"], "iat": now, "exp": now + 60,
            "jti": "x", **over}


def test_a_grant_opens_with_its_key_and_not_after_it_expires() -> None:
    keys = {"1": "k1"}
    grant = sign_grant("1", "k1", claims())
    assert open_grant(grant, keys, time.time())["room"] == ROOM
    expired = sign_grant("1", "k1", claims(exp=int(time.time()) - 1))
    with pytest.raises(PeerGrantExpired):
        open_grant(expired, keys, time.time())


def test_a_forged_or_malformed_grant_is_refused() -> None:
    keys = {"1": "k1"}
    grant = sign_grant("1", "k1", claims())
    prefix, body, sig = grant.split(".")
    other_body = sign_grant("1", "k1", claims(peer=BOB)).split(".")[1]
    forged = [
        f"{prefix}.{other_body}.{sig}",                  # claims swapped, signature kept
        f"{prefix}.{body}.{sig[::-1]}",                  # signature altered
        sign_grant("1", "not-the-key", claims()),        # signed with another key
        sign_grant("9", "k1", claims()),                 # a kid that is not ours
        f"{prefix}.{body}.",                             # no signature
        f"pg0.{body}.{sig}", f"{body}.{sig}", "", "x" * 3000, "pg1.!!.!!", 42, None,
    ]
    for token in forged:
        with pytest.raises(PeerGrantInvalid):
            open_grant(token, keys, time.time())
    # a well-signed grant whose claims are of the wrong types is refused too, never a crash
    for bad in (claims(exp="soon"), claims(rights="data"), claims(peer=None), claims(exp=True)):
        with pytest.raises(PeerGrantInvalid):
            open_grant(sign_grant("1", "k1", bad), keys, time.time())


def test_verify_admits_only_the_grants_own_peer_for_its_room(stub: Stub) -> None:
    grant = asyncio.run(stub.create_peer_grant(user(BOB), ROOM))
    assert grant["rights"] == ["data", "subscribe"] and grant["peer"] == BOB
    assert grant["expires_at"] - int(time.time()) <= stub.config.peer_grant_ttl_s
    out = asyncio.run(stub.verify_peer_grant(user(BOB), grant["grant"], ROOM))
    assert out["peer"] == BOB and out["room"] == ROOM and out["rights"] == ["data", "subscribe"]
    with pytest.raises(PeerGrantMismatch):  # another room
        asyncio.run(stub.verify_peer_grant(user(BOB), grant["grant"], OTHER_ROOM))
    with pytest.raises(PeerGrantMismatch):  # another peer presenting Bob's grant
        asyncio.run(stub.verify_peer_grant(user(ALICE), grant["grant"], ROOM))
    with pytest.raises(PeerGrantMismatch):  # Bob of another tenant
        asyncio.run(stub.verify_peer_grant(user(BOB, tenant="t2"), grant["grant"], ROOM))
    with pytest.raises(InvalidPeerRequest):
        asyncio.run(stub.verify_peer_grant(user(BOB), grant["grant"], "not-a-room"))


def test_verify_refuses_an_expired_or_forged_grant(stub: Stub) -> None:
    now = int(time.time())
    expired = sign_grant(stub.keys.kid, stub.keys.grant, claims(peer=BOB, iat=now - 400, exp=now - 100))
    with pytest.raises(PeerGrantExpired):
        asyncio.run(stub.verify_peer_grant(user(BOB), expired, ROOM))
    forged = sign_grant(stub.keys.kid, "guessed", claims(peer=BOB))
    with pytest.raises(PeerGrantInvalid):
        asyncio.run(stub.verify_peer_grant(user(BOB), forged, ROOM))


def test_a_removed_member_or_narrowed_rights_cannot_join_with_an_earlier_grant(stub: Stub) -> None:
    grant = asyncio.run(stub.create_peer_grant(user(BOB), ROOM))["grant"]
    stub.members[(ROOM, BOB)] = ["subscribe"]
    with pytest.raises(PeerGrantMismatch):
        asyncio.run(stub.verify_peer_grant(user(BOB), grant, ROOM))
    del stub.members[(ROOM, BOB)]
    with pytest.raises(PeerGrantMismatch):
        asyncio.run(stub.verify_peer_grant(user(BOB), grant, ROOM))


def test_grants_go_to_members_within_their_rights_and_to_moderators(stub: Stub) -> None:
    with pytest.raises(Forbidden):  # Bob's membership holds no publish
        asyncio.run(stub.create_peer_grant(user(BOB), ROOM, ["publish"]))
    assert asyncio.run(stub.create_peer_grant(user(BOB), ROOM, ["data"]))["rights"] == ["data"]
    with pytest.raises(PeerRoomNotFound):  # Carol is no member and no moderator: the room is not told
        asyncio.run(stub.create_peer_grant(user(CAROL), ROOM))
    with pytest.raises(PeerRoomNotFound):
        asyncio.run(stub.create_peer_grant(user(ALICE, tenant="t2"), ROOM))
    editor = user(CAROL, roles=("editor",))  # interface:*:* on tenant t1: a moderator
    moderated = asyncio.run(stub.create_peer_grant(editor, ROOM))
    assert moderated["rights"] == ["data", "publish", "subscribe"]
    assert asyncio.run(stub.verify_peer_grant(editor, moderated["grant"], ROOM))["peer"] == CAROL
    with pytest.raises(Forbidden):  # a service token is not a user's session
        asyncio.run(stub.create_peer_grant(Principal(subject="svc:x", roles=("service",), kind="service"), ROOM))


@pytest.mark.parametrize("rights", [[], ["fly"], "data", None, ["data", 1]])
def test_rights_must_be_known_names(rights: Any) -> None:
    with pytest.raises(InvalidPeerRequest):
        check_rights(rights)
    assert check_rights(["subscribe", "data", "data"]) == ["data", "subscribe"]
