"""Endpoint protection through the real gateway app over real aria_auth, PostgreSQL and aria_security:
a revoked session's access token is refused within a second, a locked account and an over-eager
account are refused at the gateway, and every denial is audited."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.gateway import create_app
from aria_actors.coordinate.protection import GATEWAY
from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import ClientsDirectory, admin_headers, bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
DEADLINE_S = 30.0  # how long the test waits at most; the acceptance is the measured time below
WITHIN_S = 1.0
PROBE = "/v1/auth/sessions"


@pytest.fixture
async def gateway(auth: Any, security: Any) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """``gateway(address="...", **settings)``: httpx clients on one real gateway app (settings from
    the first call), each from its own client address."""
    apps: list[Any] = []
    clients: list[httpx.AsyncClient] = []

    def make(address: str = "127.0.0.1", **settings: Any) -> httpx.AsyncClient:
        if not apps:
            apps.append(create_app(ClientsDirectory({"aria_auth": auth, "aria_security": security}),
                                   settings=CoordinateSettings(**settings)))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0], client=(address, 123)),
                                   base_url="http://aria")
        clients.append(client)
        return client

    make.apps = apps  # type: ignore[attr-defined]
    yield make
    for client in clients:
        await client.aclose()
    if apps:
        await apps[0].state.protection.stop()


async def make_user(http: httpx.AsyncClient, security: Any, username: str = "alice") -> dict[str, Any]:
    r = await http.post("/v1/auth/users", headers=await admin_headers(security),
                        json={"username": username, "password": PASSWORD, "roles": ["user"]})
    assert r.status_code == 201, r.text
    return r.json()


async def login(http: httpx.AsyncClient, username: str = "alice") -> dict[str, Any]:
    r = await http.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def refused_after(http: httpx.AsyncClient, tokens: dict[str, Any],
                        revoke: Callable[[], Awaitable[None]], slug: str = "session-revoked") -> float:
    """Seconds from the start of ``revoke()`` until the gateway refuses ``tokens``' access token.

    The probe is the caller's session list: aria_auth answers it 200 for a revoked session (and a
    deleted user) too, so only the gateway's check can refuse it.
    """
    r = await http.get(PROBE, headers=bearer(tokens))
    assert r.status_code == 200, r.text  # valid before (and the gateway's poller is running)
    t0 = time.monotonic()
    await revoke()
    while time.monotonic() - t0 < DEADLINE_S:
        r = await http.get(PROBE, headers=bearer(tokens))
        if r.status_code != 200:
            elapsed = time.monotonic() - t0
            assert r.status_code == 401, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/" + slug), r.text
            return elapsed
        await asyncio.sleep(0.02)
    pytest.fail(f"the revoked token was still accepted {DEADLINE_S} s later")


async def test_a_revoked_session_is_refused_at_the_gateway_within_a_second(gateway, security) -> None:
    http = gateway()
    user = await make_user(http, security)
    admin = await admin_headers(security)
    times = {}

    tokens = await login(http)

    async def logout() -> None:
        assert (await http.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
                ).status_code == 204
    times["logout"] = await refused_after(http, tokens, logout)

    other = await login(http)

    async def delete_session() -> None:
        r = await http.delete(f"/v1/auth/sessions/{other['session_id']}", headers=bearer(other))
        assert r.status_code == 204, r.text
    times["revoke"] = await refused_after(http, other, delete_session)

    first, second = await login(http), await login(http)

    async def revoke_all() -> None:
        r = await http.delete(f"/v1/auth/users/{user['id']}/sessions", headers=admin)
        assert r.status_code == 200 and r.json() == {"revoked": 2}, r.text
    times["revoke_all"] = await refused_after(http, first, revoke_all)
    r = await http.get(PROBE, headers=bearer(second))
    assert r.status_code == 401 and r.json()["type"].endswith("/session-revoked")

    last = await login(http)

    async def disable() -> None:
        r = await http.patch(f"/v1/auth/users/{user['id']}", headers=admin, json={"disabled": True})
        assert r.status_code == 200, r.text
    times["disable"] = await refused_after(http, last, disable)

    print("refused after (s):", {k: round(v, 3) for k, v in times.items()})
    assert max(times.values()) <= WITHIN_S, times
    # an admin token (no session) is not affected; the feed lists what was revoked
    feed = (await http.get("/v1/auth/revocations", headers=admin)).json()
    assert {tokens["session_id"], other["session_id"], first["session_id"], last["session_id"]} <= \
        {s["sid"] for s in feed["sessions"]}
    again = (await http.get("/v1/auth/revocations", headers=admin, params={"cursor": feed["cursor"]})).json()
    assert again["sessions"] == [] or {s["sid"] for s in again["sessions"]} <= {s["sid"] for s in feed["sessions"]}


async def test_a_deleted_user_and_a_reused_refresh_token_end_their_tokens(gateway, security) -> None:
    http = gateway()
    user = await make_user(http, security)
    tokens = await login(http)

    async def reuse() -> None:
        assert (await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
                ).status_code == 200
        r = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.json()["type"].endswith("/auth-refresh-token-reused")
    assert await refused_after(http, tokens, reuse) <= WITHIN_S

    tokens = await login(http)
    admin = await admin_headers(security)

    async def delete() -> None:
        assert (await http.delete(f"/v1/auth/users/{user['id']}", headers=admin)).status_code == 204
    assert await refused_after(http, tokens, delete) <= WITHIN_S


async def test_the_feed_needs_the_permission(gateway, security) -> None:
    http = gateway()
    await make_user(http, security)
    tokens = await login(http)
    r = await http.get("/v1/auth/revocations", headers=bearer(tokens))
    assert r.status_code == 403, r.text
    r = await http.get("/v1/auth/revocations", headers=await admin_headers(security), params={"cursor": "nope"})
    assert r.status_code == 400 and r.json()["type"].endswith("/auth-invalid-cursor"), r.text


async def test_a_disabled_clients_tokens_are_refused(gateway, security) -> None:
    http = gateway()
    admin = await admin_headers(security)
    created = (await http.post("/v1/auth/clients", headers=admin, json={"name": "robot", "roles": ["service"]})).json()
    r = await http.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_id": created["id"],
                                                 "client_secret": created["client_secret"]})
    assert r.status_code == 200, r.text
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await http.get("/v1/auth/revocations", headers=token)).status_code == 403  # it is known to work
    assert (await http.patch(f"/v1/auth/clients/{created['id']}", headers=admin, json={"disabled": True})
            ).status_code == 200
    t0 = time.monotonic()
    while time.monotonic() - t0 < DEADLINE_S:
        r = await http.get("/v1/auth/revocations", headers=token)
        if r.status_code == 401:
            break
        await asyncio.sleep(0.02)
    assert r.status_code == 401 and r.json()["type"].endswith("/client-revoked"), r.text
    assert time.monotonic() - t0 <= WITHIN_S


async def test_a_locked_account_is_refused_at_the_gateway(gateway, auth, security) -> None:
    http = gateway()
    await make_user(http, security)
    for _ in range(auth.config.max_failed_logins):
        await http.post("/v1/auth/login", json={"username": "alice", "password": "wrong one!"})
    protection = gateway.apps[0].state.protection
    await http.get("/v1/auth/me", headers=await admin_headers(security))  # any token check starts the poller
    protection.poller.ensure_running()
    t0 = time.monotonic()
    while protection.revoked.locked_for("", "alice") == 0 and time.monotonic() - t0 < DEADLINE_S:
        await asyncio.sleep(0.02)
    assert time.monotonic() - t0 <= WITHIN_S
    before = protection.locked_refusals
    r = await http.post("/v1/auth/login", json={"username": "Alice", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["type"].endswith("/auth-account-locked"), r.text
    assert int(r.headers["retry-after"]) > 0
    assert protection.locked_refusals == before + 1  # answered by the gateway, not aria_auth
    # unlocked by an administrator: the gateway lets the login through again
    user = (await http.get("/v1/auth/users", headers=await admin_headers(security))).json()[0]
    assert (await http.patch(f"/v1/auth/users/{user['id']}", headers=await admin_headers(security),
                             json={"unlock": True})).status_code == 200
    t0 = time.monotonic()
    while protection.revoked.locked_for("", "alice") > 0 and time.monotonic() - t0 < DEADLINE_S:
        await asyncio.sleep(0.02)
    assert (await http.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).status_code == 200


async def test_logins_are_throttled_per_account_across_addresses(gateway, security) -> None:
    first = gateway("10.0.0.1", protection_account_limit="3/60s")
    second = gateway("10.0.0.2")
    await make_user(first, security)
    await make_user(first, security, "bob")
    for _ in range(3):
        assert (await first.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
                ).status_code == 200
    r = await second.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["type"].endswith("/account-rate-limited"), r.text
    assert 0 < int(r.headers["retry-after"]) <= 60
    r = await second.post("/v1/auth/token", data={"grant_type": "password", "username": "ALICE",
                                                  "password": PASSWORD})
    assert r.status_code == 429 and r.json()["type"].endswith("/account-rate-limited"), r.text
    assert r.json()["error"] == "invalid_request"  # the token endpoint's OAuth members too
    assert (await second.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})).status_code == 200


async def test_a_denial_is_audited(gateway, security, caplog) -> None:
    http = gateway(protection_audit_flush_s=0.05)
    await make_user(http, security)
    tokens = await login(http)
    assert (await http.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    audit = gateway.apps[0].state.protection.audit
    caplog.set_level(logging.INFO, logger="aria.gateway.audit")
    t0 = time.monotonic()
    while time.monotonic() - t0 < DEADLINE_S:
        r = await http.get(PROBE, headers=bearer(tokens))
        if r.status_code == 401:
            break
        await asyncio.sleep(0.02)
    assert r.json()["type"].endswith("/session-revoked")
    assert (await http.get("/v1/auth/me")).status_code == 401  # no token at all
    while audit.sent < 2 and time.monotonic() - t0 < DEADLINE_S:
        await asyncio.sleep(0.02)
    records = await security.audit(OP, 100, op="gateway_denial")  # aria_security's own audit log
    reasons = {r["target"].split(" ")[0] for r in records}
    assert {"session-revoked", "invalid-token"} <= reasons, records
    revoked = next(r for r in records if r["target"].startswith("session-revoked "))
    assert revoked["actor"] == GATEWAY.subject and revoked["subject"] == f"sub:{tokens['user_id']}"
    assert revoked["outcome"] == "denied" and tokens["access_token"] not in json.dumps(records)
    metrics = (await http.get("/metrics")).text
    assert 'aria_gateway_denials_total{reason="session-revoked",status="401"}' in metrics


async def test_tenant_transactions_record_to_the_feed(auth) -> None:
    """Users are also written confined to a tenant (role aria_tenant, which may not touch the feed):
    the triggers write as their owner, and the feed carries the lock."""
    from aria_actors.auth import store  # why: the record is written as aria_auth's code writes it

    user = await auth.create_user(OP, "carol", PASSWORD, tenant="acme")

    async def lock(conn: Any) -> None:
        await store.update_user(conn, uuid.UUID(user["id"]), {"locked_until": datetime.now(UTC) + timedelta(hours=1)})

    await auth.db.transaction(lock, tenant="acme")
    feed = await auth.revocations(GATEWAY)
    assert [(lk["tenant"], lk["username"]) for lk in feed["locks"]] == [("acme", "carol")]
    assert feed["locks"][0]["until"] > time.time() + 3000


async def test_the_feed_pages_and_misses_no_late_commit(auth) -> None:
    """A page at a time with ``more``; a transaction that ended a session before the cursor was
    read but committed after is still delivered on the next poll."""
    auth.config = auth.config.model_copy(update={"revocation_page": 10})
    user = await auth.create_user(OP, "dave", PASSWORD)
    sids = [(await auth.login(OP, "dave", PASSWORD))["session_id"] for _ in range(25)]
    first = await auth.revocations(GATEWAY)
    assert first["sessions"] == [] and not first["more"]
    await auth.revoke_all(OP, user["id"])
    got, cursor, pages = [], first["cursor"], 0
    while True:
        page = await auth.revocations(GATEWAY, cursor)
        got += [s["sid"] for s in page["sessions"]]
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            break
    assert sorted(got) == sorted(sids) and pages == 3
    # a slow transaction: it ends a session, a poll runs meanwhile, then it commits
    late = (await auth.login(OP, "dave", PASSWORD))["session_id"]
    async with auth.db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store_revoke(conn, late)
        meanwhile = await auth.revocations(GATEWAY, cursor)
        assert meanwhile["sessions"] == []
        await tx.commit()
    after = await auth.revocations(GATEWAY, meanwhile["cursor"])
    assert [s["sid"] for s in after["sessions"]] == [late]


async def store_revoke(conn: Any, sid: str) -> None:
    from aria_actors.auth import store  # why: the statement aria_auth's own revocations run

    assert await store.revoke_sessions(conn, "revoked", session_id=uuid.UUID(sid)) == 1


async def test_the_migration_goes_down_and_up(auth) -> None:
    from importlib.resources import files  # why: only this test reads the migration files

    folder = files("aria_actors.auth") / "migrations"
    up, down = (folder / "0004_revocation.sql").read_text(), (folder / "0004_revocation.down.sql").read_text()
    exists = "SELECT to_regclass('aria_auth.revocations') IS NOT NULL"
    async with auth.db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SET LOCAL search_path = aria_auth")
            await conn.execute(down)
            assert not await conn.fetchval(exists)
            await conn.execute(up)
            assert await conn.fetchval(exists)
        finally:
            await tx.rollback()


async def test_an_address_sending_invalid_tokens_is_locked_out(gateway, security) -> None:
    noisy = gateway("10.0.0.7", protection_token_lockout=3)
    quiet = gateway("10.0.0.8")
    admin = await admin_headers(security)
    for _ in range(3):
        r = await noisy.get(PROBE, headers={"Authorization": "Bearer forged.token.here"})
        assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token")
    r = await noisy.get("/v1/auth/revocations", headers=admin)  # even a good token, from that address
    assert r.status_code == 429 and r.json()["type"].endswith("/locked-out"), r.text
    assert (await quiet.get("/v1/auth/revocations", headers=admin)).status_code == 200


async def test_the_account_throttle_holds_however_the_body_is_written(gateway, security) -> None:
    """The same account, the same window: a JSON body with another JSON content type, a BOM,
    UTF-16, a /login/mfa step; a body over the bound is refused, never passed on uncounted."""
    http = gateway(protection_account_limit="3/60s")
    await make_user(http, security)
    doc = json.dumps({"username": "alice", "password": PASSWORD})  # right: wrong ones would lock it first
    bodies = [("application/x-foo+json", doc.encode()), ("application/json", b"\xef\xbb\xbf" + doc.encode()),
              ("application/json", doc.encode("utf-16")), ("application/json; charset=utf-8", doc.encode())]
    codes = [(await http.post("/v1/auth/login", content=body, headers={"content-type": ct})).status_code
             for ct, body in bodies]
    assert codes == [200, 200, 200, 429], codes
    padded = doc[:-1].encode() + b" " * 9000 + b"}"
    r = await http.post("/v1/auth/login", content=padded, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large"), r.text
    # the MFA step by its challenge: a guessed code per challenge is held to the same limit
    codes = [(await http.post("/v1/auth/login/mfa", json={"challenge": "ach_not-a-real-one", "code": "000000"})
              ).status_code for _ in range(4)]
    assert codes[-1] == 429 and 429 not in codes[:3], codes


async def test_an_openid_clients_token_opens_only_userinfo(gateway, security) -> None:
    http = gateway()
    user = await make_user(http, security)
    tokens = await login(http)
    oidc = await security.issue_token(OP, user["id"], {"roles": ["user"], "sid": tokens["session_id"],
                                                      "azp": "some-client", "scope": "openid"}, 300)
    r = await http.get("/v1/auth/me", headers={"Authorization": f"Bearer {oidc}"})
    assert r.status_code == 403 and r.json()["type"].endswith("/token-not-for-this-api"), r.text
    for method in ("GET", "POST"):  # UserInfo is aria_auth's to answer
        r = await http.request(method, "/v1/auth/oidc/userinfo", headers={"Authorization": f"Bearer {oidc}"})
        assert "token-not-for-this-api" not in r.text, r.text
    assert (await http.get("/v1/auth/me", headers=bearer(tokens))).status_code == 200  # the Aria token opens it


async def test_a_token_minted_for_oneself_ends_with_the_session(gateway, security) -> None:
    http = gateway()
    r = await http.post("/v1/auth/users", headers=await admin_headers(security),
                        json={"username": "root", "password": PASSWORD, "roles": ["admin"]})
    assert r.status_code == 201, r.text
    tokens = await login(http, "root")
    r = await http.post("/v1/security/tokens", headers=bearer(tokens), json={"subject": tokens["user_id"]})
    assert r.status_code == 200, r.text
    minted = {"access_token": r.json()["token"]}

    async def logout() -> None:
        assert (await http.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
                ).status_code == 204
    assert await refused_after(http, minted, logout) <= WITHIN_S
