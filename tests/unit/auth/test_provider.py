"""The OpenID provider's Ray-free parts: parameters, redirect URIs, scopes, PKCE, ID-token keys, pages."""

from __future__ import annotations

import base64

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from aria_actors.auth import provider_keys, provider_pages, provider_wire
from aria_actors.auth.config import AuthSettings
from aria_actors.auth.provider import OidcProvider
from aria_actors.auth.provider_errors import (
    OidcInvalidClient,
    OidcInvalidClientMetadata,
    OidcInvalidGrant,
    OidcInvalidRequest,
    OidcRedirectError,
)

VERIFIER = "v" * 43


@pytest.mark.parametrize("uri", ["https://app.example/cb", "https://app.example:8443/cb?x=1", "http://127.0.0.1:9/cb",
                                 "http://localhost/cb", "http://[::1]:8080/cb"])
def test_good_redirect_uris_are_kept_as_given(uri: str) -> None:
    assert provider_wire.check_redirect_uri(uri) == uri


@pytest.mark.parametrize("uri", ["http://app.example/cb", "https://app.example/cb#x", "ftp://app.example/cb",
                                 "/cb", "https:///cb", "https://u:p@app.example/cb", "https://app.example/a b",
                                 "javascript:alert(1)", "https://app.example:99999/cb", "", "x" * 2001, 7])
def test_bad_redirect_uris_are_refused(uri: object) -> None:
    with pytest.raises(OidcInvalidClientMetadata):
        provider_wire.check_redirect_uri(uri)


def test_redirect_uri_lists_are_bounded_and_deduplicated() -> None:
    assert provider_wire.check_redirect_uris(["https://a.example/x"] * 3) == ["https://a.example/x"]
    with pytest.raises(OidcInvalidClientMetadata):
        provider_wire.check_redirect_uris([f"https://a.example/{i}" for i in range(11)])
    with pytest.raises(OidcInvalidClientMetadata):
        provider_wire.check_redirect_uris([])
    assert provider_wire.check_redirect_uris([], required=False) == []


def test_params_refuse_repeats_and_oversize_and_drop_empty_values() -> None:
    assert provider_wire.params([("a", "1"), ("b", "")]) == {"a": "1"}
    with pytest.raises(OidcInvalidRequest):
        provider_wire.params([("a", "1"), ("a", "2")])
    with pytest.raises(OidcInvalidRequest):
        provider_wire.params([("a", "x" * 3000)])
    with pytest.raises(OidcInvalidRequest):
        provider_wire.params([(f"k{i}", "v") for i in range(31)])
    with pytest.raises(OidcInvalidRequest):
        provider_wire.form(b"a=1&" * 5000)
    assert provider_wire.form(b"a=%20x&b=y") == {"a": " x", "b": "y"}


def test_scopes_need_openid_and_stay_within_the_clients() -> None:
    allowed = ["openid", "profile"]
    assert provider_wire.requested_scopes("profile openid", allowed) == ["openid", "profile"]
    assert provider_wire.requested_scopes("profile", allowed) is None
    assert provider_wire.requested_scopes("openid email", allowed) is None
    assert provider_wire.requested_scopes("openid admin", allowed) is None
    assert provider_wire.check_scopes(["email", "openid"]) == ["openid", "email"]
    with pytest.raises(OidcInvalidClientMetadata):
        provider_wire.check_scopes(["profile"])


def test_pkce_is_s256_only_and_checked_exactly() -> None:
    challenge = create_s256_code_challenge(VERIFIER)
    assert provider_wire.check_code_challenge(challenge, "S256") == challenge
    for method in ("plain", None, "s256"):
        with pytest.raises(OidcInvalidRequest):
            provider_wire.check_code_challenge(challenge, method)
    with pytest.raises(OidcInvalidRequest):
        provider_wire.check_code_challenge(None, "S256")
    with pytest.raises(OidcInvalidRequest):
        provider_wire.check_code_challenge("short", "S256")
    provider_wire.verify_pkce(VERIFIER, challenge)
    for wrong in (None, "", "w" * 43, "v" * 42, VERIFIER + "!"):
        with pytest.raises(OidcInvalidGrant):
            provider_wire.verify_pkce(wrong, challenge)


def test_basic_credentials_are_form_decoded() -> None:
    header = "Basic " + base64.b64encode(b"a%3Ab:s%2Bc").decode()
    assert provider_wire.basic_credentials(header) == ("a:b", "s+c")
    assert provider_wire.basic_credentials("Bearer x") is None
    with pytest.raises(OidcInvalidClient):
        provider_wire.basic_credentials("Basic !!!")


def test_redirects_keep_the_uris_own_query() -> None:
    assert provider_wire.with_query("https://a.example/cb?x=1", {"code": "c d", "state": None}) \
        == "https://a.example/cb?x=1&code=c+d"
    assert provider_wire.origin("https://a.example:8443/cb?x") == "https://a.example:8443"


def test_id_tokens_verify_and_hints_check_issuer_and_signature() -> None:
    kid, private_jwk, public_jwk = provider_keys.generate()
    assert "d" not in public_jwk and public_jwk["kid"] == kid and public_jwk["alg"] == "RS256"
    key = provider_keys.private_key(private_jwk)
    token = provider_keys.sign(key, {"iss": "https://op/v1/auth/oidc", "sub": "u1", "aud": "c1"}, 60)
    claims = provider_keys.read_hint(token, [public_jwk], "https://op/v1/auth/oidc")
    assert claims is not None and claims["sub"] == "u1" and claims["exp"] - claims["iat"] == 60
    assert provider_keys.read_hint(token, [public_jwk], "https://other") is None
    assert provider_keys.read_hint(token[:-4] + "AAAA", [public_jwk], "https://op/v1/auth/oidc") is None
    assert provider_keys.read_hint("x" * 9000, [public_jwk], "https://op/v1/auth/oidc") is None
    _other_kid, _other, other_public = provider_keys.generate()
    assert provider_keys.read_hint(token, [other_public], "https://op/v1/auth/oidc") is None
    expired = provider_keys.sign(key, {"iss": "i", "sub": "u"}, 60)
    assert provider_keys.read_hint(expired, [public_jwk], "i") is not None  # a hint may have expired
    assert len(provider_keys.half_hash("token")) == 22


def test_pages_escape_everything_and_forbid_framing() -> None:
    page = {"request_id": "00000000-0000-0000-0000-000000000001", "csrf": 'c"><x', "client_name": "<b>x</b>",
            "tenant": "", "scopes": ["openid", "<img>"], "issuer": "https://op.example/base/v1/auth/oidc",
            "redirect_origin": "https://rp.example", "expires_in": 600, "challenge": "aria_mc_1"}
    for doc in (provider_pages.login(page, "<i>bad</i>"), provider_pages.consent(page), provider_pages.mfa(page)):
        assert "<b>" not in doc and "<i>" not in doc and "<img>" not in doc and 'c"><x' not in doc
        assert 'action="/base/v1/auth/oidc/authorize/' in doc
    doc = provider_pages.logout(page)
    assert "<b>" not in doc and 'c"><x' not in doc and 'action="/base/v1/auth/oidc/logout/confirm"' in doc
    response = provider_pages.respond(provider_pages.login(page), page, set_cookie=True)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"].startswith("default-src 'none'; form-action 'self' "
                                                                  "https://rp.example;")
    cookie = response.headers["set-cookie"]
    assert "aria_oidc_00000000000000000000000000000001=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Secure" in cookie and "Path=/base/v1/auth/oidc" in cookie
    assert provider_pages.cookie_name("../x") is None


class _Provider(OidcProvider):
    def __init__(self, **settings: object) -> None:
        self.config = AuthSettings(**settings)  # type: ignore[arg-type]


def test_the_issuer_comes_from_settings_only() -> None:
    assert _Provider()._issuer() == "http://127.0.0.1:8000/v1/auth/oidc"
    assert _Provider(oidc_public_url="https://aria.example/gw")._issuer() == "https://aria.example/gw/v1/auth/oidc"
    with pytest.raises(ValueError):
        AuthSettings(oidc_public_url="https://aria.example/")
    with pytest.raises(ValueError):
        AuthSettings(oidc_code_ttl_s=61)


def test_authorization_requests_are_checked_in_order() -> None:
    provider = _Provider()
    client = {"scopes": ["openid", "profile"]}
    good = {"response_type": "code", "scope": "openid", "code_challenge": create_s256_code_challenge(VERIFIER),
            "code_challenge_method": "S256", "nonce": "n"}
    assert provider._oidc_check_request(good, client) == (["openid"], "n", good["code_challenge"])
    for change, error in (({"response_type": "token"}, "unsupported_response_type"),
                          ({"scope": "openid email"}, "invalid_scope"), ({"nonce": "n" * 600}, "invalid_request"),
                          ({"prompt": "none"}, "login_required"), ({"prompt": "bogus"}, "invalid_request"),
                          ({"code_challenge_method": "plain"}, "invalid_request"),
                          ({"request": "x"}, "request_not_supported")):
        with pytest.raises(OidcRedirectError) as raised:
            provider._oidc_check_request({**good, **change}, client)
        assert raised.value.oauth_error == error


def test_a_hint_ends_a_session_without_asking_only_when_recent() -> None:
    now = 1_000_000.0
    assert provider_keys.issued_within({"iat": int(now) - 100}, 86400, now)
    assert not provider_keys.issued_within({"iat": int(now) - 86401}, 86400, now)
    assert not provider_keys.issued_within({"iat": int(now) + 3600}, 86400, now)  # from the future
    for iat in (None, "1", True, 1.5):
        assert not provider_keys.issued_within({"iat": iat}, 86400, now)
    assert not provider_keys.issued_within({}, 86400, now)


def test_a_token_an_openid_client_holds_is_not_the_users_own_session() -> None:
    from aria_actors.auth import access
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.principal import Principal

    own = Principal.from_claims({"sub": "u1", "sid": "s1", "roles": ["user"]})
    assert access.is_self(own, "u1") and access.require_session(own) == "u1"
    client = Principal.from_claims({"sub": "u1", "sid": "s1", "roles": [], "azp": "c1", "scope": "openid"})
    assert not access.is_self(client, "u1")
    with pytest.raises(Forbidden):
        access.require_session(client)
    with pytest.raises(Forbidden):
        access.require_self(client, "u1")


def test_audit_fields_from_a_request_are_made_printable() -> None:
    from aria_actors.auth.provider import _printable

    assert _printable("\x01abc\n\x7f", 64) == "?abc??"
    assert _printable("x" * 100, 64) == "x" * 64
