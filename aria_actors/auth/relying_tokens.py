"""ID-token verification and the account fields taken from its claims: Ray-free, no network.

:func:`verify_id_token` checks an ID token (OpenID Connect Core 3.1.3.7) against the keys and
values the relying party holds, with joserfc for the JWS part, and raises
:class:`~aria_actors.auth.relying_errors.SsoInvalidIdToken` with a ``reason``:

``malformed``     not a compact JWS of a JSON object (a JWE, garbage, too long)
``algorithm``     ``alg`` missing, ``none``, or not in the provider's allow-list
``unknown-key``   no key of the provider's JWKS fits the header (``kid``, key type)
``signature``     the signature does not verify with the provider's key
``issuer``        ``iss`` is not exactly the configured issuer
``audience``      ``aud`` does not contain the client id, or ``azp`` names another client
``expired``       ``exp`` passed (more than the leeway ago), or is missing
``issued-in-future`` / ``not-yet-valid``   ``iat`` / ``nbf`` ahead of the clock by more than the leeway
``subject``       ``sub`` missing or not a 1-255 character string
``nonce``         ``nonce`` is not the one sent with this login

Guarantees and caveats
----------------------
- The algorithm is taken from the allow-list, never trusted from the header alone: the header's
  ``alg`` must be in the list and is the only one joserfc may use for this token.
- Keys marked ``use: enc`` are never used to verify.
- The nonce is checked apart (:func:`check_nonce`, in constant time), after the caller's replay
  check.
- Replay (the same token twice) is the caller's business: :func:`replay_key` names a token by
  issuer and ``jti`` (or its nonce, which is unique per login, when there is no ``jti``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from aria_actors.auth import users as fields
from aria_actors.auth.errors import InvalidUser
from aria_actors.auth.relying_errors import SsoInvalidIdToken

MAX_TOKEN_CHARS = 16384
MAX_KEYS = 64
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC"}  # by the algorithm's first letters; else OKP
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def _refuse(reason: str, detail: str) -> SsoInvalidIdToken:
    return SsoInvalidIdToken(f"the ID token was refused: {detail}", reason=reason)


def _header(token: object) -> dict[str, Any]:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise _refuse("malformed", f"it must be a string of 1-{MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.match(p) for p in parts):
        raise _refuse("malformed", "it is not a compact JWS (three base64url parts)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _refuse("malformed", "its header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise _refuse("malformed", "its header is not a JSON object")
    return header


def key_set(jwks: Mapping[str, Any]) -> KeySet:
    """The provider's verification keys (``use: enc`` keys left out); ``unknown-key`` if none fit."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise _refuse("unknown-key", "the provider's JWKS holds no keys")
    usable = [k for k in keys[:MAX_KEYS] if isinstance(k, dict) and k.get("use", "sig") == "sig"
              and not any(k.get(p) is not None for p in ("d", "p", "q", "k"))]  # public keys only
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError, KeyError):
        raise _refuse("unknown-key", "the provider's JWKS holds no usable signing key") from None


def verify_id_token(token: str, jwks: Mapping[str, Any], *, issuer: str, client_id: str,
                    algorithms: Collection[str], leeway_s: int = 60, now: float | None = None) -> dict[str, Any]:
    """The ID token's claims once every check of the module's list but the nonce passes.

    The caller checks the nonce with :func:`check_nonce`, after its replay check (so a token
    presented twice is named a replay whichever login it is presented to).
    """
    header = _header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in algorithms:
        raise _refuse("algorithm", f"its algorithm {str(alg)[:16]!r} is not accepted (accepted: "
                      f"{', '.join(sorted(algorithms))})")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _refuse("malformed", "its key id (kid) is not a string")
    kty = _KTY.get(alg[:2], "OKP")
    candidates = [k for k in key_set(jwks).keys if k.key_type == kty and (kid is None or k.kid == kid)]
    if not candidates:
        raise _refuse("unknown-key", "no key of the provider's JWKS fits its header (kid, key type)")
    claims: dict[str, Any] | None = None
    for key in candidates:  # a kid names one; without one, each key of the right type is tried
        try:
            claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
            break
        except BadSignatureError:
            continue
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _refuse("malformed", f"it cannot be verified ({type(exc).__name__})") from None
    if claims is None:
        raise _refuse("signature", "its signature does not verify with the provider's keys")
    check_claims(claims, issuer=issuer, client_id=client_id, leeway_s=leeway_s, now=now)
    return claims


def check_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, leeway_s: int = 60,
                 now: float | None = None) -> None:
    """The claim checks of :func:`verify_id_token` (after the signature)."""
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise _refuse("issuer", f"its issuer {str(claims.get('iss'))[:200]!r} is not {issuer!r}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise _refuse("audience", "it is not meant for this client (aud)")
    azp = claims.get("azp")
    if (azp is not None and azp != client_id) or (len(audiences) > 1 and azp is None):
        raise _refuse("audience", "its authorized party (azp) is not this client")
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if not _number(exp) or exp <= now - leeway_s:
        raise _refuse("expired", "it has expired" if _number(exp) else "it has no expiry (exp)")
    if not _number(iat) or iat > now + leeway_s:
        raise _refuse("issued-in-future", "its issue time (iat) is missing or in the future")
    if nbf is not None and (not _number(nbf) or nbf > now + leeway_s):
        raise _refuse("not-yet-valid", "it is not valid yet (nbf)")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not sub.isprintable():
        raise _refuse("subject", "its subject (sub) is missing or not 1-255 printable characters")


def check_nonce(claims: Mapping[str, Any], nonce: str) -> None:
    """Refuse unless the ID token carries the nonce sent with this login (constant-time compare)."""
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise _refuse("nonce", "its nonce is not the one sent with this login")


def _number(value: object) -> bool:
    # finite: Python's JSON reads NaN and Infinity, and NaN compares false with everything
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def replay_key(claims: Mapping[str, Any]) -> bytes:
    """What names one ID token for the replay check: its issuer and ``jti``, else its nonce."""
    jti = claims.get("jti")
    unique = f"jti:{jti}" if isinstance(jti, str) and jti else f"nonce:{claims.get('nonce')}"
    return hashlib.sha256(f"{claims.get('iss')}\x00{unique}".encode()).digest()


# -- account fields from claims -------------------------------------------------------------------
def username_base(claims: Mapping[str, Any], fallback: str) -> str:
    """A username for a new user: ``preferred_username``, else the email, else ``fallback``;
    characters a username cannot hold become ``-`` (short enough to take a ``-N`` suffix)."""
    for key in ("preferred_username", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            cleaned = _UNSAFE.sub("-", value)[:56].strip("-._@+")
            if len(cleaned) >= 2 and fields.USERNAME.match(cleaned):
                return cleaned
    return fallback


def username_candidates(base: str, tries: int = 20) -> list[str]:
    """``base``, then ``base-2``, ``base-3``...: the first one free is taken."""
    return [base] + [f"{base[:56]}-{n}" for n in range(2, tries + 1)]


def email_of(claims: Mapping[str, Any]) -> str | None:
    """The claims' email when it is an address and not marked unverified (never used to link)."""
    email = claims.get("email")
    if claims.get("email_verified") is False:
        return None
    try:
        return fields.check_email(email) if isinstance(email, str) else None
    except InvalidUser:
        return None


def display_name_of(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name")
    try:
        return fields.check_display_name(name[:128]) if isinstance(name, str) and name else None
    except InvalidUser:
        return None
