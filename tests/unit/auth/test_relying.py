"""The relying party's Ray-free parts: ID-token verification (tokens signed here with joserfc,
keys generated in the test), provider settings, role mapping, usernames from claims."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from aria_actors.auth.relying_errors import SsoInvalidIdToken, SsoMisconfigured, SsoProviderError
from aria_actors.auth.relying_http import check_discovery
from aria_actors.auth.relying_settings import SsoProvider, parse_providers
from aria_actors.auth.relying_tokens import (
    check_nonce,
    email_of,
    replay_key,
    username_base,
    username_candidates,
    verify_id_token,
)

ISSUER = "https://login.example.com"
CLIENT = "aria"
NOW = 1_800_000_000
RSA = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_RSA = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same kid, other key: a forgery
EC = ECKey.generate_key("P-256", parameters={"kid": "e1"})
ED = OKPKey.generate_key("Ed25519", parameters={"kid": "d1"})


def jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def claims(**over: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "alice-1", "iat": NOW - 5, "exp": NOW + 300, "nonce": "n-123"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = RSA, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, **header}, payload, key, algorithms=[alg])


def verify(token: str, keys: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    options: dict[str, Any] = dict(issuer=ISSUER, client_id=CLIENT, algorithms=("RS256", "ES256", "EdDSA"),
                                   leeway_s=60, now=NOW)
    options.update(over)
    return verify_id_token(token, keys if keys is not None else jwks(RSA, EC, ED), **options)


def refused(reason: str, token: str, keys: dict[str, Any] | None = None, **over: Any) -> None:
    with pytest.raises(SsoInvalidIdToken) as info:
        verify(token, keys, **over)
    assert info.value.fields["reason"] == reason, info.value.message
    assert info.value.status == 401 and info.value.type == "sso-invalid-id-token"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- verification ----------------------------------------------------------------------------------
def test_a_good_token_verifies_with_each_key_type() -> None:
    assert verify(sign(claims()))["sub"] == "alice-1"
    assert verify(sign(claims(), EC, "ES256"))["sub"] == "alice-1"
    assert verify(sign(claims(), ED, "EdDSA"))["sub"] == "alice-1"
    # no kid: each key of the right type is tried
    assert verify(jwt.encode({"alg": "RS256"}, claims(), RSA), jwks(OTHER_RSA, RSA))["sub"] == "alice-1"
    assert verify(sign(claims(aud=[CLIENT, "other"], azp=CLIENT)))["aud"] == [CLIENT, "other"]


def test_a_token_signed_by_another_key_is_refused() -> None:
    refused("signature", sign(claims(), OTHER_RSA))
    refused("signature", jwt.encode({"alg": "RS256"}, claims(), OTHER_RSA))
    refused("unknown-key", sign(claims(), RSAKey.generate_key(2048, parameters={"kid": "zz"})))
    refused("unknown-key", sign(claims()), {"keys": []})
    # a private key published by mistake is not used, nor an encryption key
    refused("unknown-key", sign(claims()), {"keys": [{**RSA.as_dict(private=False), "use": "enc"}]})


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    refused("signature", f"{header}.{b64(claims(sub='mallory'))}.{signature}")


def test_none_and_algorithms_outside_the_list_are_refused() -> None:
    unsigned = f"{b64({'alg': 'none'})}.{b64(claims())}."
    refused("algorithm", unsigned)
    refused("algorithm", f"{b64({'alg': 'NONE', 'kid': 'k1'})}.{b64(claims())}.")
    refused("algorithm", sign(claims()), algorithms=("ES256",))
    # HS256 with the public key as the secret (the classic confusion): refused by the list
    refused("algorithm", f"{b64({'alg': 'HS256', 'kid': 'k1'})}.{b64(claims())}.c2ln")
    refused("algorithm", f"{b64({'kid': 'k1'})}.{b64(claims())}.c2ln")


def test_malformed_tokens_are_refused() -> None:
    for token in ("", "abc", "a.b", "a.b.c.d.e", "!!.b.c", "x" * 20000, f"{b64({'alg': 'RS256'})}.e30"):
        refused("malformed", token)
    refused("malformed", f"{base64.urlsafe_b64encode(b'[1]').decode().rstrip('=')}.{b64(claims())}.c2ln")


def test_issuer_must_be_exact() -> None:
    refused("issuer", sign(claims(iss=ISSUER + "/")))
    refused("issuer", sign(claims(iss="https://evil.example.com")))
    refused("issuer", sign(claims(iss=None)))


def test_audience_must_name_this_client() -> None:
    refused("audience", sign(claims(aud="someone-else")))
    refused("audience", sign(claims(aud=None)))
    refused("audience", sign(claims(aud=[CLIENT, "other"])))  # several audiences: azp is needed
    refused("audience", sign(claims(azp="other")))


def test_times_are_checked_with_the_leeway() -> None:
    refused("expired", sign(claims(exp=NOW - 61)))
    assert verify(sign(claims(exp=NOW - 59)))  # within the leeway
    refused("expired", sign(claims(exp=NOW + 10)), leeway_s=0, now=NOW + 10)
    refused("expired", sign(claims(exp=None)))
    refused("expired", sign(claims(exp="soon")))
    refused("expired", sign(claims(exp=True)))
    for odd in (float("nan"), float("inf")):  # Python's JSON reads NaN and Infinity; NaN passes every comparison
        token = sign(claims(exp=odd))
        assert "NaN" in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode() or odd == float("inf")
        refused("expired", token)
    refused("issued-in-future", sign(claims(iat=NOW + 120)))
    refused("issued-in-future", sign(claims(iat=None)))
    refused("not-yet-valid", sign(claims(nbf=NOW + 120)))
    assert verify(sign(claims(nbf=NOW + 30)))


def test_subject_is_required() -> None:
    refused("subject", sign(claims(sub=None)))
    refused("subject", sign(claims(sub="")))
    refused("subject", sign(claims(sub="x" * 256)))


def test_the_nonce_must_be_the_logins() -> None:
    good = verify(sign(claims()))
    check_nonce(good, "n-123")
    for wrong in ("n-124", ""):
        with pytest.raises(SsoInvalidIdToken) as info:
            check_nonce(good, wrong)
        assert info.value.fields["reason"] == "nonce"
    with pytest.raises(SsoInvalidIdToken):
        check_nonce(verify(sign(claims(nonce=None))), "n-123")


def test_replay_key_names_a_token_by_issuer_and_jti_or_nonce() -> None:
    a = claims(jti="j1")
    assert replay_key(a) == replay_key(dict(a, exp=1))
    assert replay_key(a) != replay_key(claims(jti="j2"))
    assert replay_key(claims()) == replay_key(claims(sub="other"))  # by nonce when there is no jti
    assert replay_key(claims()) != replay_key(claims(iss="https://other.example.com"))


def test_a_real_clock_is_the_default() -> None:
    token = sign(claims(iat=int(time.time()), exp=int(time.time()) + 60))
    assert verify(token, now=None)["sub"] == "alice-1"


# -- settings, role mapping, usernames -------------------------------------------------------------
def provider(**over: Any) -> SsoProvider:
    base: dict[str, Any] = {"name": "corp", "issuer": ISSUER, "client_id": CLIENT, "jit": True,
                            "role_rules": [{"claim": "groups", "value": "aria-admins", "role": "admin"},
                                           {"claim": "dept", "value": "design", "role": "editor"},
                                           {"claim": "staff", "value": True, "role": "operator"}]}
    base.update(over)
    return SsoProvider.model_validate(base)


def test_roles_follow_the_claims_and_keep_other_grants() -> None:
    p = provider()
    assert p.roles_at_login(None, {"groups": ["x", "aria-admins"]}) == ["user", "admin"]
    assert p.roles_at_login(None, {"groups": "aria-admins", "dept": "design"}) == ["user", "admin", "editor"]
    assert p.roles_at_login(None, {"staff": 1}) == ["user"]  # True is not 1
    assert p.roles_at_login(None, {"staff": True}) == ["user", "operator"]
    # a known user: an administrator's grant (viewer) stays, a managed role no longer claimed goes
    assert p.roles_at_login(["user", "admin", "viewer"], {"groups": []}) == ["user", "viewer"]
    assert p.roles_at_login(["user"], {"dept": "design"}) == ["user", "editor"]


def test_provider_settings_are_checked() -> None:
    assert provider().discovery_url == ISSUER + "/.well-known/openid-configuration"
    assert provider(issuer="http://localhost:9400").issuer == "http://localhost:9400"
    assert provider(issuer="http://127.0.0.1:9400").issuer
    for bad in ({"issuer": "http://login.example.com"}, {"issuer": "ftp://x"}, {"issuer": "https://u:p@x.com"},
                {"name": "Bad Name"}, {"scopes": ["email"]}, {"algorithms": ["none"]},
                {"algorithms": ["HS256"]}, {"tenant": "Not A Tenant"}, {"client_secret_name": "../x"},
                {"surprise": 1}):
        with pytest.raises(ValueError):
            provider(**bad)


def test_parse_providers_names_the_wrong_setting() -> None:
    raw = [provider().model_dump()]
    assert list(parse_providers(raw, "https://aria.example.com")) == ["corp"]
    assert parse_providers([], "") == {}
    with pytest.raises(SsoMisconfigured) as info:
        parse_providers(raw, "")
    assert info.value.fields["setting"] == "sso_redirect_base"
    with pytest.raises(SsoMisconfigured):
        parse_providers(raw * 2, "https://aria.example.com")
    with pytest.raises(SsoMisconfigured) as info:
        parse_providers([{"name": "x"}], "https://aria.example.com")
    assert "sso_providers[0]" in info.value.message


def test_one_client_of_one_issuer_is_one_provider() -> None:
    corp = provider().model_dump()
    # one issuer, one client per tenant: two providers
    tenants = [corp, {**corp, "name": "acme", "client_id": "aria-acme", "tenant": "acme"}]
    assert list(parse_providers(tenants, "https://aria.example.com")) == ["corp", "acme"]
    # the same client of the same issuer (a trailing slash is the same issuer) under two names: refused
    for twin in ({**corp, "name": "acme", "tenant": "acme"}, {**corp, "name": "acme", "issuer": ISSUER + "/"}):
        with pytest.raises(SsoMisconfigured) as info:
            parse_providers([corp, twin], "https://aria.example.com")
        assert info.value.fields["setting"] == "sso_providers[1]" and "same client" in info.value.message


def test_discovery_must_name_the_configured_issuer() -> None:
    p = provider()
    good = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "/authorize", "token_endpoint": ISSUER + "/token",
            "jwks_uri": ISSUER + "/jwks"}
    check_discovery(p, good)
    for bad in ({"issuer": ISSUER + "/"}, {"issuer": "https://evil.example.com"},
                {"token_endpoint": "http://login.example.com/token"}, {"jwks_uri": None},
                {"code_challenge_methods_supported": ["plain"]}):
        with pytest.raises(SsoProviderError):
            check_discovery(p, {**good, **bad})


def test_usernames_from_claims() -> None:
    assert username_base({"preferred_username": "alice", "email": "a@example.com"}, "corp-user") == "alice"
    assert username_base({"email": "alice@example.com"}, "corp-user") == "alice@example.com"
    assert username_base({"preferred_username": "Ålice Smith!"}, "corp-user") == "lice-Smith"
    assert username_base({"preferred_username": "!!"}, "corp-user") == "corp-user"
    assert username_base({}, "corp-user") == "corp-user"
    assert username_candidates("alice", 3) == ["alice", "alice-2", "alice-3"]
    assert email_of({"email": "a@example.com"}) == "a@example.com"
    assert email_of({"email": "a@example.com", "email_verified": False}) is None
    assert email_of({"email": "not an address"}) is None
