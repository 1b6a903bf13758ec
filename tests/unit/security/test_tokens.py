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
