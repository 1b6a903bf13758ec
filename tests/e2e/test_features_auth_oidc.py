"""Aria as an OpenID Connect provider through the gateway of a running `aria up` (the shared one):
the CLI registers a client, authlib's OAuth 2.0 client logs a user in with code + PKCE through the
HTML login form, verifies the ID token against the published keys, calls userinfo, refreshes and
logs out. Each protection on its own is tested through the gateway app in
tests/integration/auth/test_provider_api.py."""

from __future__ import annotations

import html
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.fixtures.aria_up import RunningAria

PASSWORD = "e2e oidc passphrase"
CALLBACK = "http://127.0.0.1:9/callback"
AFTER_LOGOUT = "http://127.0.0.1:9/bye"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]*)">')


def _form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    action = _ACTION.search(page.text)
    assert action, page.text
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in _HIDDEN.findall(page.text)}


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_relying_party_logs_a_user_in_with_code_and_pkce(shared_aria: RunningAria) -> None:
    admin = {"Authorization": f"Bearer {shared_aria.token()}"}
    name = f"e2e-oidc-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=shared_aria.url, timeout=60) as browser:
        r = browser.post("/v1/auth/users", headers=admin, json={"username": name, "password": PASSWORD,
                                                                "email": f"{name}@example.org"})
        assert r.status_code == 201, r.text
        user = r.json()
        added = shared_aria.aria("auth", "oidc", "clients", "add", f"{name}-app", "--redirect-uri", CALLBACK,
                                 "--post-logout-uri", AFTER_LOGOUT, env={"ARIA_TOKEN": shared_aria.token()})
        assert added.returncode == 0, added.stdout + added.stderr
        client = json.loads(added.stdout)
        listed = shared_aria.aria("auth", "oidc", "clients", "ls", env={"ARIA_TOKEN": shared_aria.token()})
        assert client["client_id"] in listed.stdout.replace("\n", "") or f"{name}-app" in listed.stdout

        meta = browser.get("/v1/auth/oidc/.well-known/openid-configuration").json()
        OpenIDProviderMetadata(meta).validate()
        assert meta["issuer"] == shared_aria.url + "/v1/auth/oidc"

        with OAuth2Client(client["client_id"], client["client_secret"], scope="openid profile email",
                          redirect_uri=CALLBACK, code_challenge_method="S256", timeout=60) as rp:
            verifier, nonce = generate_token(48), generate_token(16)
            url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                     nonce=nonce)
            page = browser.get(url)
            assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY", page.text
            action, hidden = _form(page)
            consent = browser.post(action, data={**hidden, "username": name, "password": PASSWORD})
            assert "Allow access?" in consent.text, consent.text
            action, hidden = _form(consent)
            # the consent form without its CSRF token is refused
            forged = browser.post(action, data={"request": hidden["request"], "decision": "allow"})
            assert forged.status_code == 403 and forged.json()["type"].endswith("/oidc-csrf")
            back = browser.post(action, data={**hidden, "decision": "allow"})
            assert back.status_code == 303, back.text
            location = back.headers["location"]
            assert location.startswith(CALLBACK) and _query(location)["state"] == state

            token = rp.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
            keys = KeySet.import_key_set(browser.get(meta["jwks_uri"].removeprefix(shared_aria.url)).json())
            claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                                  aud={"essential": True, "value": client["client_id"]},
                                  nonce={"essential": True, "value": nonce}).validate(claims)
            assert claims["sub"] == user["id"]

            replay = browser.post("/v1/auth/oidc/token", auth=(client["client_id"], client["client_secret"]), data={
                "grant_type": "authorization_code", "code": _query(location)["code"], "redirect_uri": CALLBACK,
                "code_verifier": verifier})
            assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
            # the replay revoked what the code gave: log in again for the rest
            verifier = generate_token(48)
            url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
            action, hidden = _form(browser.get(url))
            action, hidden = _form(browser.post(action, data={**hidden, "username": name, "password": PASSWORD}))
            location = browser.post(action, data={**hidden, "decision": "allow"}).headers["location"]
            token = rp.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)

            info = browser.get("/v1/auth/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
            assert info.status_code == 200, info.text
            assert info.json()["sub"] == user["id"] and info.json()["email"] == f"{name}@example.org"
            refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
            assert refreshed["refresh_token"] != token["refresh_token"]

            out = browser.get("/v1/auth/oidc/logout", params={
                "id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT, "state": "s1"})
            assert out.status_code == 302 and out.headers["location"] == AFTER_LOGOUT + "?state=s1"
            gone = browser.get("/v1/auth/oidc/userinfo",
                               headers={"Authorization": f"Bearer {refreshed['access_token']}"})
            assert gone.status_code == 401

        removed = shared_aria.aria("auth", "oidc", "clients", "rm", client["client_id"],
                                   env={"ARIA_TOKEN": shared_aria.token()})
        assert removed.returncode == 0, removed.stdout + removed.stderr


@pytest.mark.parametrize("redirect_uri", [CALLBACK + "/", "https://evil.example/callback"])
def test_an_unregistered_redirect_uri_is_refused_without_a_redirect(shared_aria: RunningAria,
                                                                   redirect_uri: str) -> None:
    admin = {"Authorization": f"Bearer {shared_aria.token()}"}
    with httpx.Client(base_url=shared_aria.url, timeout=60) as browser:
        client = browser.post("/v1/auth/oidc/clients", headers=admin, json={
            "name": f"e2e-oidc-{uuid.uuid4().hex[:8]}", "redirect_uris": [CALLBACK]}).json()
        r = browser.get("/v1/auth/oidc/authorize", params={
            "response_type": "code", "client_id": client["client_id"], "redirect_uri": redirect_uri,
            "scope": "openid", "code_challenge": "x" * 43, "code_challenge_method": "S256"})
        assert r.status_code == 400 and "location" not in r.headers
        assert r.json()["type"].endswith("/oidc-invalid-redirect-uri")
