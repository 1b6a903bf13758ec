"""Endpoint protection on the real gateway app (``create_app``, a real in-process aria_security)
for the WebSocket channel and OpenID clients' tokens, through Starlette's TestClient: a revoked
session's or client's token no longer opens /v1/interface/ws, and an open connection is closed
(1008) once the revocation arrives; the invalid-token lockout applies at the handshake; a token
carrying ``azp`` opens nothing but UserInfo. The revocation feed is the test's (aria_auth is a
stand-in), read by the real Protection and its poller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.gateway import create_app
from aria_actors.interface.service import InterfaceService
from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.security.testing import InProcessSecurity
from tests.unit.interface.apps import Directory

WS = "/v1/interface/ws"
DEADLINE_S = 30.0  # how long a test waits at most for the feed to arrive (it takes a poll: 0.02 s)


class Feed:
    """aria_auth's revocation feed as the test writes it: each poll returns what is new."""

    def __init__(self) -> None:
        self.sessions: list[dict[str, Any]] = []
        self.clients: list[dict[str, Any]] = []
        self.polls = 0

    async def __call__(self, cursor: str | None) -> dict[str, Any]:
        self.polls += 1
        sessions, self.sessions = self.sessions, []
        clients, self.clients = self.clients, []
        return {"cursor": str(self.polls), "more": False, "token_ttl_s": 900, "sessions": sessions,
                "clients": clients, "locks": []}


class AuthStandIn:
    """aria_auth as far as these tests reach it: the feed is read by ``Feed``; a call is refused."""

    name = "aria_auth"

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise ServiceUnavailable(f"aria_auth.{method} is not served in this test", service="aria_auth")


class Gateway:
    def __init__(self, **settings: Any) -> None:
        self.security = InProcessSecurity.started()
        interface = InterfaceService(AriaSettings())
        asyncio.run(interface.start(Deps()))
        directory = Directory({"aria_security": self.security, "aria_interface": interface})
        directory.clients["aria_auth"] = AuthStandIn()  # type: ignore[assignment]  # the feed below stands in
        self.app = create_app(directory, settings=CoordinateSettings(protection_poll_s=0.02, **settings))
        self.protection = self.app.state.protection
        self.feed = Feed()
        self.protection.poller.fetch = self.feed

    def token(self, subject: str = "alice", **claims: Any) -> str:
        return asyncio.run(self.security.issue_token(Principal.operator(), subject,
                                                     {"roles": ["editor"], "tenant": "t1", **claims}, 600))

    def denials(self, reason: str, status: int) -> float:
        return self.protection.audit.denials.labels(reason, str(status))._value.get()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    yield Gateway()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refused(client: TestClient, token: str, **kwargs: Any) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(WS, headers=bearer(token), **kwargs):
        pass
    return closed.value


def closed_by_server(ws: WebSocketTestSession) -> WebSocketDisconnect:
    """Ping until the server closes the connection (the feed is polled meanwhile)."""
    t0 = time.monotonic()
    with pytest.raises(WebSocketDisconnect) as closed:
        while time.monotonic() - t0 < DEADLINE_S:
            ws.send_json({"op": "ping", "id": "p"})
            assert ws.receive_json() == {"type": "pong", "id": "p"}
            time.sleep(0.01)
    return closed.value


def test_a_revoked_sessions_connection_is_closed_and_its_token_refused(gateway: Gateway) -> None:
    token, other = gateway.token(sid="s1"), gateway.token(sid="s2")
    with TestClient(gateway.app) as client:
        with client.websocket_connect(WS, headers=bearer(other)) as still_open, \
                client.websocket_connect(WS, headers=bearer(token)) as ws:
            ws.send_json({"op": "ping", "id": "a"})
            assert ws.receive_json() == {"type": "pong", "id": "a"}
            gateway.feed.sessions.append({"sid": "s1", "at": time.time(), "why": "logged out"})
            closed = closed_by_server(ws)
            assert closed.code == 1008 and "session-revoked" in closed.reason
            still_open.send_json({"op": "ping", "id": "b"})  # another session's connection is untouched
            assert still_open.receive_json() == {"type": "pong", "id": "b"}
        again = refused(client, token)  # and the token no longer opens the channel
        assert again.code == 1008 and again.reason.startswith("session-revoked")
        assert gateway.denials("session-revoked", 401) == 1  # the handshake's refusal is audited
        assert not gateway.protection._watch_sids  # connections that ended are no longer watched


def test_a_disabled_clients_connection_is_closed(gateway: Gateway) -> None:
    token = gateway.token("robot", client_id="c1")
    with TestClient(gateway.app) as client, client.websocket_connect(WS, headers=bearer(token)) as ws:
        gateway.feed.clients.append({"client_id": "c1", "at": time.time() + 1})
        closed = closed_by_server(ws)
        assert closed.code == 1008 and "client-revoked" in closed.reason


def test_the_invalid_token_lockout_applies_at_the_handshake() -> None:
    gateway = Gateway(protection_token_lockout=2)
    good = gateway.token(sid="s1")
    head, body, sig = good.split(".")
    with TestClient(gateway.app) as client:
        for _ in range(2):
            assert refused(client, f"{head}.{body}.{sig[::-1]}").reason.startswith("invalid-token")
        locked = refused(client, good)  # even a good token, from that address
        assert locked.code == 1008 and locked.reason.startswith("locked-out")
        r = client.get("/v1/interface/topics", headers=bearer(good))  # over HTTP too: one lockout
        assert r.status_code == 429 and r.json()["type"].endswith("/locked-out")


def test_an_openid_clients_token_opens_only_userinfo(gateway: Gateway) -> None:
    token = gateway.token(sid="s1", azp="client-1", scope="openid")
    with TestClient(gateway.app) as client:
        r = client.get("/v1/interface/topics", headers=bearer(token))
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/token-not-for-this-api")
        for method in ("GET", "POST"):  # past the gateway (the stand-in aria_auth then fails)
            r = client.request(method, "/v1/auth/oidc/userinfo", headers=bearer(token))
            assert "token-not-for-this-api" not in r.text, (method, r.status_code, r.text)
        closed = refused(client, token)
        assert closed.code == 1008 and closed.reason.startswith("token-not-for-this-api")
        assert client.get("/v1/interface/topics", headers=bearer(gateway.token(sid="s1"))).status_code == 200
    assert gateway.denials("token-not-for-this-api", 403) == 2  # HTTP and WebSocket, both audited
