"""JWT verification and the rotation overlap, with local Ed25519 keys (no OpenBao)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aria_actors.security.errors import InvalidToken
from aria_actors.security.tokens import JwtVerifier, b64url, jwks_from_transit, parse_time


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def make(key, kid="aria-jwt:v1", alg="EdDSA", **claims) -> str:
    now = int(time.time())
    payload = {"iss": "aria", "sub": "u", "iat": now, "nbf": now, "exp": now + 60, **claims}
    head = b64url(json.dumps({"alg": alg, "kid": kid}).encode())
    body = b64url(json.dumps(payload).encode())
    return f"{head}.{body}.{b64url(key.sign(f'{head}.{body}'.encode()))}"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def verifier(key) -> JwtVerifier:
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "aria-jwt:v1", "x": b64url(_raw(key))}]}
    return JwtVerifier(jwks)


def test_valid(verifier, key) -> None:
    assert verifier.verify(make(key, role="x"))["role"] == "x"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!!.e30.x", "e30.e30.", "W10.e30.AA", 5])
def test_malformed(verifier, token) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_wrong_alg_unknown_kid_wrong_key_wrong_issuer(verifier, key) -> None:
    with pytest.raises(InvalidToken, match="EdDSA"):
        verifier.verify(make(key, alg="HS256"))
    with pytest.raises(InvalidToken, match="unknown"):
        verifier.verify(make(key, kid="aria-jwt:v9"))
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(make(Ed25519PrivateKey.generate()))
    with pytest.raises(InvalidToken, match="issuer"):
        verifier.verify(make(key, iss="evil"))


def test_time_checks(verifier, key) -> None:
    now = time.time()
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(make(key, exp=int(now) - 60))
    with pytest.raises(InvalidToken, match="not valid yet"):
        verifier.verify(make(key, nbf=int(now) + 60))
    assert verifier.verify(make(key, exp=int(now) - 2))  # within the 5 s leeway
    with pytest.raises(InvalidToken, match="numeric"):
        verifier.verify(make(key, exp="never"))


def test_jwks_overlap_window() -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    t0 = 1_800_000_000.0
    transit = {"latest_version": 3, "keys": {
        str(i + 1): {"public_key": base64.b64encode(_raw(k)).decode(),
                     "creation_time": time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z",
                                                    time.gmtime(t0 + i * 1000))}
        for i, k in enumerate(keys)}}
    kids = lambda now: [k["kid"] for k in jwks_from_transit("j", transit, 600, now)["keys"]]  # noqa: E731
    # v3 created at t0+2000: v2 stays until t0+2600; v1 retired at t0+1000, gone after t0+1600
    assert kids(t0 + 2100) == ["j:v3", "j:v2"]
    assert kids(t0 + 2700) == ["j:v3"]
    assert kids(t0 + 1500) == ["j:v3", "j:v2", "j:v1"]


def test_parse_time() -> None:
    assert parse_time("2026-01-01T00:00:00Z") == parse_time("2026-01-01T01:00:00+01:00")
    assert parse_time("2026-01-01T00:00:00.999999999Z") - parse_time("2026-01-01T00:00:00Z") == \
        pytest.approx(0.999999, abs=1e-6)
    with pytest.raises(ValueError):
        parse_time("yesterday")


# -- every malformed token is InvalidToken (401), never a TypeError/ValueError/500 ---------------
NOW = int(time.time())
# Valid long enough that a test collected early in a long run still meets an unexpired token.
LIFE = 24 * 3600
GOOD_HEAD = {"alg": "EdDSA", "kid": "aria-jwt:v1"}
GOOD_BODY = {"iss": "aria", "sub": "u", "iat": NOW, "nbf": NOW, "exp": NOW + LIFE}


def _part(value) -> str:
    """A JOSE part: a dict/list/... as JSON, str as raw JSON text, bytes as they are."""
    if isinstance(value, bytes):
        return b64url(value)
    return b64url((value if isinstance(value, str) else json.dumps(value)).encode())


def signed(key, head=GOOD_HEAD, body=GOOD_BODY) -> str:
    signing_input = f"{_part(head)}.{_part(body)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def _body(**changes) -> dict:
    out = {**GOOD_BODY, **changes}
    return {k: v for k, v in out.items() if v is not _DROP}


_DROP = object()

MALFORMED_HEADERS = {
    "kid-list": {"alg": "EdDSA", "kid": [1]},
    "kid-dict": {"alg": "EdDSA", "kid": {"a": 1}},
    "kid-int": {"alg": "EdDSA", "kid": 5},
    "kid-null": {"alg": "EdDSA", "kid": None},
    "kid-bool": {"alg": "EdDSA", "kid": True},
    "kid-empty": {"alg": "EdDSA", "kid": ""},
    "kid-missing": {"alg": "EdDSA"},
    "kid-huge": {"alg": "EdDSA", "kid": "k" * 5000},
    "alg-list": {"alg": ["EdDSA"], "kid": "aria-jwt:v1"},
    "alg-dict": {"alg": {"EdDSA": 1}, "kid": "aria-jwt:v1"},
    "alg-int": {"alg": 1, "kid": "aria-jwt:v1"},
    "alg-null": {"alg": None, "kid": "aria-jwt:v1"},
    "alg-none": {"alg": "none", "kid": "aria-jwt:v1"},
    "alg-hs256": {"alg": "HS256", "kid": "aria-jwt:v1"},
    "alg-case": {"alg": "eddsa", "kid": "aria-jwt:v1"},
    "crit": {"alg": "EdDSA", "kid": "aria-jwt:v1", "crit": ["exp"]},
    "header-list": [1, 2],
    "header-int": 7,
    "header-string": "EdDSA",
    "header-null": None,
    "header-dup-alg": '{"alg":"none","alg":"EdDSA","kid":"aria-jwt:v1"}',
    "header-nan": '{"alg":"EdDSA","kid":NaN}',
    "header-infinity": '{"alg":"EdDSA","kid":"aria-jwt:v1","x":-Infinity}',
    "header-deep": "[" * 3000,
    "header-huge-int": '{"alg":"EdDSA","kid":' + "9" * 5000 + "}",
    "header-not-utf8": b"\xff\xfe\xfd",
    "header-utf16": '{"alg":"EdDSA","kid":"aria-jwt:v1"}'.encode("utf-16"),
    "header-not-json": "not json",
}

MALFORMED_BODIES = {
    "body-list": [1],
    "body-int": 3,
    "body-null": None,
    "body-string": "claims",
    "body-deep": '{"a":' * 2000 + "1" + "}" * 2000,
    "body-not-utf8": b"\xc3\x28",
    "body-dup-exp": f'{{"iss":"aria","sub":"u","exp":0,"exp":{NOW + LIFE}}}',
    "exp-missing": _body(exp=_DROP),
    "exp-string": _body(exp="never"),
    "exp-list": _body(exp=[NOW + LIFE]),
    "exp-dict": _body(exp={}),
    "exp-bool": _body(exp=True),
    "exp-null": _body(exp=None),
    "exp-nan": json.dumps(GOOD_BODY).replace(f'"exp": {NOW + LIFE}', '"exp": NaN'),
    "exp-infinity": json.dumps(GOOD_BODY).replace(f'"exp": {NOW + LIFE}', '"exp": Infinity'),
    "exp-1e400": json.dumps(GOOD_BODY).replace(f'"exp": {NOW + LIFE}', '"exp": 1e400'),
    "exp-huge-int": _body(exp=10**40),
    "exp-over-4300-digits": json.dumps(GOOD_BODY).replace(f'"exp": {NOW + LIFE}', '"exp": ' + "9" * 5000),
    "exp-negative": _body(exp=-1),
    "nbf-string": _body(nbf="now"),
    "nbf-dict": _body(nbf={"a": 1}),
    "nbf-huge": _body(nbf=10**30),
    "iat-string": _body(iat="then"),
    "iat-list": _body(iat=[]),
    "sub-missing": _body(sub=_DROP),
    "sub-int": _body(sub=5),
    "sub-list": _body(sub=["u"]),
    "sub-dict": _body(sub={"a": 1}),
    "sub-empty": _body(sub=""),
    "sub-null": _body(sub=None),
    "iss-list": _body(iss=["aria"]),
    "iss-dict": _body(iss={"a": 1}),
    "iss-missing": _body(iss=_DROP),
    "roles-int": _body(roles=5),
    "roles-nested": _body(roles=[[1]]),
    "roles-dict": _body(roles={"a": 1}),
    "roles-mixed": _body(roles=["user", 1]),
    "tenant-int": _body(tenant=5),
    "tenant-list": _body(tenant=["t1"]),
    "sid-int": _body(sid=1),
    "svc-dict": _body(svc={}),
    "client-id-list": _body(client_id=[]),
    "aud-int": _body(aud=5),
    "aud-nested": _body(aud=[["x"]]),
}


@pytest.mark.parametrize("head", MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
def test_every_malformed_header_is_invalid_token(verifier, key, head) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(signed(key, head=head))
    assert "kid" not in refused.value.fields or isinstance(refused.value.fields["kid"], str)
    json.dumps(refused.value.problem(), allow_nan=False)  # renders as problem+json


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_every_malformed_payload_is_invalid_token(verifier, key, body) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(signed(key, body=body))  # validly signed: only the claims are wrong
    json.dumps(refused.value.problem(), allow_nan=False)


@pytest.mark.parametrize("token", [
    None, b"a.b.c", ["a", "b", "c"], {"a": 1}, 1.5, "..", "a" * 20000 + ".b.c",
    "é.e30.AA", "e30.é.AA", "eyJhbGciOiJFZERTQSJ9.e30.é", "a.e30.AA", "e30.e30.a",
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImFyaWEtand0OnYxIn0.e30.%%%",
])
def test_malformed_compact_forms_are_invalid_token(verifier, token) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_a_kid_that_is_not_a_string_is_no_reason_to_refetch_keys(verifier, key) -> None:
    """The gateway refetches the JWKS only for an unknown string kid (a rotation)."""
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(signed(key, head={"alg": "EdDSA", "kid": [1]}))
    assert "kid" not in refused.value.fields


def test_malformed_jwks_entries_are_skipped(key) -> None:
    good = {"kty": "OKP", "crv": "Ed25519", "kid": "aria-jwt:v1", "x": b64url(_raw(key))}
    verifier = JwtVerifier({"keys": [5, {"kty": "OKP", "crv": "Ed25519", "kid": [1], "x": "AA"},
                                     {"kty": "OKP", "crv": "Ed25519", "kid": "k2", "x": "AA"}, good]})
    assert verifier.kids == ("aria-jwt:v1",)
    assert verifier.verify(signed(key))["sub"] == "u"
    assert JwtVerifier([]).kids == () and JwtVerifier({"keys": 5}).kids == ()


@pytest.mark.parametrize("claims", [{"tenant": 5}, {"roles": [[1]]}, {"sid": {}}, {"aud": 5},
                                    {"svc": ["aria_x"]}, {"client_id": 1}])
def test_aria_never_signs_a_token_its_verifier_would_refuse(claims) -> None:
    from aria_actors.security.errors import InvalidSecretPath
    from aria_actors.security.tokens import signing_input_for

    with pytest.raises(InvalidSecretPath):
        signing_input_for("aria-jwt:v1", "aria", "u", claims, 60, 60, 3600)


def test_valid_tokens_with_every_claim_type_still_verify(verifier, key) -> None:
    body = _body(roles=["user"], tenant="t1", sid="s", svc=None, client_id="c", aud=["a", "b"],
                 name="n", amr=["pwd"], nbf=float(NOW), extra={"any": [1, {"x": None}]})
    assert verifier.verify(signed(key, body=body))["roles"] == ["user"]
    assert verifier.verify(signed(key, body=_body(roles="admin", aud="x")))["roles"] == "admin"
