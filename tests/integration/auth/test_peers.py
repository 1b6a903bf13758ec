"""aria_auth's WebRTC peers through the real gateway app over the real aria_auth (PostgreSQL) and
aria_security (OpenBao): rooms and who may manage them, grants for members only and only for their
own peer, membership re-checked at verification, TURN REST credentials made with the secret kept in
aria_security, rotation keeping the previous secret, and a real coturn (``/usr/bin/turnserver``)
accepting Aria's credentials and refusing expired and forged ones.

:func:`coturn` is also used by ``tests/e2e/test_features_interface_webrtc.py``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import admin_headers
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
NO_COTURN = "coturn is not installed (/usr/bin/turnserver missing: apt-get install coturn)"
REALM = "aria.test"


# -- coturn -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def coturn(secrets: list[str]) -> Iterator[tuple[int, Path]]:
    """coturn on loopback with ``use-auth-secret`` and one ``static-auth-secret`` per secret (the
    current and the previous, as Aria's rotation wants): its port and its log file."""
    if not os.access(TURNSERVER, os.X_OK):
        pytest.skip(NO_COTURN)
    port = free_port(udp=True)
    relay_base = 40000 + (port % 200) * 100  # a relay range of its own per instance
    work = Path(tempfile.mkdtemp(prefix="aria-coturn-"))
    log = work / "turn.log"
    cmd = [TURNSERVER, "-n", "-v", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
           "--listening-port", str(port),
           "--use-auth-secret", *[f"--static-auth-secret={s}" for s in secrets], "--realm", REALM,
           "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli", "--simple-log", "--log-file", str(log),
           "--userdb", str(work / "turndb"), "--pidfile", str(work / "turn.pid"),
           "--min-port", str(relay_base), "--max-port", str(relay_base + 99)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # ready when it accepts TCP on its port
            if proc.poll() is not None:
                raise RuntimeError(f"turnserver exited {proc.returncode}: {log.read_text() if log.exists() else ''}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("turnserver did not start listening")
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


async def allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation on coturn (UDP) with these credentials: the relayed address (raises if refused)."""
    from aioice.turn import create_turn_endpoint  # why: aioice (aiortc's ICE) is only needed by the TURN checks

    transport, _ = await create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port), username, password)
    try:
        return transport.get_extra_info("sockname")
    finally:
        transport.close()


def turn_password(secret: str, username: str) -> str:
    """The TURN REST password, computed here independently of aria_auth."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


# -- helpers ------------------------------------------------------------------------------------------------
async def user_session(auth_http, security, name: str, roles: tuple[str, ...] = ("user",)) -> tuple[str, dict]:
    r = await auth_http.post("/v1/auth/users", headers=await admin_headers(security),
                             json={"username": name, "password": PASSWORD, "roles": list(roles)})
    assert r.status_code == 201, r.text
    login = await auth_http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return r.json()["id"], {"Authorization": f"Bearer {login.json()['access_token']}"}


def problem(r, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + slug), r.json()


# -- rooms and grants ---------------------------------------------------------------------------------------
async def test_rooms_grants_and_verification_through_the_gateway(auth_http, security) -> None:
    alice, as_alice = await user_session(auth_http, security, "alice")
    bob, as_bob = await user_session(auth_http, security, "bob")
    _carol, as_carol = await user_session(auth_http, security, "carol")
    r = await auth_http.post("/v1/auth/peers/rooms", headers=as_alice, json={"name": "standup"})
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["created_by"] == alice and room["members"][0]["rights"] == ["publish", "subscribe", "data"]
    room_id = room["id"]
    # only the creator manages members; an outsider is not told the room exists
    problem(await auth_http.put(f"/v1/auth/peers/rooms/{room_id}/members/{alice}", headers=as_bob,
                                json={"rights": ["data"]}), 404, "auth-peer-room-not-found")
    r = await auth_http.put(f"/v1/auth/peers/rooms/{room_id}/members/{bob}", headers=as_alice,
                            json={"rights": ["data"]})
    assert r.status_code == 200 and r.json()["rights"] == ["data"], r.text
    problem(await auth_http.put(f"/v1/auth/peers/rooms/{room_id}/members/{uuid.uuid4()}", headers=as_alice,
                                json={}), 400, "auth-peer-invalid")
    problem(await auth_http.put(f"/v1/auth/peers/rooms/{room_id}/members/{bob}", headers=as_bob,
                                json={"rights": ["publish"]}), 403, "forbidden")
    assert [x["id"] for x in (await auth_http.get("/v1/auth/peers/rooms", headers=as_bob)).json()] == [room_id]
    assert len((await auth_http.get(f"/v1/auth/peers/rooms/{room_id}", headers=as_bob)).json()["members"]) == 2
    problem(await auth_http.get(f"/v1/auth/peers/rooms/{room_id}", headers=as_carol), 404, "auth-peer-room-not-found")

    # grants: a member's, within its rights; none for an outsider
    problem(await auth_http.post("/v1/auth/peers/grants", headers=as_carol, json={"room": room_id}),
            404, "auth-peer-room-not-found")
    problem(await auth_http.post("/v1/auth/peers/grants", headers=as_bob, json={"room": room_id,
                                                                                "rights": ["publish"]}),
            403, "forbidden")
    r = await auth_http.post("/v1/auth/peers/grants", headers=as_bob, json={"room": room_id})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store", r.text
    grant = r.json()
    assert grant["peer"] == bob and grant["rights"] == ["data"] and 0 < grant["ttl"] <= 300
    ok = await auth_http.post("/v1/auth/peers/grants/verify", headers=as_bob,
                              json={"room": room_id, "grant": grant["grant"]})
    assert ok.status_code == 200 and ok.json()["peer"] == bob, ok.text
    # another peer presenting Bob's grant, another room, a forged grant: refused
    problem(await auth_http.post("/v1/auth/peers/grants/verify", headers=as_alice,
                                 json={"room": room_id, "grant": grant["grant"]}), 403, "auth-peer-grant-mismatch")
    problem(await auth_http.post("/v1/auth/peers/grants/verify", headers=as_bob,
                                 json={"room": str(uuid.uuid4()), "grant": grant["grant"]}),
            403, "auth-peer-grant-mismatch")
    head, body, sig = grant["grant"].split(".")
    problem(await auth_http.post("/v1/auth/peers/grants/verify", headers=as_bob,
                                 json={"room": room_id, "grant": f"{head}.{body}.{sig[:-4]}AAAA"}),
            403, "auth-peer-grant-invalid")
    # removed: the grant issued before no longer verifies
    assert (await auth_http.delete(f"/v1/auth/peers/rooms/{room_id}/members/{bob}", headers=as_alice)
            ).status_code == 204
    problem(await auth_http.post("/v1/auth/peers/grants/verify", headers=as_bob,
                                 json={"room": room_id, "grant": grant["grant"]}), 403, "auth-peer-grant-mismatch")
    assert (await auth_http.delete(f"/v1/auth/peers/rooms/{room_id}", headers=as_alice)).status_code == 204
    problem(await auth_http.get(f"/v1/auth/peers/rooms/{room_id}", headers=as_alice), 404, "auth-peer-room-not-found")


async def test_an_editor_moderates_rooms_of_its_tenant(auth_http, security) -> None:
    _alice, as_alice = await user_session(auth_http, security, "alice")
    dave, as_dave = await user_session(auth_http, security, "dave", ("editor",))
    room_id = (await auth_http.post("/v1/auth/peers/rooms", headers=as_alice, json={"name": "r"})).json()["id"]
    r = await auth_http.post("/v1/auth/peers/grants", headers=as_dave, json={"room": room_id})
    assert r.status_code == 201 and r.json()["rights"] == ["data", "publish", "subscribe"], r.text
    ok = await auth_http.post("/v1/auth/peers/grants/verify", headers=as_dave,
                              json={"room": room_id, "grant": r.json()["grant"]})
    assert ok.status_code == 200 and ok.json()["peer"] == dave


# -- TURN ---------------------------------------------------------------------------------------------------
async def test_turn_credentials_use_the_secret_in_aria_security_and_survive_one_rotation(auth_http, security,
                                                                                          auth) -> None:
    alice, as_alice = await user_session(auth_http, security, "alice")
    r = await auth_http.get("/v1/auth/peers/turn", headers=as_alice)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store", r.text
    creds = r.json()
    assert creds["ttl"] == auth.config.peer_turn_ttl_s and creds["uris"] == list(auth.config.peer_turn_uris)
    assert creds["username"].endswith(f":{alice}")
    problem(await auth_http.get("/v1/auth/peers/turn/secrets", headers=as_alice), 403, "forbidden")
    admin = await admin_headers(security)
    secrets = (await auth_http.get("/v1/auth/peers/turn/secrets", headers=admin)).json()
    assert creds["password"] == turn_password(secrets["current"], creds["username"])
    # the secret is aria_security's: what aria_auth keeps in its KV path
    stored = await security.kv_get(OP, "services/aria_auth/peers/keys")
    assert stored["turn"] == secrets["current"]
    rotated = (await auth_http.post("/v1/auth/peers/rotate", headers=admin)).json()
    assert rotated["generation"] == secrets["generation"] + 1
    after = (await auth_http.get("/v1/auth/peers/turn/secrets", headers=admin)).json()
    assert after["previous"] == secrets["current"] and after["current"] != secrets["current"]
    fresh = (await auth_http.get("/v1/auth/peers/turn", headers=as_alice, params={"ttl": 120})).json()
    assert fresh["ttl"] == 120 and fresh["password"] == turn_password(after["current"], fresh["username"])

    if not os.access(TURNSERVER, os.X_OK):
        pytest.skip(NO_COTURN)
    with coturn([after["current"], after["previous"]]) as (port, log):
        # coturn accepts the credentials Aria issued, made with the current secret and the previous one
        assert (await allocate(port, fresh["username"], fresh["password"]))[0] == "127.0.0.1"
        assert (await allocate(port, creds["username"], creds["password"]))[0] == "127.0.0.1"
        # and refuses a forged password and an expired username (its expiry is in the past)
        from aioice.stun import TransactionFailed  # why: aioice only for the TURN checks

        with pytest.raises(TransactionFailed, match="401"):
            await allocate(port, fresh["username"], turn_password("guessed-secret", fresh["username"]))
        expired = f"{int(time.time()) - 60}:{alice}"
        with pytest.raises(TransactionFailed, match="401"):
            await allocate(port, expired, turn_password(after["current"], expired))
        text = log.read_text()
        assert f"user <{fresh['username']}>: incoming packet ALLOCATE processed, success" in text
        assert f"Cannot find credentials of user <{expired}>" in text


async def test_a_tenants_rooms_are_its_own(auth_http, security) -> None:
    async def tenant_user(name: str, tenant: str) -> tuple[str, dict]:
        r = await auth_http.post("/v1/auth/users", headers=await admin_headers(security),
                                 json={"username": name, "password": PASSWORD, "roles": ["user"], "tenant": tenant})
        assert r.status_code == 201, r.text
        login = await auth_http.post("/v1/auth/login", json={"username": name, "password": PASSWORD, "tenant": tenant})
        assert login.status_code == 200, login.text
        return r.json()["id"], {"Authorization": f"Bearer {login.json()['access_token']}"}

    _erin, as_erin = await tenant_user("erin", "acme")
    frank, as_frank = await tenant_user("frank", "acme")
    outsider, as_outsider = await user_session(auth_http, security, "oscar")  # the default tenant
    room = (await auth_http.post("/v1/auth/peers/rooms", headers=as_erin, json={"name": "acme room"})).json()
    assert room["tenant"] == "acme"
    r = await auth_http.put(f"/v1/auth/peers/rooms/{room['id']}/members/{frank}", headers=as_erin, json={})
    assert r.status_code == 200, r.text
    problem(await auth_http.put(f"/v1/auth/peers/rooms/{room['id']}/members/{outsider}", headers=as_erin, json={}),
            400, "auth-peer-invalid")  # not a user of the room's tenant
    problem(await auth_http.get(f"/v1/auth/peers/rooms/{room['id']}", headers=as_outsider),
            404, "auth-peer-room-not-found")
    grant = (await auth_http.post("/v1/auth/peers/grants", headers=as_frank, json={"room": room["id"]})).json()
    ok = await auth_http.post("/v1/auth/peers/grants/verify", headers=as_frank,
                              json={"room": room["id"], "grant": grant["grant"]})
    assert ok.status_code == 200 and ok.json()["tenant"] == "acme", ok.text
    turn = (await auth_http.get("/v1/auth/peers/turn", headers=as_frank)).json()
    assert turn["username"].endswith(f":{frank}")
