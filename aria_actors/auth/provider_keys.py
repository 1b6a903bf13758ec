"""ID-token signing for the OpenID provider, Ray-free: RS256 keys (joserfc), signing, and reading
back an ``id_token_hint``.

Guarantees and caveats
----------------------
- RS256 because OpenID Connect Core 15.1 makes it the one algorithm every relying party must
  accept (Aria's own access tokens are EdDSA, which many RP libraries refuse).
- The private key is generated here and stored only wrapped by aria_security's transit key
  (the service does that); only public keys are published (``jwks_uri``).
- :func:`read_hint` checks the signature against the published keys and the issuer, not the
  expiry: OIDC RP-Initiated Logout accepts an expired ID token as a hint. Whether a hint is recent
  enough to end a session without asking the user is :func:`issued_within` (its ``iat``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

ALG = "RS256"
MAX_HINT_CHARS = 8192


def generate() -> tuple[str, str, dict[str, Any]]:
    """A new key: ``(kid, private JWK as JSON, public JWK)`` (2048-bit RSA; slow: run in a thread)."""
    kid = "aria-oidc-" + secrets.token_hex(8)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": ALG}, private=True)
    return kid, json.dumps(key.as_dict(private=True)), key.as_dict(private=False)


def private_key(jwk_json: str | bytes) -> RSAKey:
    return RSAKey.import_key(json.loads(jwk_json))


def jwks(public_jwks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"keys": [dict(k) for k in public_jwks]}


def half_hash(value: str) -> str:
    """OIDC Core 3.1.3.6's ``at_hash``: the left half of SHA-256 (RS256), base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def sign(key: RSAKey, claims: Mapping[str, Any], ttl_s: int) -> str:
    now = int(time.time())
    payload = {**claims, "iat": now, "exp": now + ttl_s}
    return jwt.encode({"alg": ALG, "typ": "JWT", "kid": key.kid}, payload, key, algorithms=[ALG])


def read_hint(token: str, public_jwks: Sequence[Mapping[str, Any]], issuer: str) -> dict[str, Any] | None:
    """The claims of an ID token this provider signed (expired or not), else None."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_HINT_CHARS or not public_jwks:
        return None
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(jwks(public_jwks)), algorithms=[ALG])
    except (JoseError, ValueError, TypeError):
        return None
    claims = dict(decoded.claims)
    if claims.get("iss") != issuer or not isinstance(claims.get("sub"), str):
        return None
    return claims


def issued_within(claims: Mapping[str, Any], max_age_s: int, now: float | None = None) -> bool:
    """Whether ``claims`` (of a verified token) were issued at most ``max_age_s`` ago, and not
    later than now (a minute of clock skew allowed)."""
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        return False
    now = time.time() if now is None else now
    return now - max_age_s <= iat <= now + 60
