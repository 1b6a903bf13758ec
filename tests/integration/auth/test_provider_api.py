"""Aria as an OpenID Connect provider, through the real gateway app over real aria_auth and
aria_security: authlib's OAuth 2.0 client drives code + PKCE, the HTML login form is posted like
a browser would, the ID token is verified against the published JWKS."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

try:  # authlib 1.9's client is built on httpx2 (its transports are httpx2's); older ones on httpx
    import httpx2 as rp_httpx
except ImportError:
    rp_httpx = httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet

from aria_actors.auth import totp
from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import admin_headers, assert_problem

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
CALLBACK = "http://127.0.0.1:9999/callback"
AFTER_LOGOUT = "http://127.0.0.1:9999/bye"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]*)">')


@pytest.fixture
async def app(auth: Any, security: Any) -> Any:
    """The real gateway app over the real aria_auth and aria_security."""
    from aria_actors.coordinate.gateway import create_app
    from tests.fixtures.auth import ClientsDirectory

    return create_app(ClientsDirectory({"aria_auth": auth, "aria_security": security}))


@pytest.fixture
async def browser(app: Any, auth: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the gateway (keeps cookies; never follows the redirect back to the client)."""
    base = auth._issuer().removesuffix("/v1/auth/oidc")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as client:
        yield client


async def register(browser: httpx.AsyncClient, security: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": "notes app", "redirect_uris": [CALLBACK], "post_logout_redirect_uris": [AFTER_LOGOUT], **fields}
    r = await browser.post("/v1/auth/oidc/clients", headers=await admin_headers(security), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def make_user(browser: httpx.AsyncClient, security: Any, name: str = "alice", **fields: Any) -> dict:
    r = await browser.post("/v1/auth/users", headers=await admin_headers(security),
                           json={"username": name, "password": PASSWORD, "email": f"{name}@example.org",
                                 "display_name": name.title(), **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def discovery(browser: httpx.AsyncClient) -> dict[str, Any]:
    r = await browser.get("/v1/auth/oidc/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    return r.json()


def form_of(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's form."""
    action = _ACTION.search(page.text)
    assert action, page.text
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in _HIDDEN.findall(page.text)}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str, verifier: str | None = None, **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
              "scope": "openid profile email", "state": "st-" + generate_token(8), "nonce": "n-" + generate_token(8)}
    if verifier is not None:
        params.update(code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    return {**params, **extra}


async def log_in(browser: httpx.AsyncClient, authorize_url: str, username: str = "alice",
                 password: str = PASSWORD, *, approve: bool | None = True) -> httpx.Response:
    """Open the authorization URL, post the login form and (if asked) the consent form: the
    response that redirects back to the client (or the last page)."""
    page = await browser.get(authorize_url)
    assert page.status_code == 200, page.text
    action, hidden = form_of(page)
    r = await browser.post(action, data={**hidden, "username": username, "password": password})
    if r.status_code == 200 and "Allow access?" in r.text and approve is not None:
        action, hidden = form_of(r)
        r = await browser.post(action, data={**hidden, "decision": "allow" if approve else "deny"})
    return r


async def code_for(browser: httpx.AsyncClient, client_id: str, verifier: str, **extra: str) -> tuple[str, dict]:
    params = authorize_params(client_id, verifier, **extra)
    r = await log_in(browser, "/v1/auth/oidc/authorize?" + httpx.QueryParams(params).__str__())
    assert r.status_code == 303, r.text
    got = query(r.headers["location"])
    assert got["state"] == params["state"]
    return got["code"], params


async def exchange(browser: httpx.AsyncClient, client: dict, code: str, verifier: str | None,
                   redirect_uri: str = CALLBACK) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await browser.post("/v1/auth/oidc/token", data=data,
                              auth=(client["client_id"], client["client_secret"]))


async def denials(security: Any, slug: str) -> list[dict]:
    records = await security.audit(OP, 1000, op=slug, outcome="denied")
    return [r for r in records if r["actor"] == "svc:aria_auth"]


# -- the whole flow with authlib's client ---------------------------------------------------------
async def test_authlib_client_logs_in_with_code_and_pkce_verifies_refreshes_and_logs_out(
        app: Any, browser: httpx.AsyncClient, security: Any) -> None:
    user = await make_user(browser, security)
    client = await register(browser, security)
    meta = await discovery(browser)
    OpenIDProviderMetadata(meta).validate()  # OIDC Discovery 1.0, issuer with a path
    assert meta["issuer"].endswith("/v1/auth/oidc") and meta["code_challenge_methods_supported"] == ["S256"]

    async with AsyncOAuth2Client(client["client_id"], client["client_secret"], scope="openid profile email",
                                 redirect_uri=CALLBACK, code_challenge_method="S256",
                                 transport=rp_httpx.ASGITransport(app=app)) as rp:
        verifier, nonce = generate_token(48), generate_token(16)
        url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        assert "code_challenge_method=S256" in url
        back = await log_in(browser, url)  # a third-party client: the consent page is answered too
        assert back.status_code == 303, back.text
        location = back.headers["location"]
        assert location.startswith(CALLBACK + "?")
        got = query(location)
        assert got["state"] == state and got["iss"] == meta["issuer"]

        token = await rp.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
        assert {"access_token", "refresh_token", "id_token"} <= token.keys()

        keys = KeySet.import_key_set((await browser.get("/v1/auth/oidc/jwks")).json())
        id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                              aud={"essential": True, "value": client["client_id"]},
                              sub={"essential": True, "value": user["id"]},
                              nonce={"essential": True, "value": nonce}).validate(id_token.claims)
        assert id_token.claims["amr"] == ["pwd"] and isinstance(id_token.claims["auth_time"], int)

        info = await rp.get(meta["userinfo_endpoint"])
        assert info.status_code == 200, info.text
        assert info.json() == {"sub": user["id"], "name": "Alice", "preferred_username": "alice",
                               "updated_at": info.json()["updated_at"], "email": "alice@example.org",
                               "email_verified": False}
        # the access token is the client's, not the user's session: it does not open the user's own API
        assert (await browser.get("/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
                ).status_code == 403

        refreshed = await rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        again = jwt.decode(refreshed["id_token"], keys, algorithms=["RS256"]).claims
        assert again["sub"] == user["id"] and again["auth_time"] == id_token.claims["auth_time"]
        assert (await rp.get(meta["userinfo_endpoint"])).status_code == 200

        out = await browser.get("/v1/auth/oidc/logout", params={
            "id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT, "state": "bye-1"})
        assert out.status_code == 302 and out.headers["location"] == AFTER_LOGOUT + "?state=bye-1"
        # the session ended: userinfo and the refresh token are refused
        gone = await rp.get(meta["userinfo_endpoint"])
        assert_problem(gone, 401, "oidc-invalid-token")
        r = await browser.post("/v1/auth/oidc/token", auth=(client["client_id"], client["client_secret"]),
                               data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
        assert assert_problem(r, 400, "oidc-invalid-grant")["error"] == "invalid_grant"


async def test_a_public_trusted_client_skips_consent_and_authenticates_with_pkce_only(
        browser: httpx.AsyncClient, security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, public=True, trusted=True, scopes=["openid"])
    assert "client_secret" not in client and client["type"] == "public"
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier, scope="openid")
    r = await browser.post("/v1/auth/oidc/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier,
        "client_id": client["client_id"]})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and r.json()["scope"] == "openid"
    info = await browser.get("/v1/auth/oidc/userinfo", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert set(info.json()) == {"sub"}  # openid only: no profile or email claims


# -- each protection on its own -------------------------------------------------------------------
async def test_state_is_echoed_and_nonce_is_in_the_id_token_and_optional(browser: httpx.AsyncClient,
                                                                         security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    code, params = await code_for(browser, client["client_id"], verifier, state="xyz <&> 1")
    body = (await exchange(browser, client, code, verifier)).json()
    assert jwt.decode(body["id_token"], KeySet.import_key_set((await browser.get("/v1/auth/oidc/jwks")).json())
                      ).claims["nonce"] == params["nonce"]
    # nonce is optional in the code flow: no nonce asked, none in the ID token
    params = authorize_params(client["client_id"], verifier)
    del params["nonce"]
    r = await log_in(browser, "/v1/auth/oidc/authorize?" + str(httpx.QueryParams(params)))
    body = (await exchange(browser, client, query(r.headers["location"])["code"], verifier)).json()
    assert "nonce" not in jwt.decode(body["id_token"], KeySet.import_key_set(
        (await browser.get("/v1/auth/oidc/jwks")).json())).claims


async def test_a_redirect_uri_must_match_exactly_and_a_wrong_one_is_never_redirected_to(
        browser: httpx.AsyncClient, security: Any) -> None:
    client = await register(browser, security)
    verifier = generate_token(48)
    for wrong in (CALLBACK + "/", CALLBACK + "x", CALLBACK + "?a=1", "http://127.0.0.1:9999/CALLBACK",
                  "https://evil.example/callback", None):
        params = authorize_params(client["client_id"], verifier)
        if wrong is None:
            del params["redirect_uri"]
        else:
            params["redirect_uri"] = wrong
        r = await browser.get("/v1/auth/oidc/authorize", params=params)
        assert "location" not in r.headers
        assert_problem(r, 400, "oidc-invalid-redirect-uri")
    r = await browser.get("/v1/auth/oidc/authorize", params=authorize_params("not-a-client", verifier))
    assert "location" not in r.headers
    assert_problem(r, 400, "oidc-unknown-client")
    assert len(await denials(security, "oidc-invalid-redirect-uri")) >= 6
    # the code is bound to the redirect URI too
    await make_user(browser, security)
    trusted = await register(browser, security, name="first party", trusted=True,
                             redirect_uris=[CALLBACK, "http://127.0.0.1:9999/other"])
    code, _ = await code_for(browser, trusted["client_id"], verifier)
    r = await exchange(browser, trusted, code, verifier, redirect_uri="http://127.0.0.1:9999/other")
    assert assert_problem(r, 400, "oidc-invalid-grant")["error"] == "invalid_grant"


async def test_errors_after_the_redirect_uri_is_known_go_back_to_it(browser: httpx.AsyncClient,
                                                                    security: Any) -> None:
    client = await register(browser, security, scopes=["openid", "profile"])
    verifier = generate_token(48)
    cases = {"unsupported_response_type": {"response_type": "token"},
             "invalid_scope": {"scope": "openid email"},
             "invalid_request": {"code_challenge_method": "plain"},
             "login_required": {"prompt": "none"}}
    for error, change in cases.items():
        params = {**authorize_params(client["client_id"], verifier), "scope": "openid profile", **change}
        r = await browser.get("/v1/auth/oidc/authorize", params=params)
        assert r.status_code == 302, r.text
        got = query(r.headers["location"])
        assert r.headers["location"].startswith(CALLBACK + "?")
        assert got["error"] == error and got["state"] == params["state"], got
    no_scope = {**authorize_params(client["client_id"], verifier), "scope": "profile"}
    assert query((await browser.get("/v1/auth/oidc/authorize", params=no_scope)).headers["location"])["error"] \
        == "invalid_scope"
    # oversized or repeated parameters: refused before anything else, never redirected
    r = await browser.get("/v1/auth/oidc/authorize", params={**authorize_params(client["client_id"], verifier),
                                                             "state": "x" * 5000})
    assert "location" not in r.headers and r.status_code == 400
    r = await browser.get("/v1/auth/oidc/authorize?client_id=a&client_id=b")
    assert_problem(r, 400, "oidc-invalid-request")


async def test_pkce_is_required_a_missing_or_wrong_verifier_is_refused(browser: httpx.AsyncClient,
                                                                     security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    # no code_challenge at all: refused at the authorization endpoint
    params = authorize_params(client["client_id"])
    r = await browser.get("/v1/auth/oidc/authorize", params=params)
    assert query(r.headers["location"])["error"] == "invalid_request"
    verifier = generate_token(48)
    for presented in (None, generate_token(48)):
        code, _ = await code_for(browser, client["client_id"], verifier)
        r = await exchange(browser, client, code, presented)
        assert assert_problem(r, 400, "oidc-invalid-grant")["error"] == "invalid_grant"
        # the code is spent by the failed try: the right verifier no longer helps
        assert_problem(await exchange(browser, client, code, verifier), 400, "oidc-invalid-grant")
    assert await denials(security, "oidc-invalid-grant")


async def test_a_code_works_once_and_a_replay_revokes_its_tokens(browser: httpx.AsyncClient, security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier)
    first = await exchange(browser, client, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).status_code == 200
    replay = await exchange(browser, client, code, verifier)
    assert assert_problem(replay, 400, "oidc-invalid-grant")["error"] == "invalid_grant"
    # RFC 6749 4.1.2: what the code gave is revoked
    assert_problem(await browser.get("/v1/auth/oidc/userinfo", headers=bearer), 401, "oidc-invalid-token")
    r = await browser.post("/v1/auth/oidc/token", auth=(client["client_id"], client["client_secret"]),
                           data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert_problem(r, 400, "oidc-invalid-grant")
    assert await denials(security, "oidc-invalid-grant")
    # another client cannot use a code, nor a wrong secret authenticate
    other = await register(browser, security, name="other", trusted=True)
    code, _ = await code_for(browser, client["client_id"], verifier)
    assert_problem(await exchange(browser, other, code, verifier), 400, "oidc-invalid-grant")
    bad = await browser.post("/v1/auth/oidc/token", auth=(client["client_id"], "aria_ocs_wrong"),
                             data={"grant_type": "authorization_code", "code": "aria_ac_x"})
    assert assert_problem(bad, 401, "oidc-invalid-client")["error"] == "invalid_client"


async def test_a_refresh_token_rotates_and_a_reused_one_ends_the_session(browser: httpx.AsyncClient,
                                                                         security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier)
    tokens = (await exchange(browser, client, code, verifier)).json()
    auth = (client["client_id"], client["client_secret"])
    new = await browser.post("/v1/auth/oidc/token", auth=auth,
                             data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert new.status_code == 200, new.text
    reused = await browser.post("/v1/auth/oidc/token", auth=auth,
                                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert_problem(reused, 400, "oidc-invalid-grant")
    ended = await browser.post("/v1/auth/oidc/token", auth=auth,
                               data={"grant_type": "refresh_token", "refresh_token": new.json()["refresh_token"]})
    assert_problem(ended, 400, "oidc-invalid-grant")


async def test_the_forms_need_their_csrf_token_and_cookie(browser: httpx.AsyncClient, security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security)
    verifier = generate_token(48)
    params = authorize_params(client["client_id"], verifier)
    page = await browser.get("/v1/auth/oidc/authorize", params=params)
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    action, hidden = form_of(page)
    r = await browser.post(action, data={**hidden, "username": "alice", "password": PASSWORD})
    assert "Allow access?" in r.text
    action, hidden = form_of(r)
    consent = "/v1/auth/oidc/authorize/consent"
    assert action.endswith(consent)
    without = {k: v for k, v in hidden.items() if k != "csrf"}
    assert_problem(await browser.post(consent, data={**without, "decision": "allow"}), 403, "oidc-csrf")
    assert_problem(await browser.post(consent, data={**hidden, "csrf": "forged", "decision": "allow"}),
                   403, "oidc-csrf")
    # the right token from a browser without the request's cookie (a cross-site post) is refused too
    async with httpx.AsyncClient(transport=browser._transport, base_url=browser.base_url) as other:
        assert_problem(await other.post(consent, data={**hidden, "decision": "allow"}), 403, "oidc-csrf")
    assert len(await denials(security, "oidc-csrf")) >= 3
    # the genuine post still works, once
    r = await browser.post(consent, data={**hidden, "decision": "allow"})
    assert r.status_code == 303 and "code" in query(r.headers["location"])
    assert_problem(await browser.post(consent, data={**hidden, "decision": "allow"}), 400, "oidc-request-expired")


async def test_login_form_errors_are_shown_escaped_and_consent_can_be_denied(browser: httpx.AsyncClient,
                                                                            security: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, name="<script>alert(1)</script>")
    params = authorize_params(client["client_id"], generate_token(48))
    page = await browser.get("/v1/auth/oidc/authorize", params=params)
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    action, hidden = form_of(page)
    wrong = await browser.post(action, data={**hidden, "username": "alice", "password": "wrong one!"})
    assert wrong.status_code == 401 and "Invalid credentials" not in wrong.text and "Wrong username" in wrong.text
    r = await browser.post(action, data={**hidden, "username": "alice", "password": PASSWORD})
    action, hidden = form_of(r)
    denied = await browser.post(action, data={**hidden, "decision": "deny"})
    got = query(denied.headers["location"])
    assert got["error"] == "access_denied" and got["state"] == params["state"]


async def test_a_user_with_mfa_enters_a_code_on_the_second_form(browser: httpx.AsyncClient, security: Any,
                                                                 auth: Any) -> None:
    import time

    await make_user(browser, security)
    login = (await browser.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    me = {"Authorization": f"Bearer {login['access_token']}"}
    secret = (await browser.post("/v1/auth/mfa/enroll", headers=me)).json()["secret"]
    assert (await browser.post("/v1/auth/mfa/confirm", headers=me,
                               json={"code": totp.code_at(secret, time.time())})).status_code == 200
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    r = await log_in(browser, "/v1/auth/oidc/authorize?" + str(httpx.QueryParams(
        authorize_params(client["client_id"], verifier))))
    assert "Two-step verification" in r.text
    action, hidden = form_of(r)
    assert action.endswith("/authorize/mfa") and hidden["challenge"].startswith("aria_mc_")
    again = await browser.post(action, data={**hidden, "code": "000000"})
    assert again.status_code == 401 and "Two-step verification" in again.text
    done = await browser.post(action, data={**hidden, "code": totp.code_at(secret, time.time() + 30)})
    assert done.status_code == 303, done.text
    tokens = (await exchange(browser, client, query(done.headers["location"])["code"], verifier)).json()
    assert "otp" in jwt.decode(tokens["id_token"], KeySet.import_key_set(
        (await browser.get("/v1/auth/oidc/jwks")).json())).claims["amr"]


# -- clients --------------------------------------------------------------------------------------
async def test_clients_are_registered_by_administrators_with_safe_redirect_uris(browser: httpx.AsyncClient,
                                                                               security: Any) -> None:
    admin = await admin_headers(security)
    for bad in ("http://example.org/cb", "https://example.org/cb#frag", "ftp://example.org/cb", "/relative",
                "https://user:pw@example.org/cb", "https://example.org/" + "x" * 2100):
        r = await browser.post("/v1/auth/oidc/clients", headers=admin, json={"name": "x", "redirect_uris": [bad]})
        assert r.status_code in (400, 422), (bad, r.text)
    r = await browser.post("/v1/auth/oidc/clients", headers=admin,
                           json={"name": "x", "redirect_uris": [f"https://a.example/{i}" for i in range(11)]})
    assert r.status_code in (400, 422)
    ok = await register(browser, security, redirect_uris=["https://app.example/cb", "http://[::1]:8080/cb"])
    assert ok["client_secret"].startswith("aria_ocs_")
    assert_problem(await browser.post("/v1/auth/oidc/clients", headers=admin,
                                      json={"name": "notes app", "redirect_uris": [CALLBACK]}), 409,
                   "oidc-client-exists")
    listed = (await browser.get("/v1/auth/oidc/clients", headers=admin)).json()
    assert [c["client_id"] for c in listed] == [ok["client_id"]] and "client_secret" not in listed[0]
    # a plain user may neither register nor list clients
    await make_user(browser, security)
    user = (await browser.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    bearer = {"Authorization": f"Bearer {user['access_token']}"}
    assert (await browser.post("/v1/auth/oidc/clients", headers=bearer,
                               json={"name": "y", "redirect_uris": [CALLBACK]})).status_code == 403
    assert (await browser.get("/v1/auth/oidc/clients", headers=bearer)).status_code == 403
    assert (await browser.delete(f"/v1/auth/oidc/clients/{ok['client_id']}", headers=bearer)).status_code == 403
    assert (await browser.delete(f"/v1/auth/oidc/clients/{ok['client_id']}", headers=admin)).status_code == 204
    assert_problem(await browser.delete(f"/v1/auth/oidc/clients/{ok['client_id']}", headers=admin), 404,
                   "oidc-client-not-found")


async def test_logout_needs_a_valid_hint_and_a_registered_uri(browser: httpx.AsyncClient, security: Any,
                                                              auth: Any) -> None:
    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier)
    tokens = (await exchange(browser, client, code, verifier)).json()
    assert "Sign out?" in (await browser.get("/v1/auth/oidc/logout")).text  # no hint: the user is asked
    assert_problem(await browser.get("/v1/auth/oidc/logout", params={"id_token_hint": tokens["access_token"]}),
                   401, "oidc-invalid-token")
    r = await browser.get("/v1/auth/oidc/logout", params={"id_token_hint": tokens["id_token"],
                                                          "post_logout_redirect_uri": "https://evil.example/"})
    assert "location" not in r.headers
    assert_problem(r, 400, "oidc-invalid-redirect-uri")
    # still logged in: the refused logout ended nothing
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).status_code == 200
    page = await browser.get("/v1/auth/oidc/logout", params={"id_token_hint": tokens["id_token"]})
    assert page.status_code == 200 and "Signed out" in page.text
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).status_code == 401
    assert await auth.prune() == 0  # requests and codes are pruned with the sessions (none ended long ago)


# -- security review: what a client's token opens, MFA and tenant binding, logout, registration ---
def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the service verified it; the test only reads what it says)."""
    import base64
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def enable_mfa(browser: httpx.AsyncClient, username: str, tenant: str = "") -> str:
    import time

    login = (await browser.post("/v1/auth/login", json={"username": username, "password": PASSWORD,
                                                        "tenant": tenant})).json()
    me = {"Authorization": f"Bearer {login['access_token']}"}
    secret = (await browser.post("/v1/auth/mfa/enroll", headers=me)).json()["secret"]
    assert (await browser.post("/v1/auth/mfa/confirm", headers=me,
                               json={"code": totp.code_at(secret, time.time())})).status_code == 200
    return secret


async def test_a_clients_access_token_has_no_roles_opens_no_self_service_door_and_refreshes_only_at_the_op(
        browser: httpx.AsyncClient, security: Any, auth: Any) -> None:
    user = await make_user(browser, security, roles=["user"])
    client = await register(browser, security, scopes=["openid"])  # third party: "know who you are" only
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier, scope="openid")
    tokens = (await exchange(browser, client, code, verifier)).json()
    claims = claims_of(tokens["access_token"])
    assert claims["roles"] == [] and claims["azp"] == client["client_id"] and claims["scope"] == "openid"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    # userinfo works with it ...
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).json() == {"sub": user["id"]}
    # ... and no door for the user's own session does: not through the gateway, not at the service
    for method, path in (("GET", "/v1/auth/me"), ("GET", "/v1/auth/sessions"),
                         ("POST", "/v1/auth/passkeys/register/options"), ("POST", "/v1/auth/mfa/enroll")):
        r = await browser.request(method, path, headers=bearer)
        assert r.status_code == 403, (path, r.status_code, r.text)
    caller = Principal.from_claims(claims)
    from aria_actors.runtime.errors import Forbidden

    for call in (lambda: auth.me(caller), lambda: auth.passkey_register_options(caller, user["id"]),
                 lambda: auth.mfa_enroll(caller, user["id"]), lambda: auth.my_sessions(caller)):
        with pytest.raises(Forbidden):
            await call()
    # the client's refresh token is refused at the user's refresh door (as unknown) and still works at the OP's
    r = await browser.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(r, 401, "auth-invalid-refresh-token")
    r = await browser.post("/v1/auth/oidc/token", auth=(client["client_id"], client["client_secret"]),
                           data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    assert claims_of(r.json()["access_token"])["roles"] == []
    # a user's own login still refreshes at /v1/auth/refresh
    own = (await browser.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})).json()
    assert (await browser.post("/v1/auth/refresh", json={"refresh_token": own["refresh_token"]})).status_code == 200


async def test_the_mfa_step_takes_only_the_challenge_of_the_requests_own_login(browser: httpx.AsyncClient,
                                                                            security: Any) -> None:
    import time

    await make_user(browser, security, "bob", tenant="b")
    secret_b = await enable_mfa(browser, "bob", "b")
    await make_user(browser, security, "alice", tenant="a")
    secret_a = await enable_mfa(browser, "alice", "a")
    client = await register(browser, security, trusted=True, tenant="a")
    verifier = generate_token(48)
    url = "/v1/auth/oidc/authorize?" + str(httpx.QueryParams(authorize_params(client["client_id"], verifier)))
    page = await browser.get(url)
    _, hidden = form_of(page)
    mfa = "/v1/auth/oidc/authorize/mfa"
    # a tenant-B user's challenge from the plain login, posted into tenant A's client's authorization
    theirs = (await browser.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD,
                                                         "tenant": "b"})).json()
    assert theirs["mfa_required"]
    r = await browser.post(mfa, data={**hidden, "challenge": theirs["challenge"],
                                      "code": totp.code_at(secret_b, time.time() + 30)})
    assert "location" not in r.headers
    assert_problem(r, 403, "oidc-challenge-mismatch")
    assert [d for d in await denials(security, "oidc-challenge-mismatch")
            if d.get("subject") == "oidc-client:" + client["client_id"]]
    # a right-tenant user's challenge that did not come from this request's login form is refused too
    own = (await browser.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD,
                                                      "tenant": "a"})).json()
    r = await browser.post(mfa, data={**hidden, "challenge": own["challenge"],
                                      "code": totp.code_at(secret_a, time.time() + 30)})
    assert_problem(r, 403, "oidc-challenge-mismatch")
    # the request's own login and its challenge work, and the ID token names the tenant
    r = await log_in(browser, url)
    action, hidden = form_of(r)
    done = await browser.post(action, data={**hidden, "code": totp.code_at(secret_a, time.time() + 30)})
    assert done.status_code == 303, done.text
    tokens = (await exchange(browser, client, query(done.headers["location"])["code"], verifier)).json()
    keys = KeySet.import_key_set((await browser.get("/v1/auth/oidc/jwks")).json())
    assert jwt.decode(tokens["id_token"], keys).claims["tenant"] == "a"


async def test_a_user_of_another_tenant_is_refused_at_login_and_at_the_code_grant(
        browser: httpx.AsyncClient, security: Any, auth: Any) -> None:
    import uuid

    from aria_actors.auth import credentials, store
    from aria_actors.auth import provider_store as pstore
    from aria_actors.auth.provider_errors import OidcTenantMismatch

    await make_user(browser, security, "bob", tenant="b")
    client = await register(browser, security, trusted=True, tenant="a")
    verifier = generate_token(48)
    page = await browser.get("/v1/auth/oidc/authorize", params=authorize_params(client["client_id"], verifier))
    _, hidden = form_of(page)
    # the login form finds users of the client's tenant only
    r = await browser.post("/v1/auth/oidc/authorize/login", data={**hidden, "username": "bob", "password": PASSWORD})
    assert r.status_code == 401 and "location" not in r.headers
    # a session of tenant B's user handed to tenant A's request (what a wrongly bound step would do) is refused
    tokens = await auth.login(Principal.anonymous(), "bob", PASSWORD, tenant="b")
    row, found = await auth._oidc_checked(hidden["request"], hidden["csrf"], hidden["csrf"])
    with pytest.raises(OidcTenantMismatch):
        await auth._oidc_logged_in(row, found, hidden["csrf"], tokens)
    async with auth._acquire() as conn:
        assert (await store.session(conn, uuid.UUID(tokens["session_id"])))["revoked_at"] is not None
    assert await denials(security, "oidc-tenant-mismatch")
    # a code for tenant B's user issued to tenant A's client is refused at the token endpoint
    tokens = await auth.login(Principal.anonymous(), "bob", PASSWORD, tenant="b")
    code = credentials.new_secret("aria_ac_")
    async with auth._acquire() as conn:
        await pstore.insert_code(conn, credentials.digest(code), {
            "client_id": uuid.UUID(client["client_id"]), "session_id": uuid.UUID(tokens["session_id"]),
            "redirect_uri": CALLBACK, "scopes": ["openid"], "nonce": None,
            "code_challenge": create_s256_code_challenge(verifier)}, 60)
    r = await exchange(browser, client, code, verifier)
    assert assert_problem(r, 403, "oidc-tenant-mismatch")["error"] == "invalid_grant"
    assert "access_token" not in r.json()


async def test_a_refusal_for_a_client_id_with_control_characters_is_still_audited(
        browser: httpx.AsyncClient, security: Any) -> None:
    marker = generate_token(12)
    r = await browser.get("/v1/auth/oidc/authorize",
                          params={"client_id": f"\x01{marker}\x7f", "redirect_uri": CALLBACK})
    assert_problem(r, 400, "oidc-unknown-client")
    subjects = [d.get("subject") for d in await denials(security, "oidc-unknown-client")]
    assert f"oidc-client:?{marker}?" in subjects


async def test_logout_without_a_valid_recent_hint_asks_the_user_first(browser: httpx.AsyncClient, security: Any,
                                                                       auth: Any) -> None:
    import time

    await make_user(browser, security)
    client = await register(browser, security, trusted=True)
    verifier = generate_token(48)
    code, _ = await code_for(browser, client["client_id"], verifier)
    tokens = (await exchange(browser, client, code, verifier)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    keys = KeySet.import_key_set((await browser.get("/v1/auth/oidc/jwks")).json())
    claims = jwt.decode(tokens["id_token"], keys).claims
    key = await auth._oidc_signing_key()
    old = int(time.time()) - 2 * 86400  # signed by the provider, but issued two days ago
    stale = jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "iat": old, "exp": old + 300}, key,
                       algorithms=["RS256"])
    params = {"id_token_hint": stale, "post_logout_redirect_uri": AFTER_LOGOUT, "state": "s-1"}
    page = await browser.get("/v1/auth/oidc/logout", params=params)
    assert page.status_code == 200 and "Sign out?" in page.text and "location" not in page.headers
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).status_code == 200  # nothing ended yet
    action, hidden = form_of(page)
    assert action.endswith("/v1/auth/oidc/logout/confirm")
    # a cross-site post (no cookie) or a forged token is refused
    async with httpx.AsyncClient(transport=browser._transport, base_url=browser.base_url) as other:
        assert_problem(await other.post(action, data=hidden), 403, "oidc-csrf")
    assert_problem(await browser.post(action, data={**hidden, "csrf": "forged"}), 403, "oidc-csrf")
    assert (await browser.get("/v1/auth/oidc/userinfo", headers=bearer)).status_code == 200
    done = await browser.post(action, data=hidden)
    assert done.status_code == 303 and done.headers["location"] == AFTER_LOGOUT + "?state=s-1"
    assert_problem(await browser.get("/v1/auth/oidc/userinfo", headers=bearer), 401, "oidc-invalid-token")
    assert_problem(await browser.post(action, data=hidden), 400, "oidc-request-expired")
    # a hint whose signature does not verify is refused; none at all asks, and ends nothing
    forged = stale[:-6] + ("AAAAAA" if not stale.endswith("AAAAAA") else "BBBBBB")
    assert_problem(await browser.get("/v1/auth/oidc/logout", params={"id_token_hint": forged}), 401,
                   "oidc-invalid-token")
    page = await browser.get("/v1/auth/oidc/logout", params={"client_id": client["client_id"],
                                                             "post_logout_redirect_uri": AFTER_LOGOUT})
    action, hidden = form_of(page)
    assert (await browser.post(action, data=hidden)).headers["location"] == AFTER_LOGOUT
    # without a client named, no redirect URI is taken
    r = await browser.get("/v1/auth/oidc/logout", params={"post_logout_redirect_uri": AFTER_LOGOUT})
    assert_problem(r, 400, "oidc-invalid-redirect-uri")


async def test_a_default_tenant_client_administrator_manages_default_tenant_clients_only(
        browser: httpx.AsyncClient, security: Any, auth: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aria_actors.auth import access
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.rpc import Gate
    from aria_actors.security.rbac import DEFAULT_ROLES

    # a role with the client permissions scoped to its holder's tenant (@tenant, not @any)
    gate = Gate({**DEFAULT_ROLES, "oidc-admin": ("auth:oidc-client:*",)})
    monkeypatch.setattr(access, "gate", lambda: gate)
    default_admin = Principal(subject="oidc-admin-0", roles=("oidc-admin",))
    made = await auth.oidc_create_client(default_admin, "default app", [CALLBACK])
    assert made["tenant"] == ""
    assert [c["client_id"] for c in await auth.oidc_list_clients(default_admin)] == [made["client_id"]]
    assert [c["client_id"] for c in await auth.oidc_list_clients(default_admin, "")] == [made["client_id"]]
    with pytest.raises(Forbidden):
        await auth.oidc_create_client(default_admin, "other tenant app", [CALLBACK], tenant="x")
    # a tenant-x administrator reaches neither the default tenant's clients nor registers one there
    x_admin = Principal(subject="oidc-admin-x", roles=("oidc-admin",), tenant="x")
    with pytest.raises(Forbidden):
        await auth.oidc_create_client(x_admin, "sneaky", [CALLBACK])
    with pytest.raises(Forbidden):
        await auth.oidc_list_clients(x_admin, "")
    with pytest.raises(Forbidden):
        await auth.oidc_delete_client(x_admin, made["client_id"])
    x_made = await auth.oidc_create_client(x_admin, "x app", [CALLBACK], tenant="x")
    assert [c["client_id"] for c in await auth.oidc_list_clients(x_admin)] == [x_made["client_id"]]
    await auth.oidc_delete_client(default_admin, made["client_id"])
    assert await auth.oidc_list_clients(default_admin) == []
