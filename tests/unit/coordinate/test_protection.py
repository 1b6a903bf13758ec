"""Endpoint protection at the gateway, Ray-free: the revoked set, the poller's freshness and fail
policy, the per-account throttle, the login body peek, the bounded denial audit."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
from fastapi import Body, FastAPI, Request

from aria_actors.auth.client import AuthClient
from aria_actors.auth.errors import InvalidCredentials
from aria_actors.coordinate.protection import (
    AccountThrottle,
    AddressLockout,
    AuditBatcher,
    ClientRevoked,
    Protection,
    RevocationPoller,
    RevocationSet,
    SessionRevoked,
    TokenNotForThisApi,
    UnreadableLoginBody,
    account_of,
    install_protection,
    refuse_foreign,
)
from aria_actors.runtime.errors import AriaError, Forbidden, ServiceUnavailable
from aria_actors.runtime.http import install_problem_handlers, permits
from aria_actors.runtime.principal import Principal


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def feed(cursor: str = "1", **parts: Any) -> dict[str, Any]:
    return {"cursor": cursor, "more": False, "token_ttl_s": 900, "sessions": [], "clients": [], "locks": [], **parts}


# --- RevocationSet ---------------------------------------------------------------------------------


def test_a_revoked_session_is_kept_for_the_token_lifetime_then_forgotten() -> None:
    clock = Clock()
    revoked = RevocationSet(clock=clock)
    revoked.apply(feed(sessions=[{"sid": "s1", "at": clock.t, "why": "logged out"}]))
    assert revoked.session_revoked("s1") and not revoked.session_revoked("s2")
    clock.t += 900 + 59
    revoked.expire()
    assert revoked.session_revoked("s1")  # a token issued just before may still be within its leeway
    clock.t += 2
    revoked.expire()
    assert not revoked.session_revoked("s1")


def test_the_set_is_bounded_and_counts_what_it_had_to_forget() -> None:
    clock = Clock()
    revoked = RevocationSet(max_entries=100, clock=clock)
    revoked.apply(feed(sessions=[{"sid": f"s{i}", "at": clock.t, "why": ""} for i in range(150)]))
    assert revoked.stats()["sessions"] == 100
    assert revoked.unsafe_evictions == 50
    assert not revoked.session_revoked("s0") and revoked.session_revoked("s149")


def test_a_disabled_client_refuses_only_tokens_issued_before() -> None:
    clock = Clock()
    revoked = RevocationSet(clock=clock)
    revoked.apply(feed(clients=[{"client_id": "c1", "at": 1000.5}]))
    assert revoked.client_revoked("c1", 1000)
    assert revoked.client_revoked("c1", 990)
    assert not revoked.client_revoked("c1", 1001)  # issued after it was enabled again
    assert not revoked.client_revoked("c2", 990)


def test_locks_follow_the_newest_row_and_end_on_time() -> None:
    clock = Clock()
    revoked = RevocationSet(clock=clock)
    revoked.apply(feed(locks=[{"tenant": "acme", "username": "ann", "until": clock.t + 60, "at": clock.t}]))
    assert revoked.locked_for("acme", "ANN") == pytest.approx(60)
    assert revoked.locked_for("", "ann") == 0
    revoked.apply(feed(locks=[{"tenant": "acme", "username": "ann", "until": None, "at": clock.t}]))
    assert revoked.locked_for("acme", "ann") == 0
    revoked.apply(feed(locks=[{"tenant": "acme", "username": "ann", "until": clock.t + 5, "at": clock.t}]))
    clock.t += 6
    assert revoked.locked_for("acme", "ann") == 0


# --- RevocationPoller ------------------------------------------------------------------------------


async def test_the_poller_follows_the_cursor_through_pages() -> None:
    asked: list[str | None] = []
    answers = [dict(feed("p1", sessions=[{"sid": "a", "at": 0}]), more=True), feed("2", sessions=[{"sid": "b",
                                                                                                   "at": 0}])]

    async def fetch(cursor: str | None) -> dict[str, Any]:
        asked.append(cursor)
        return answers.pop(0) if answers else feed("2")

    revoked = RevocationSet(clock=lambda: 0.0)
    poller = RevocationPoller(fetch, revoked, poll_s=0.01)
    assert poller.stale()  # nothing read yet
    await poller.poll()
    assert asked == [None, "p1"] and poller.cursor == "2"
    assert revoked.session_revoked("a") and revoked.session_revoked("b")
    assert not poller.stale()


async def test_the_poller_goes_stale_when_the_feed_fails_and_recovers() -> None:
    clock = Clock(0.0)
    failing = [False]

    async def fetch(cursor: str | None) -> dict[str, Any]:
        if failing[0]:
            raise ServiceUnavailable("aria_auth is down", service="aria_auth")
        return feed()

    poller = RevocationPoller(fetch, RevocationSet(), poll_s=0.001, stale_s=10.0, clock=clock)
    await poller.poll()
    failing[0] = True
    poller.ensure_running()
    await asyncio.sleep(0.02)
    assert poller.failures > 0 and "down" in (poller.last_error or "")
    clock.t = 9.0
    assert not poller.stale()
    clock.t = 10.5
    assert poller.stale()
    failing[0] = False
    for _ in range(100):
        await asyncio.sleep(0.005)
        if not poller.stale():
            break
    assert not poller.stale()
    await poller.stop()


class _App:
    def __init__(self, clients: Any) -> None:
        self.state = type("State", (), {})()
        self.state.clients = clients
        self.router = None

    def add_middleware(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Settings:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


async def test_check_refuses_revoked_sessions_and_fails_closed_when_stale() -> None:
    protection = Protection(_App({"aria_auth": object()}), _Settings(protection_stale_s=0.05))
    answers: list[dict[str, Any]] = [feed(sessions=[{"sid": "gone", "at": 10**10}])]

    async def fetch(cursor: str | None) -> dict[str, Any]:
        if not answers:
            raise ServiceUnavailable("aria_auth is down", service="aria_auth")
        return answers.pop(0)

    protection.poller.fetch = fetch
    with pytest.raises(SessionRevoked) as refused:
        await protection.check({"sub": "u1", "sid": "gone"})
    assert refused.value.status == 401 and refused.value.type == "session-revoked"
    await protection.check({"sub": "u1", "sid": "alive"})
    await protection.check({"sub": "svc:aria_storage"})  # no session: nothing to revoke
    await asyncio.sleep(0.1)  # the feed has failed past stale_s
    with pytest.raises(ServiceUnavailable):
        await protection.check({"sub": "u1", "sid": "alive"})
    await protection.check({"sub": "svc:aria_storage"})  # service tokens are unaffected
    protection.fail_closed = False
    await protection.check({"sub": "u1", "sid": "alive"})  # serving on (a warning is logged)
    await protection.stop()


async def test_check_is_off_without_an_aria_auth_to_poll() -> None:
    protection = Protection(_App({}), _Settings())
    await protection.check({"sub": "u1", "sid": "anything"})  # no 503 although nothing was ever read
    assert not protection.active()


# --- AccountThrottle, AddressLockout ---------------------------------------------------------------


def test_the_account_throttle_is_a_sliding_window() -> None:
    clock = Clock(0.0)
    throttle = AccountThrottle(3, 60.0, clock=clock)
    assert [throttle.hit("acme/ann") for _ in range(3)] == [0, 0, 0]
    clock.t = 10
    assert throttle.hit("acme/ann") == pytest.approx(50)
    assert throttle.hit("acme/bob") == 0  # other accounts are not held back
    clock.t = 60.0
    assert throttle.hit("acme/ann") == 0  # the first attempt left the window
    assert throttle.refused == 1


def test_the_account_throttle_forgets_least_recently_used_accounts() -> None:
    throttle = AccountThrottle(1, 60.0, max_keys=100, clock=lambda: 0.0)
    for i in range(1000):
        throttle.hit(f"/user{i}")
    assert len(throttle._log) == 100


def test_the_address_lockout_keys_ipv6_by_its_64_and_is_bounded() -> None:
    lockout = AddressLockout(threshold=2, window_s=60, lockout_s=300, max_keys=100)
    assert not lockout.denied("2001:db8::1", now=0)
    assert lockout.denied("2001:db8::2", now=1)  # the same /64
    assert lockout.locked("2001:db8::ffff", now=2)
    assert not lockout.locked("2001:db8:1::1", now=2)
    for i in range(1000):
        lockout.denied(f"10.0.{i // 256}.{i % 256}", now=3)
    assert len(lockout._denials) <= 100


# --- reading the account of a login ----------------------------------------------------------------


def test_account_of_reads_json_logins_and_form_or_basic_token_requests() -> None:
    js = {"content-type": "application/json"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert account_of("login", js, json.dumps({"username": "Ann", "password": "x", "tenant": "acme"}).encode()) \
        == "acme/ann"
    assert account_of("login", js, b'{"username": 5}') is None  # the route refuses it (422)
    with pytest.raises(UnreadableLoginBody):
        account_of("login", js, b"not json")
    assert account_of("token", form, b"grant_type=password&username=Bob&password=x") == "/bob"
    assert account_of("token", form, b"grant_type=client_credentials&client_id=c1&client_secret=s") == "client:c1"
    basic = {**form, "authorization": "Basic " + base64.b64encode(b"c2:secret").decode()}
    assert account_of("token", basic, b"grant_type=client_credentials") == "client:c2"
    assert account_of("token", form, b"grant_type=refresh_token&refresh_token=r") is None


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", json.dumps({"username": "Ann", "password": "x"}).encode()),
    ("application/x-foo+json", json.dumps({"username": "Ann", "password": "x"}).encode()),
    ("Application/JSON; charset=latin-1", json.dumps({"username": "Ann", "password": "x"}).encode()),
    ("application/json", b"\xef\xbb\xbf" + json.dumps({"username": "Ann", "password": "x"}).encode()),  # BOM
    ("application/json", json.dumps({"username": "Ann", "password": "x"}).encode("utf-16")),
    ("application/json", json.dumps({"username": "Ann", "password": "x"}).encode("utf-32")),
    ("application/json", b'{"username": "bob", "username": "Ann", "password": "x"}'),  # the last wins, as json.loads
])
def test_account_of_reads_every_body_the_route_reads_as_json(content_type: str, body: bytes) -> None:
    assert account_of("login", {"content-type": content_type}, body) == "/ann"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/geojson"])
def test_a_body_the_route_does_not_read_as_json_is_unreadable(content_type: str) -> None:
    with pytest.raises(UnreadableLoginBody):
        account_of("login", {"content-type": content_type}, b'{"username": "ann", "password": "x"}')


def test_account_of_the_other_credential_doors() -> None:
    js = {"content-type": "application/json"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    mfa = account_of("mfa", js, b'{"challenge": "chal-1", "code": "123456"}')
    assert mfa is not None and mfa.startswith("challenge:") and "chal-1" not in mfa  # a digest, never the secret
    assert account_of("passkey", js, b'{"challenge": "chal-1", "credential": {}}') == mfa
    assert account_of("mfa", js, b'{"code": "123456"}') is None
    assert account_of("oidc_login", form, b"request=r1&csrf=c&username=Ann&password=x") == "oidc:ann"
    assert account_of("oidc_mfa", form, b"request=r1&csrf=c&challenge=chal-1&code=1") == mfa
    with pytest.raises(UnreadableLoginBody):
        account_of("oidc_login", js, b'{"username": "ann"}')  # the form route reads forms only
    with pytest.raises(AriaError):
        account_of("oidc_login", form, b"username=a&username=b")  # the route's own refusal (repeated)


# --- the middleware: body replay, lockout, throttle, audit -----------------------------------------


def _gateway(**settings: Any) -> tuple[FastAPI, Protection, list[dict[str, Any]]]:
    app = FastAPI()
    install_problem_handlers(app)
    seen: list[dict[str, Any]] = []

    @app.post("/v1/auth/login")
    async def login(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        seen.append(body)
        if body.get("password") != "right":
            raise InvalidCredentials()
        return {"ok": True}

    @app.post("/v1/auth/token")
    async def token(request: Request) -> dict[str, Any]:
        seen.append({"raw": (await request.body()).decode()})
        return {"ok": True}

    @app.post("/v2/auth/login")  # a later version's copy of the login route
    async def login_v2(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return await login(body)

    @app.post("/v1/auth/login/mfa")
    @app.post("/v1/auth/login/passkey")
    async def login_mfa(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        seen.append(body)
        raise InvalidCredentials()

    @app.post("/v1/auth/oidc/authorize/login")
    async def oidc_login(request: Request) -> dict[str, Any]:
        seen.append({"raw": (await request.body()).decode()})
        raise InvalidCredentials()

    @app.post("/v1/custom/sign-in")  # any path: it fronts AuthClient.login
    async def custom(body: dict[str, Any] = Body(...), caller: Principal = permits(AuthClient.login)
                     ) -> dict[str, Any]:
        return await login(body)

    @app.get("/v1/private")
    async def private() -> dict[str, Any]:
        raise Forbidden("no")

    app.state.clients = {"aria_auth": object()}
    app.state.seen = seen  # what reached the routes
    protection = install_protection(app, _Settings(**{"protection_audit_flush_s": 60.0, **settings}))
    sent: list[dict[str, Any]] = []

    async def sink(records: list[dict[str, Any]]) -> None:
        sent.extend(records)

    assert protection.audit is not None
    protection.audit.sink = sink
    protection.poller.synced_at = protection.poller.clock()  # as if the feed had been read
    return app, protection, sent


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria")


async def test_the_login_body_reaches_the_route_unchanged() -> None:
    app, _, _ = _gateway()
    seen = app.state.seen
    body = {"username": "ann", "password": "right", "tenant": "acme"}
    async with _client(app) as http:
        assert (await http.post("/v1/auth/login", json=body)).status_code == 200
        utf16 = {"username": "ann", "password": "right", "pad": "é" * 1000}
        r = await http.post("/v1/auth/login", content=json.dumps(utf16, ensure_ascii=False).encode("utf-16"),
                            headers={"content-type": "application/json"})
        assert r.status_code == 200
        raw = "grant_type=client_credentials&client_id=c&client_secret=s"
        r = await http.post("/v1/auth/token", content=raw,
                            headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
    assert seen == [body, utf16, {"raw": raw}]


async def test_a_credential_body_over_the_bound_or_unreadable_is_refused_not_passed_on() -> None:
    app, _, _ = _gateway(protection_body_max=1024)
    seen = app.state.seen
    async with _client(app) as http:
        big = {"username": "ann", "password": "right", "pad": " " * 2000}
        r = await http.post("/v1/auth/login", json=big)
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/body-too-large")

        async def chunks() -> Any:  # no content-length: the bound applies as it is read
            yield json.dumps({"username": "ann", "password": "right"}).encode()[:-1]
            yield b" " * 2000 + b"}"
        r = await http.post("/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = await http.post("/v1/auth/login", content=b'{"username": "ann", "password": "ri',
                            headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["type"].endswith("/unreadable-body")
        r = await http.post("/v1/auth/login", content=json.dumps({"username": "ann", "password": "right"}),
                            headers={"content-type": "text/plain"})
        assert r.status_code == 400
        r = await http.post("/v1/auth/token", content=b"grant_type=password&username=ann&password=x",
                            headers={"content-type": "text/plain"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"  # in the token endpoint's form
        # the token route's own bound (8 KiB) holds although protection_body_max is lower
        r = await http.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_id": "c",
                                                     "client_secret": "s" * 2000})
        assert r.status_code == 200
    assert seen == [{"raw": f"grant_type=client_credentials&client_id=c&client_secret={'s' * 2000}"}]


@pytest.mark.parametrize("variant", ["json", "padded", "foo+json", "bom", "utf-16"])
async def test_the_account_throttle_is_not_bypassed_by_how_the_body_is_written(variant: str) -> None:
    app, _, _ = _gateway(protection_account_limit="3/60s")
    doc = {"username": "ann", "password": "wrong"}
    content_type, body = {
        "json": ("application/json", json.dumps(doc).encode()),
        "padded": ("application/json", json.dumps(doc).encode()[:-1] + b" " * 9000 + b"}"),
        "foo+json": ("application/x-foo+json", json.dumps(doc).encode()),
        "bom": ("application/json", b"\xef\xbb\xbf" + json.dumps(doc).encode()),
        "utf-16": ("application/json", json.dumps(doc).encode("utf-16")),
    }[variant]
    async with _client(app) as http:
        codes = [(await http.post("/v1/auth/login", content=body, headers={"content-type": content_type})
                  ).status_code for _ in range(5)]
    # a body over the bound never reaches the password check; any other is counted for its account
    assert codes == ([413] * 5 if variant == "padded" else [401, 401, 401, 429, 429])


async def test_every_credential_door_is_throttled_per_account() -> None:
    app, protection, _ = _gateway(protection_account_limit="2/60s")
    seen = app.state.seen
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with _client(app) as http:
        # a /v2 copy and a route fronting AuthClient.login share the account's window with /v1/auth/login
        codes = [(await http.post(path, json={"username": "ann", "password": "right"})).status_code
                 for path in ("/v1/auth/login", "/v2/auth/login", "/v1/custom/sign-in")]
        assert codes == [200, 200, 429]
        # the MFA steps, by their challenge (a password and a passkey step on one challenge share it)
        codes = [(await http.post("/v1/auth/login/mfa", json={"challenge": "ch-1", "code": "000000"})).status_code,
                 (await http.post("/v1/auth/login/passkey", json={"challenge": "ch-1", "credential": {}})).status_code,
                 (await http.post("/v1/auth/login/mfa", json={"challenge": "ch-1", "code": "000001"})).status_code,
                 (await http.post("/v1/auth/login/mfa", json={"challenge": "ch-2", "code": "000001"})).status_code]
        assert codes == [401, 401, 429, 401]
        # the OpenID provider's login form, by its username
        codes = [(await http.post("/v1/auth/oidc/authorize/login", headers=form,
                                  content=f"request=r&csrf=c&username={name}&password=x")).status_code
                 for name in ("ann", "ANN", "ann", "bob")]
        assert codes == [401, 401, 429, 401]
    assert len(seen) == 2 + 3 + 3  # every refused attempt stopped at the gateway
    assert protection.throttle is not None and protection.throttle.refused == 3


async def test_a_locked_account_is_refused_before_the_route() -> None:
    app, protection, _ = _gateway()
    protection.revoked.apply(feed(locks=[{"tenant": "acme", "username": "ann", "until": 4e9, "at": 0}]))
    async with _client(app) as http:
        r = await http.post("/v1/auth/login", json={"username": "ANN", "password": "right", "tenant": "acme"})
        assert r.status_code == 429
        assert r.json()["type"].endswith("auth-account-locked") and int(r.headers["retry-after"]) > 0
        r = await http.post("/v1/auth/token", data={"grant_type": "password", "username": "ann", "password": "p",
                                                     "tenant": "acme"})
        assert r.json()["error"] == "invalid_grant"  # the token endpoint's OAuth form of the same refusal
        ok = await http.post("/v1/auth/login", json={"username": "ann", "password": "right", "tenant": "other"})
        assert ok.status_code == 200
    assert protection.locked_refusals == 2


async def test_the_per_account_throttle_answers_429_with_retry_after() -> None:
    app, protection, sent = _gateway(protection_account_limit="3/60s")
    async with _client(app) as http:
        codes = [(await http.post("/v1/auth/login", json={"username": "ann", "password": "wrong"})).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        r = await http.post("/v1/auth/login", json={"username": "ANN", "password": "right"})
        assert r.status_code == 429 and r.json()["type"].endswith("account-rate-limited")
        assert 0 < int(r.headers["retry-after"]) <= 60
        assert (await http.post("/v1/auth/login", json={"username": "bob", "password": "right"})).status_code == 200
    assert protection.audit is not None
    await protection.audit.flush()
    reasons = [(r["status"], r["reason"], r["subject"]) for r in sent]
    assert reasons.count((429, "account-rate-limited", "account:/ann")) == 2
    assert all("wrong" not in json.dumps(r) and "right" not in json.dumps(r) for r in sent)  # no passwords


async def test_every_denial_is_counted_and_queued_for_the_audit() -> None:
    app, protection, sent = _gateway()
    async with _client(app) as http:
        assert (await http.get("/v1/private")).status_code == 403
        assert (await http.post("/v1/auth/login", json={"username": "ann", "password": "no"})).status_code == 401
        assert (await http.get("/v1/private", params={"x": 1})).status_code == 403
    audit = protection.audit
    assert audit is not None and len(audit.pending) == 3
    await audit.flush()
    assert [(r["status"], r["method"], r["route"]) for r in sent] == [
        (403, "GET", "/v1/private"), (401, "POST", "/v1/auth/login"), (403, "GET", "/v1/private")]
    assert sent[0]["subject"].startswith("addr:")
    assert audit.denials.labels("forbidden", "403")._value.get() == 2


async def test_the_audit_queue_is_bounded_and_keeps_records_when_the_sink_fails() -> None:
    calls: list[int] = []
    fail = [True]

    async def sink(records: list[dict[str, Any]]) -> None:
        calls.append(len(records))
        if fail[0]:
            raise ServiceUnavailable("aria_security is down", service="aria_security")

    audit = AuditBatcher(sink, max_pending=50, batch=20, flush_s=60.0)
    for _ in range(80):
        audit.denied(401, "invalid-token", "GET", "/v1/x", "addr:1.2.3.4")
    assert len(audit.pending) == 50 and audit.dropped == 30
    assert audit.dropped_total._value.get() == 30
    with pytest.raises(ServiceUnavailable):
        await audit.flush()
    assert len(audit.pending) == 50  # nothing lost to a failed send
    fail[0] = False
    assert [await audit.flush() for _ in range(4)] == [20, 20, 10, 0]
    assert audit.sent == 50 and calls == [20, 20, 20, 10]
    await audit.stop()


async def test_the_reason_labels_are_bounded() -> None:
    async def sink(records: list[dict[str, Any]]) -> None:
        pass

    audit = AuditBatcher(sink, flush_s=60.0)
    for i in range(200):
        audit.denied(403, f"reason-{i}", "GET", "/", "addr:x")
    assert len(audit._reasons) == 64
    assert audit.denials.labels("other", "403")._value.get() == 136
    await audit.stop()



async def test_a_down_aria_auth_is_a_stale_feed_not_a_missing_one() -> None:
    def clients(name: str) -> Any:
        if name == "aria_auth":
            raise ServiceUnavailable("aria_auth is restarting", service="aria_auth")
        return None

    protection = Protection(_App(clients), _Settings(protection_stale_s=0.05))
    assert protection.active()
    with pytest.raises(ServiceUnavailable):
        await protection.check({"sub": "u1", "sid": "s1"})
    await protection.stop()


# --- the first poll, open connections, OpenID clients' tokens -------------------------------------


async def test_until_the_first_poll_every_request_shares_one_wait() -> None:
    protection = Protection(_App({"aria_auth": object()}), _Settings(protection_stale_s=0.05))
    never = asyncio.Event()

    async def fetch(cursor: str | None) -> dict[str, Any]:
        await never.wait()  # the feed does not answer
        return feed()

    waits: list[float] = []
    first_sync = protection.poller.first_sync

    async def counted(timeout_s: float) -> None:
        waits.append(timeout_s)
        await first_sync(timeout_s)

    protection.poller.fetch = fetch
    protection.poller.first_sync = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(protection.check({"sub": "u1", "sid": f"s{i}"}) for i in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(a, ServiceUnavailable) for a in answers)
    for _ in range(3):  # later requests: 503 at once, no wait of their own
        with pytest.raises(ServiceUnavailable):
            await protection.check({"sub": "u1", "sid": "later"})
    assert len(waits) == 1
    await protection.stop()


async def test_open_connections_are_told_when_their_session_or_client_is_revoked() -> None:
    protection = Protection(_App({"aria_auth": object()}), _Settings())
    ended: list[tuple[str, str]] = []

    def end(name: str) -> Any:
        return lambda error: ended.append((name, error.type))

    unwatch = protection.watch({"sub": "u1", "sid": "s1"}, end("a"))
    protection.watch({"sub": "u1", "sid": "s2"}, end("b"))
    protection.watch({"sub": "robot", "client_id": "c1", "iat": 100}, end("c"))
    protection.watch({"sub": "robot", "client_id": "c1", "iat": 300}, end("d"))  # issued after: unaffected
    now = time.time()
    protection.revoked.apply(feed(sessions=[{"sid": "s2", "at": now}], clients=[{"client_id": "c1", "at": 200}]))
    assert sorted(ended) == [("b", SessionRevoked.type), ("c", ClientRevoked.type)]
    unwatch()
    protection.revoked.apply(feed(sessions=[{"sid": "s1", "at": now}]))
    assert [n for n, _ in ended] == ["b", "c"]  # "a" no longer watched
    protection.watch({"sub": "u1", "sid": "s2"}, end("late"))  # revoked before it was watched: told soon
    await asyncio.sleep(0)
    assert ended[-1] == ("late", SessionRevoked.type)


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path
        self.dependant = None


def test_an_openid_clients_token_opens_only_userinfo() -> None:
    claims = {"sub": "u1", "sid": "s1", "azp": "client-1", "scope": "openid"}
    for method, path in [("GET", "/v1/auth/oidc/userinfo"), ("POST", "/v1/auth/oidc/userinfo"),
                         ("GET", "/v2/auth/oidc/userinfo")]:
        refuse_foreign(claims, {"method": method, "route": _Route(path)})
    for method, path in [("GET", "/v1/auth/me"), ("DELETE", "/v1/auth/oidc/userinfo"),
                         ("GET", "/v1/auth/oidc/userinfo/x"), ("POST", "/v1/security/tokens")]:
        with pytest.raises(TokenNotForThisApi) as refused:
            refuse_foreign(claims, {"method": method, "route": _Route(path)})
        assert refused.value.status == 403 and refused.value.type == "token-not-for-this-api"
    with pytest.raises(TokenNotForThisApi):
        refuse_foreign({**claims, "azp": ""}, {"method": "GET", "route": _Route("/v1/auth/me")})  # carried at all
    with pytest.raises(TokenNotForThisApi):
        refuse_foreign(claims, {"method": "GET", "path": "/v1/interface/ws"})  # no route: a WebSocket
    refuse_foreign({"sub": "u1", "sid": "s1"}, {"method": "GET", "route": _Route("/v1/auth/me")})  # Aria's own
