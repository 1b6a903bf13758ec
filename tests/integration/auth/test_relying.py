"""Logins through a REAL OpenID provider (oidc-provider-mock, in a thread on a free port) via the
real gateway app over real aria_auth (PostgreSQL) and aria_security.

The test is the browser: it follows the gateway's 302 to the provider, authorises there by
POSTing the subject (the mock's consent form, no HTML needed), and brings the provider's redirect
back to the gateway's callback. The provider sits behind a small WSGI layer that can break one
thing at a time (the issuer it names, the keys it publishes, an old token answer played again);
everything else is the provider's own behaviour.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import werkzeug.serving
from joserfc.jwk import RSAKey

from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import ClientsDirectory, _empty, bearer, start_auth

pytestmark = pytest.mark.asyncio(loop_scope="session")
OP = Principal.operator()
SECRET = "mock-client-secret"


class Faulty:
    """WSGI layer in front of the provider: each attribute, when set, breaks one thing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.reset()

    def reset(self) -> None:
        self.token_host: str | None = None      # the token endpoint sees this Host: its ID token's iss
        self.discovery_host: str | None = None  # the discovery document names this issuer
        self.jwks: dict[str, Any] | None = None  # published instead of the provider's keys
        self.replay = False                      # answer the token endpoint with its previous answer
        self.last_token: bytes | None = None
        self.token_auth: list[str] = []         # Authorization headers the token endpoint got

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/jwks" and self.jwks is not None:
            return _json(start_response, self.jwks)
        if path.endswith("/openid-configuration") and self.discovery_host:
            environ = {**environ, "HTTP_HOST": self.discovery_host}
        if path == "/oauth2/token":
            self.token_auth.append(environ.get("HTTP_AUTHORIZATION", ""))
            if self.replay and self.last_token is not None:
                return _json(start_response, json.loads(self.last_token))
            if self.token_host:
                environ = {**environ, "HTTP_HOST": self.token_host}
            captured: dict[str, Any] = {}
            body = b"".join(self.app(environ, lambda status, headers, *exc: captured.update(s=status, h=headers)))
            if captured["s"].startswith("200"):
                self.last_token = body
            start_response(captured["s"], captured["h"])
            return [body]
        return self.app(environ, start_response)


def _json(start_response: Any, doc: Any) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))])
    return [body]


class Provider:
    def __init__(self, faulty: Faulty, url: str) -> None:
        self.faulty, self.url = faulty, url


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, Provider]]:
    """Two real OpenID providers: ``mock`` (behind :class:`Faulty`) and ``late`` (every ID token it
    issues has expired ten minutes ago)."""
    import oidc_provider_mock

    before = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the provider runs on plain http on this machine
    servers = []
    out: dict[str, Provider] = {}
    try:
        for name, age in (("mock", timedelta(hours=1)), ("late", timedelta(seconds=-600))):
            faulty = Faulty(oidc_provider_mock.app(access_token_max_age=age))
            server = werkzeug.serving.make_server("localhost", 0, faulty, threaded=True)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            servers.append((server, thread))
            out[name] = Provider(faulty, f"http://localhost:{server.server_port}")
        yield out
    finally:
        for server, thread in servers:
            server.shutdown()
            thread.join()
            server.server_close()
        if before is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = before


def sso_settings(providers: dict[str, Provider]) -> dict[str, Any]:
    mock, late = providers["mock"].url, providers["late"].url
    rules = [{"claim": "groups", "value": "aria-admins", "role": "admin"}]
    return dict(sso_redirect_base="http://localhost", sso_providers=[
        {"name": "mock", "issuer": mock, "client_id": "aria", "client_secret_name": "mock", "jit": True,
         "role_rules": rules},
        {"name": "closed", "issuer": mock, "client_id": "aria-closed", "client_secret_name": "mock", "jit": False},
        # the same issuer for another tenant: its own client, its own users
        {"name": "acme", "issuer": mock, "client_id": "aria-acme", "client_secret_name": "mock", "jit": True,
         "tenant": "acme", "role_rules": [{"claim": "groups", "value": "acme-admins", "role": "admin"}]},
        {"name": "late", "issuer": late, "client_id": "aria", "client_secret_name": "mock", "jit": True},
    ])


@pytest.fixture
async def sso(auth_database: str, security: Any, tmp_path: Any, providers: dict[str, Provider]
              ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The real gateway app over aria_auth started with the providers above."""
    from aria_actors.coordinate.gateway import create_app

    for p in providers.values():
        p.faulty.reset()
    await security.kv_put(OP, "services/aria_auth/sso/mock", {"client_secret": SECRET})
    await _empty(auth_database)
    service = await start_auth(auth_database, security, tmp_path, **sso_settings(providers))
    app = create_app(ClientsDirectory({"aria_auth": service, "aria_security": security}))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria") as client:
            yield service, client
    finally:
        await service.stop()


async def set_user(provider: Provider, sub: str, **claims: Any) -> None:
    async with httpx.AsyncClient() as browser:
        r = await browser.put(f"{provider.url}/users/{sub}", json=claims)
    assert r.status_code == 204, r.text


async def authorize(gateway: httpx.AsyncClient, name: str, sub: str, nonce: str | None = None) -> dict[str, str]:
    """Begin a login at the gateway, authorise ``sub`` at the provider: the callback's query."""
    r = await gateway.get(f"/v1/auth/sso/{name}/login")
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"http://localhost/v1/auth/sso/{name}/callback"]
    if nonce is not None:  # someone swapped the nonce on the way to the provider
        parts = urlsplit(location)
        location = urlunsplit(parts._replace(query=urlencode({**{k: v[0] for k, v in query.items()},
                                                              "nonce": nonce})))
    async with httpx.AsyncClient() as browser:
        back = await browser.post(location, data={"sub": sub})
    assert back.status_code == 302, back.text
    return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}


async def callback(gateway: httpx.AsyncClient, name: str, query: dict[str, str]) -> httpx.Response:
    return await gateway.get(f"/v1/auth/sso/{name}/callback", params=query)


async def login(gateway: httpx.AsyncClient, name: str, sub: str) -> httpx.Response:
    return await callback(gateway, name, await authorize(gateway, name, sub))


def problem(r: httpx.Response, status: int, slug: str, reason: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/" + slug), body
    if reason is not None:
        assert body["reason"] == reason, body
    return body


async def admin(security: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {await security.issue_token(OP, 'root-admin', {'roles': ['admin']}, 300)}"}


async def denied_audits(security: Any) -> list[str]:
    return [r["target"] for r in await security.audit(OP, 200, op="sso-login", outcome="denied")
            if r["actor"] == "svc:aria_auth" and str(r.get("subject", "")).startswith("sso:")]


# -- the happy path --------------------------------------------------------------------------------
async def test_login_links_the_account_and_maps_roles(sso, providers, security) -> None:
    _service, gateway = sso
    r = await gateway.get("/v1/auth/sso/providers")
    assert r.status_code == 200 and r.json() == ["acme", "closed", "late", "mock"]
    await set_user(providers["mock"], "alice-sub", preferred_username="alice", email="alice@example.com",
                   name="Alice", groups=["staff", "aria-admins"])

    r = await login(gateway, "mock", "alice-sub")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    tokens = r.json()
    assert tokens["created"] is True and tokens["roles"] == ["user", "admin"]
    # the client secret came from aria_security, sent with client_secret_basic
    assert providers["mock"].faulty.token_auth[-1].startswith("Basic ")
    me = (await gateway.get("/v1/auth/me", headers=bearer(tokens))).json()
    assert me["username"] == "alice" and me["email"] == "alice@example.com" and me["roles"] == ["user", "admin"]
    links = (await gateway.get("/v1/auth/sso/links", headers=bearer(tokens))).json()
    assert [(x["provider"], x["subject"]) for x in links] == [("mock", "alice-sub")]
    assert links[0]["issuer"] == providers["mock"].url
    # the Aria session works like any other: refresh
    refreshed = await gateway.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["roles"] == ["user", "admin"]

    # the next login finds the link; the role follows the claim (taken away at the provider)
    await set_user(providers["mock"], "alice-sub", preferred_username="alice", groups=["staff"])
    again = (await login(gateway, "mock", "alice-sub")).json()
    assert again["created"] is False and again["user_id"] == tokens["user_id"] and again["roles"] == ["user"]

    # a second person whose preferred username is taken gets another one
    await set_user(providers["mock"], "other-sub", preferred_username="alice")
    other = (await login(gateway, "mock", "other-sub")).json()
    assert other["user_id"] != tokens["user_id"]
    assert (await gateway.get("/v1/auth/me", headers=bearer(other))).json()["username"] == "alice-2"

    # an administrator lists a user's links; another user may not
    assert len((await gateway.get(f"/v1/auth/users/{tokens['user_id']}/sso/links",
                                  headers=await admin(security))).json()) == 1
    problem(await gateway.get(f"/v1/auth/users/{tokens['user_id']}/sso/links", headers=bearer(other)),
            403, "forbidden")
    # the user has no password: the last link stays; an SSO user cannot log in with a password
    problem(await gateway.delete(f"/v1/auth/sso/links/{links[0]['id']}", headers=bearer(again)), 409,
            "sso-last-link")
    problem(await gateway.delete(f"/v1/auth/sso/links/{links[0]['id']}", headers=bearer(other)), 404,
            "sso-link-not-found")
    problem(await gateway.post("/v1/auth/login", json={"username": "alice", "password": "!sso"}), 401,
            "auth-invalid-credentials")


async def test_a_user_with_a_password_unlinks(sso, providers, security) -> None:
    _service, gateway = sso
    tokens = (await login(gateway, "mock", "bob-sub")).json()
    r = await gateway.post(f"/v1/auth/users/{tokens['user_id']}/password", headers=await admin(security),
                           json={"new_password": "a long enough passphrase"})
    assert r.status_code == 204, r.text
    tokens = (await login(gateway, "mock", "bob-sub")).json()  # the password change ended the sessions
    [link] = (await gateway.get("/v1/auth/sso/links", headers=bearer(tokens))).json()
    assert (await gateway.delete(f"/v1/auth/sso/links/{link['id']}", headers=bearer(tokens))).status_code == 204
    assert (await gateway.get("/v1/auth/sso/links", headers=bearer(tokens))).json() == []
    # without the link the same identity makes a new user
    assert (await login(gateway, "mock", "bob-sub")).json()["user_id"] != tokens["user_id"]


async def test_providers_of_one_issuer_keep_their_users_apart(sso, providers, security) -> None:
    _service, gateway = sso
    await set_user(providers["mock"], "kim-sub", preferred_username="kim", groups=["aria-admins", "acme-admins"])
    home = (await login(gateway, "mock", "kim-sub")).json()
    assert home["roles"] == ["user", "admin"]
    # the same person through the acme tenant's provider: another user, in acme, with acme's rules
    acme = (await login(gateway, "acme", "kim-sub")).json()
    assert acme["created"] is True and acme["user_id"] != home["user_id"] and acme["roles"] == ["user", "admin"]
    assert (await security.verify_token(OP, acme["access_token"]))["tenant"] == "acme"
    # acme's rules do not touch the default tenant's user, nor mock's rules acme's
    await set_user(providers["mock"], "kim-sub", preferred_username="kim", groups=["aria-admins"])
    again = (await login(gateway, "acme", "kim-sub")).json()
    assert again["user_id"] == acme["user_id"] and again["roles"] == ["user"]
    again = (await login(gateway, "mock", "kim-sub")).json()
    assert again["user_id"] == home["user_id"] and again["roles"] == ["user", "admin"]
    links = (await gateway.get("/v1/auth/sso/links", headers=bearer(acme))).json()
    assert [(x["provider"], x["subject"]) for x in links] == [("acme", "kim-sub")]


async def test_a_link_into_another_tenant_is_refused(sso, providers, security, auth_database, tmp_path) -> None:
    from aria_actors.coordinate.gateway import create_app

    _service, gateway = sso
    linked = (await login(gateway, "mock", "lee-sub")).json()
    # aria_auth restarted with mock's users moving to another tenant: the old link is not taken
    settings = sso_settings(providers)
    settings["sso_providers"][0]["tenant"] = "moved"
    moved = await start_auth(auth_database, security, tmp_path / "moved", **settings)
    try:
        app = create_app(ClientsDirectory({"aria_auth": moved, "aria_security": security}))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria") as other:
            body = problem(await login(other, "mock", "lee-sub"), 403, "sso-tenant-mismatch")
            assert body["provider"] == "mock"
            # a new identity is created in the provider's tenant as before
            fresh = (await login(other, "mock", "max-sub")).json()
            assert (await security.verify_token(OP, fresh["access_token"]))["tenant"] == "moved"
    finally:
        await moved.stop()
    assert any("sso-tenant-mismatch" in t for t in await denied_audits(security))
    assert (await gateway.get("/v1/auth/me", headers=bearer(linked))).json()["roles"] == ["user"]


# -- refusals --------------------------------------------------------------------------------------
async def test_unknown_provider_and_no_jit_are_refused(sso, providers, security) -> None:
    _service, gateway = sso
    problem(await gateway.get("/v1/auth/sso/nobody/login"), 404, "sso-unknown-provider")
    problem(await login(gateway, "closed", "carol-sub"), 403, "sso-not-provisioned")
    # an identity linked through another provider of the same issuer is not this provider's
    assert (await login(gateway, "mock", "dave-sub")).status_code == 200
    problem(await login(gateway, "closed", "dave-sub"), 403, "sso-not-provisioned")
    audits = await denied_audits(security)
    assert any("sso-not-provisioned" in t for t in audits) and any("sso-unknown-provider" in t for t in audits)


async def test_a_state_is_spent_once_and_bound_to_the_browser(sso, providers, security) -> None:
    _service, gateway = sso
    query = await authorize(gateway, "mock", "erin-sub")
    assert (await callback(gateway, "mock", query)).status_code == 200
    problem(await callback(gateway, "mock", query), 400, "sso-invalid-state")
    problem(await callback(gateway, "mock", {"state": "made-up", "code": "x"}), 400, "sso-invalid-state")
    # another browser (no cookie of this login) cannot finish it, and does not spend it
    query = await authorize(gateway, "mock", "erin-sub")
    jar = httpx.Cookies(gateway.cookies)
    gateway.cookies.clear()
    body = problem(await callback(gateway, "mock", query), 400, "sso-invalid-state")
    assert body["why"] == "browser"
    gateway.cookies = jar
    assert (await callback(gateway, "mock", query)).status_code == 200
    # a state begun for one provider does not finish another's login
    query = await authorize(gateway, "mock", "erin-sub")
    problem(await callback(gateway, "late", query), 400, "sso-invalid-state")
    assert any("sso-invalid-state" in t for t in await denied_audits(security))


async def test_a_replayed_id_token_is_refused(sso, providers, security) -> None:
    _service, gateway = sso
    assert (await login(gateway, "mock", "frank-sub")).status_code == 200
    providers["mock"].faulty.replay = True  # the token endpoint answers the old ID token again
    body = problem(await login(gateway, "mock", "frank-sub"), 401, "sso-invalid-id-token", "replayed")
    assert "already used" in body["detail"]
    assert any("sso-invalid-id-token:replayed" in t for t in await denied_audits(security))


async def test_a_wrong_nonce_is_refused(sso, providers) -> None:
    _service, gateway = sso
    query = await authorize(gateway, "mock", "gina-sub", nonce="not-the-one-aria-sent")
    problem(await callback(gateway, "mock", query), 401, "sso-invalid-id-token", "nonce")


async def test_an_id_token_from_another_issuer_is_refused(sso, providers) -> None:
    _service, gateway = sso
    providers["mock"].faulty.token_host = "evil.example"
    problem(await login(gateway, "mock", "hank-sub"), 401, "sso-invalid-id-token", "issuer")


async def test_a_discovery_document_of_another_issuer_is_refused(sso, providers) -> None:
    _service, gateway = sso
    providers["mock"].faulty.discovery_host = "evil.example"  # it names itself http://evil.example
    problem(await gateway.get("/v1/auth/sso/mock/login"), 502, "sso-provider-error", "issuer-mismatch")


async def test_a_token_signed_by_another_key_is_refused(sso, providers) -> None:
    _service, gateway = sso
    async with httpx.AsyncClient() as browser:
        real = (await browser.get(f"{providers['mock'].url}/jwks")).json()
    kid = real["keys"][0]["kid"]
    # the provider now publishes another key under the same kid: its tokens no longer verify
    providers["mock"].faulty.jwks = {"keys": [RSAKey.generate_key(2048, parameters={"kid": kid}).as_dict(
        private=False)]}
    problem(await login(gateway, "mock", "ivy-sub"), 401, "sso-invalid-id-token", "signature")


async def test_an_expired_id_token_is_refused(sso, providers) -> None:
    _service, gateway = sso
    problem(await login(gateway, "late", "jack-sub"), 401, "sso-invalid-id-token", "expired")


async def test_a_provider_saying_no_is_refused(sso, providers) -> None:
    _service, gateway = sso
    r = await gateway.get("/v1/auth/sso/mock/login")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    problem(await callback(gateway, "mock", {"state": state, "error": "access_denied"}), 401, "sso-provider-denied")
    problem(await callback(gateway, "mock", {"state": state, "code": "x"}), 400, "sso-invalid-state")  # spent


async def test_the_provider_links_migration_goes_down_and_up(auth) -> None:
    from importlib.resources import files  # why: only this test reads the migration files

    folder = files("aria_actors.auth") / "migrations"
    up = (folder / "0011_sso_provider_links.sql").read_text()
    down = (folder / "0011_sso_provider_links.down.sql").read_text()
    columns = ("SELECT array_agg(a.attname ORDER BY k.i) FROM pg_index x "
               "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i) "
               "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
               "WHERE x.indexrelid = 'aria_auth.sso_links_identity'::regclass")
    async with auth.db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            assert await conn.fetchval(columns) == ["provider", "issuer", "subject"]
            await conn.execute("SET LOCAL search_path = aria_auth")
            await conn.execute(down)
            assert await conn.fetchval(columns) == ["issuer", "subject"]
            await conn.execute(up)
            assert await conn.fetchval(columns) == ["provider", "issuer", "subject"]
        finally:
            await tx.rollback()
