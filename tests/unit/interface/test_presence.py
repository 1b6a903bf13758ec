"""Presence on the channel: who else has a character open. The registry alone (members, limits,
expiry, display names), then inside the real gateway app (``create_app``, its bearer check) over a
stand-in aria_shape that keeps ``character_history``'s permission and its "another's character is
not found" rule: two users present on one character see each other by name, live; one who may not
read it is refused and told nothing; a closed connection and a ``gone`` leave; a refused
heartbeat removes the member."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aria_actors.interface import presence as presence_module
from aria_actors.interface.errors import InvalidTopic, UnknownTopic
from aria_actors.interface.hub import Subscriber
from aria_actors.interface.presence import (
    MAX_MEMBERS,
    MAX_TOPICS_PER_CONNECTION,
    Presence,
    PresenceFull,
    canonical,
    display_name,
)
from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.shape.spec import SPEC as SHAPE
from tests.unit.interface.apps import Gateway
from tests.unit.interface.test_signalling import drain, until

WS = "/v1/interface/ws"
CHAR = str(uuid.uuid4())
ALICE, BOB, MALLORY = (str(uuid.uuid4()) for _ in range(3))


# -- the registry -----------------------------------------------------------------------------------
class Sent:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send(self, text: str) -> None:
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        return None


def sub(name: str) -> Subscriber:
    s = Sent()
    return Subscriber(s.send, s.close, name=name)


def queued(s: Subscriber) -> list[dict[str, Any]]:
    import json  # test helper: reads the subscriber's queue without a sender task

    return [json.loads(text) for _, text in s._queue]


def person(subject: str, name: str | None = None) -> Principal:
    return Principal(subject=subject, roles=("editor",), claims={"sub": subject, **({"name": name} if name else {})})


def test_presence_topics_are_canonical_and_only_of_characters() -> None:
    assert canonical(f"presence:character:{CHAR.upper()}") == (f"presence:character:{CHAR}", f"character:{CHAR}")
    for bad, error in [("character:" + CHAR, InvalidTopic), ("presence:services", UnknownTopic),
                       ("presence:workflow:" + CHAR, UnknownTopic), ("presence:character:nope", InvalidTopic),
                       ("presence:character", InvalidTopic)]:
        with pytest.raises(error):
            canonical(bad)


def test_display_names_come_from_the_token_else_the_subject() -> None:
    assert display_name(person(ALICE, "alice")) == "alice"
    assert display_name(person(ALICE)) == ALICE
    assert display_name(person(ALICE, "x" * 500)) == "x" * 64


def test_members_are_told_joins_and_leaves_with_their_names() -> None:
    async def main() -> None:
        p = Presence()
        topic = f"presence:character:{CHAR}"
        a, b = sub("a"), sub("b")
        me_a = p.here(topic, a, person(ALICE, "alice"), req_id=1)
        first = queued(a)[-1]
        assert first["id"] == 1 and first["you"] == me_a.member and [m["name"] for m in first["members"]] == ["alice"]
        me_b = p.here(topic, b, person(BOB, "bob"))
        told = queued(a)[-1]
        assert told["change"] == {"joined": me_b.member} and told["you"] == me_a.member
        assert [m["name"] for m in told["members"]] == ["alice", "bob"]
        assert queued(b)[-1]["you"] == me_b.member
        p.here(topic, b, person(BOB, "bob"))  # a heartbeat: only the sender hears of it
        assert queued(a)[-1] == told and queued(b)[-1]["change"] == {"refreshed": me_b.member}
        p.drop(b)
        left = queued(a)[-1]
        assert left["change"] == {"left": me_b.member, "reason": "disconnected"}
        assert [m["name"] for m in left["members"]] == ["alice"]
        assert p.gone(topic, a) and p.topics == {}
        assert not p.gone(topic, a)
        await p.aclose()

    asyncio.run(main())


def test_members_not_heard_from_expire_and_counts_are_bounded() -> None:
    async def main() -> None:
        now = [0.0]
        p = Presence(ttl_s=60, clock=lambda: now[0])
        topic = f"presence:character:{CHAR}"
        a, b = sub("a"), sub("b")
        p.here(topic, a, person(ALICE))
        now[0] = 50.0
        p.here(topic, b, person(BOB))
        now[0] = 70.0
        assert p.sweep() == 1  # a was last heard at 0
        assert [m["user"] for m in p.members(topic)] == [BOB]
        assert queued(b)[-1]["change"]["reason"] == "expired"
        many = [sub(f"s{i}") for i in range(MAX_MEMBERS)]
        for i, s in enumerate(many[:-1]):
            p.here(topic, s, person(f"user-{i}"))
        with pytest.raises(PresenceFull):
            p.here(topic, many[-1], person("one-too-many"))
        c = sub("c")
        for _ in range(MAX_TOPICS_PER_CONNECTION):
            p.here(f"presence:character:{uuid.uuid4()}", c, person("c"))
        with pytest.raises(PresenceFull):
            p.here(f"presence:character:{uuid.uuid4()}", c, person("c"))
        await p.aclose()

    asyncio.run(main())


# -- through the gateway ----------------------------------------------------------------------------
class FakeShape(Service):
    """``character_history`` as aria_shape declares it: a character is its owner's; another's is not found."""

    SPEC = SHAPE

    def __init__(self) -> None:
        super().__init__(AriaSettings())
        self.owners: dict[str, set[str]] = {}

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("shape:character:read", feature="character-evolution")
    async def character_history(self, caller: Principal, character_id: str) -> list[dict[str, Any]]:
        if caller.subject not in self.owners.get(character_id, set()):
            raise NotFound(f"no character {character_id}", character_id=character_id)
        return [{"version": 1, "character": {"name": "Hero"}, "change": {}, "created_at": "2026-01-01T00:00:00"}]


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    g = Gateway()
    shape = FakeShape()
    shape.owners[CHAR] = {ALICE, BOB}  # shared with both (as an @tenant grant would)
    g.directory.clients["aria_shape"] = LocalClient(shape)
    g.shape = shape  # type: ignore[attr-defined]
    return g


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(gateway.app) as c:
        yield c


def named(gateway: Gateway, subject: str, name: str) -> dict[str, str]:
    token = asyncio.run(gateway.security.issue_token(Principal.operator(), subject,
                                                     {"roles": ["editor"], "tenant": "t1", "name": name}, 600))
    return {"authorization": f"Bearer {token}"}


def test_two_users_see_each_other_by_name_and_a_stranger_is_refused(client: TestClient, gateway: Gateway) -> None:
    topic = f"presence:character:{CHAR}"
    with client.websocket_connect(WS, headers=named(gateway, ALICE, "alice")) as alice, \
            client.websocket_connect(WS, headers=named(gateway, BOB, "bob")) as bob, \
            client.websocket_connect(WS, headers=named(gateway, MALLORY, "mallory")) as mallory:
        alice.send_json({"op": "here", "topic": topic.upper().replace("PRESENCE:CHARACTER", "presence:character"),
                         "id": "a"})
        mine = until(alice, "presence")
        assert mine["id"] == "a" and mine["topic"] == topic and [m["name"] for m in mine["members"]] == ["alice"]
        bob.send_json({"op": "here", "topic": topic, "id": "b"})
        seen_by_bob = until(bob, "presence")
        assert sorted(m["name"] for m in seen_by_bob["members"]) == ["alice", "bob"]
        joined = until(alice, "presence")
        assert joined["change"] == {"joined": seen_by_bob["you"]}
        assert {m["user"] for m in joined["members"]} == {ALICE, BOB}
        # Mallory may not read the character: refused, and nobody is told of her
        mallory.send_json({"op": "here", "topic": topic, "id": "m"})
        refused = until(mallory, "error")
        assert refused["status"] == 404 and refused["id"] == "m"
        assert [f for f in drain(alice) if f["type"] != "pong"] == []
        mallory.send_json({"op": "gone", "topic": topic, "id": "g"})
        assert until(mallory, "error")["error"] == "interface-not-subscribed"
        bob.send_json({"op": "gone", "topic": topic, "id": "bye"})
        assert until(bob, "presence")["id"] == "bye"
        left = until(alice, "presence")
        assert left["change"]["reason"] == "gone" and [m["name"] for m in left["members"]] == ["alice"]
        with client.websocket_connect(WS, headers=named(gateway, BOB, "bob")) as bob2:
            bob2.send_json({"op": "here", "topic": topic})
            until(bob2, "presence")
            assert until(alice, "presence")["change"].get("joined")
        gone = until(alice, "presence", tries=200)  # the closed connection is handled on its own task
        assert gone["change"]["reason"] == "disconnected"
    assert client.app.state.interface.presence.topics == {}  # type: ignore[attr-defined]


def test_a_heartbeat_soon_after_a_check_is_not_checked_again(client: TestClient, gateway: Gateway) -> None:
    topic = f"presence:character:{CHAR}"
    with client.websocket_connect(WS, headers=named(gateway, BOB, "bob")) as bob:
        bob.send_json({"op": "here", "topic": topic})
        me = until(bob, "presence")["change"]["joined"]
        gateway.shape.owners[CHAR].discard(BOB)  # type: ignore[attr-defined]
        try:  # within REAUTH_S a heartbeat costs no call to aria_shape: still present
            bob.send_json({"op": "here", "topic": topic, "id": "beat"})
            assert until(bob, "presence")["change"] == {"refreshed": me}
        finally:
            gateway.shape.owners[CHAR].add(BOB)  # type: ignore[attr-defined]


def test_a_refused_heartbeat_removes_the_member(client: TestClient, gateway: Gateway, monkeypatch) -> None:
    monkeypatch.setattr(presence_module, "REAUTH_S", 0.0)  # every heartbeat is checked again
    topic = f"presence:character:{CHAR}"
    with client.websocket_connect(WS, headers=named(gateway, ALICE, "alice")) as alice, \
            client.websocket_connect(WS, headers=named(gateway, BOB, "bob")) as bob:
        alice.send_json({"op": "here", "topic": topic})
        until(alice, "presence")
        bob.send_json({"op": "here", "topic": topic})
        until(bob, "presence")
        until(alice, "presence")
        gateway.shape.owners[CHAR].discard(BOB)  # type: ignore[attr-defined]  # Bob's access is revoked
        try:
            bob.send_json({"op": "here", "topic": topic, "id": "beat"})
            assert until(bob, "error")["id"] == "beat"
            told = until(alice, "presence")
            assert told["change"]["reason"] == "refused" and [m["user"] for m in told["members"]] == [ALICE]
        finally:
            gateway.shape.owners[CHAR].add(BOB)  # type: ignore[attr-defined]


def test_the_topics_route_describes_presence(client: TestClient, gateway: Gateway) -> None:
    got = client.get("/v1/interface/topics", headers=named(gateway, ALICE, "alice"))
    assert got.status_code == 200, got.text
    presence = got.json()["presence"]
    assert presence["topics"] == ["presence:character:<id>"] and set(presence["client_frames"]) == {"here", "gone"}
