"""Aria's own JWTs: EdDSA (Ed25519) signed by an OpenBao transit key, verified locally.

::

    issue:  header.payload --transit/sign (latest key version)--> header.payload.signature
    verify: kid -> cached Ed25519 public key (JWKS) --cryptography--> claims (iss, exp, nbf)

Guarantees and caveats
----------------------
- The private key never leaves OpenBao; signing is one transit call. Verification needs only the
  public keys (JWKS), so any process (the gateway) verifies without calling OpenBao.
- Rotation adds a key version; new tokens use it at once. The JWKS keeps a retired version for
  ``max_ttl + leeway`` after its successor was created, which covers every token it signed (a
  token never lives longer than ``max_ttl``): the overlap window. After that it is dropped.
- Only ``alg: EdDSA`` is accepted; ``none``, HMAC and anything else are refused before any key is
  looked up. Reserved claims (iss, sub, iat, nbf, exp, jti) cannot be set through ``claims``.
- Nobody mints a token stronger than itself (:func:`mintable_claims`): only the local operator
  and a service acting for itself (aria_auth signing its users' tokens) choose the subject and
  roles; the ``internal`` role is never put in a token.
- ``exp``/``nbf`` are checked with ``leeway`` seconds of clock skew.
- Any malformed token is :class:`InvalidToken` (401), never another exception: bad base64 or
  UTF-8, JSON that is not an object (or nests too deep, repeats a member, says ``NaN``), a
  ``kid``/``alg`` that is not a string, ``crit`` extensions, a ``sub`` that is not a non-empty
  string, ``exp``/``nbf``/``iat`` that are not finite seconds in 0..year 9999, ``roles``,
  ``tenant``, ``sid``, ``svc``, ``client_id``, ``aud`` of the wrong type (:func:`claim_types_problem`).
  The same claim types are checked when a token is issued, so Aria never signs one it would refuse.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets as _secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aria_actors.runtime.errors import BadRequest, Forbidden
from aria_actors.runtime.principal import INTERNAL_ROLE
from aria_actors.security.errors import InvalidSecretPath, InvalidToken, KeyNotFound

if TYPE_CHECKING:
    from aria_actors.runtime.principal import Principal

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RESERVED = frozenset({"iss", "sub", "iat", "nbf", "exp", "jti"})
# What a caller minting a token for itself may set: each only narrows the token.
SELF_CLAIMS = frozenset({"roles", "tenant", "aud"})
MAX_TOKEN_CHARS = 16384
MAX_KID_CHARS = 256
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
# Claims Aria reads (Principal.from_claims, aria_auth): a string (or null) when present.
STRING_CLAIMS = ("tenant", "sid", "svc", "client_id", "jti", "name")
# A token that breaks the parser's assumptions in any of these ways is malformed, not a 500.
_MALFORMED = (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # RFC 7515 4: a repeated header member is refused, not "last one wins"
            raise ValueError(f"repeated member {key!r}")
        out[key] = value
    return out


def _json_object(part: str, what: str) -> dict[str, Any]:
    """One base64url JSON object of a compact JWS; InvalidToken for anything else."""
    try:
        value = json.loads(b64url_decode(part).decode("utf-8"), object_pairs_hook=_unique_members,
                           parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise InvalidToken(f"token {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"token {what} is not a JSON object")
    return value


def _shown(value: Any, limit: int = 80) -> str:
    """A token's value for an error message: a string cut short, else only its JSON type."""
    return value[:limit] if isinstance(value, str) else type(value).__name__


def _is_time(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value <= MAX_TIME)


def _is_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def claim_types_problem(claims: dict[str, Any]) -> str | None:
    """What is wrong with the types of the claims Aria reads (None: nothing).

    ``roles`` and ``aud`` are a string or a list of strings; ``tenant``, ``sid``, ``svc``,
    ``client_id``, ``jti``, ``name`` a string or null; ``iat``/``nbf``/``exp``, when present,
    finite seconds since the epoch up to the year 9999. Other claims are the issuer's business.
    """
    for name in ("roles", "aud"):
        if name in claims and not _is_strings(claims[name]):
            return f"claim {name!r} must be a string or a list of strings"
    for name in STRING_CLAIMS:
        if claims.get(name) is not None and not isinstance(claims[name], str):
            return f"claim {name!r} must be a string"
    for name in ("iat", "nbf", "exp"):
        if name in claims and not _is_time(claims[name]):
            return f"token lacks numeric {name}: want seconds since the epoch (0..{MAX_TIME})"
    return None


def parse_time(text: str) -> float:
    """RFC 3339 from Go (nanoseconds, 'Z') to a POSIX timestamp."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    head, frac, tz = m.groups()
    tz = "+00:00" if tz == "Z" else tz
    return datetime.fromisoformat(f"{head}{(frac or '')[:7]}{tz}").timestamp()


def jwks_from_transit(key_name: str, key: dict[str, Any], overlap_s: float,
                      now: float | None = None) -> dict[str, Any]:
    """The JWKS for a transit ed25519 key: the latest version plus those still in their overlap."""
    now = time.time() if now is None else now
    versions = {int(v): info for v, info in key["keys"].items()}
    latest = int(key["latest_version"])
    out = []
    for v in sorted(versions, reverse=True):
        if v != latest:
            successor = versions.get(v + 1)
            if successor is None or parse_time(successor["creation_time"]) + overlap_s < now:
                continue
        raw = base64.b64decode(versions[v]["public_key"])
        out.append({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": f"{key_name}:v{v}", "x": b64url(raw)})
    return {"keys": out}


@dataclass
class JwtVerifier:
    """Verifies Aria JWTs against a JWKS; pure and fast (no I/O)."""

    jwks: dict[str, Any]
    issuer: str = "aria"
    leeway_s: int = 5
    _keys: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        keys = self.jwks.get("keys") if isinstance(self.jwks, dict) else None
        for jwk in keys if isinstance(keys, list) else ():
            if (isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519"
                    and isinstance(jwk.get("kid"), str) and isinstance(jwk.get("x"), str)):
                try:
                    self._keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
                except ValueError:
                    continue  # a key that cannot be read verifies nothing

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def header(self, token: str) -> dict[str, Any]:
        """The decoded, unverified header (to find the kid); InvalidToken when malformed."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("token is not a compact JWS (three dot-separated parts)")
        return _json_object(token.split(".", 1)[0], "header")

    def verify(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The claims of a valid token; :class:`InvalidToken` (and nothing else) for any other."""
        try:
            return self._verify(token, now)
        except InvalidToken:
            raise
        except _MALFORMED as exc:  # a shape no check below foresaw: still the token's fault
            raise InvalidToken("token is malformed", error=type(exc).__name__) from None

    def _verify(self, token: str, now: float | None) -> dict[str, Any]:
        header = self.header(token)
        alg = header.get("alg")
        if alg != "EdDSA":
            raise InvalidToken("only EdDSA tokens are accepted", alg=_shown(alg, 20))
        if "crit" in header:
            raise InvalidToken("token header names critical extensions this verifier does not know")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
            # no ``kid`` field: a malformed kid is not a rotation the caller should refetch for
            raise InvalidToken("token header has no key id (kid) string", kid_type=_shown(kid))
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("token signed by an unknown or retired key", kid=kid[:80])
        signing_input, _, sig = token.rpartition(".")
        try:
            key.verify(b64url_decode(sig), signing_input.encode())
        except (InvalidSignature, ValueError):
            raise InvalidToken("token signature does not verify") from None
        claims = _json_object(signing_input.split(".")[1], "payload")
        now = time.time() if now is None else now
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token issuer is not Aria", iss=_shown(claims.get("iss")))
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("token subject (sub) is not a non-empty string")
        if "exp" not in claims:
            raise InvalidToken("token lacks numeric exp/nbf")
        if problem := claim_types_problem(claims):
            raise InvalidToken(problem)
        exp, nbf = claims["exp"], claims.get("nbf", 0)
        if now > exp + self.leeway_s:
            raise InvalidToken("token expired", exp=exp)
        if now + self.leeway_s < nbf:
            raise InvalidToken("token not valid yet", nbf=nbf)
        return claims


def mintable_claims(caller: Principal, subject: str, claims: dict[str, Any] | None) -> dict[str, Any]:
    """The claims ``caller`` may put in a token for ``subject``; 403 for anything beyond its own.

    The operator (the CLI holding the cluster's token) and a service acting for itself mint any
    subject and roles. Anyone else mints only for itself: its own subject, a subset of its roles,
    its own tenant (filled in when left out, so a token never escapes its tenant) and nothing but
    ``roles``, ``tenant`` and ``aud``: a ``sid`` would borrow another session, ``svc`` or
    ``client_id`` would make it a service. The caller's own ``sid``, ``client_id`` and ``azp``
    are copied in: the token belongs to the caller's session (or machine client), so ending that
    session (or disabling the client) ends it too at the gateway (the revocation feed names only
    those), and an OpenID client's token mints only tokens the gateway limits the same way.
    """
    claims = dict(claims or {})
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise BadRequest("claims.roles must be a list of role names")
    if INTERNAL_ROLE in roles:
        raise Forbidden(f"the {INTERNAL_ROLE!r} role is never put in a token", role=INTERNAL_ROLE)
    if caller.kind == "operator" or caller.is_internal:
        return claims
    if subject != caller.subject:
        raise Forbidden(f"{caller.subject!r} may only mint tokens for itself, not {subject!r}",
                        subject=subject[:256])
    if extra := sorted(claims.keys() - SELF_CLAIMS):
        raise Forbidden(f"claims {extra} cannot be set in a token for yourself", claims=extra)
    if beyond := sorted(set(roles) - set(caller.roles)):
        raise Forbidden(f"{caller.subject!r} does not hold the roles {beyond}", roles=beyond)
    tenant = claims.get("tenant", caller.tenant)
    if tenant != caller.tenant:
        raise Forbidden(f"{caller.subject!r} may not mint a token for tenant {tenant!r}")
    if "roles" in claims:
        claims["roles"] = list(roles)
    if caller.tenant is not None:
        claims["tenant"] = caller.tenant
    if caller.session:
        claims["sid"] = caller.session
    for bound in ("client_id", "azp"):  # a machine client's; an OpenID client's (the gateway limits those)
        if own := (caller.claims or {}).get(bound):
            claims[bound] = own
    return claims


def signing_input_for(kid: str, issuer: str, subject: str, claims: dict[str, Any] | None,
                      ttl_s: int | None, default_ttl_s: int, max_ttl_s: int) -> str:
    """``base64url(header).base64url(payload)`` of a new token, after validating its inputs."""
    claims = dict(claims or {})
    if not isinstance(subject, str) or not subject:
        raise InvalidSecretPath("token subject must be a non-empty string")
    if RESERVED & claims.keys():
        raise InvalidSecretPath(f"reserved claims cannot be set: {sorted(RESERVED & claims.keys())}")
    if problem := claim_types_problem(claims):  # never sign a token the verifier would refuse
        raise InvalidSecretPath(problem)
    ttl = default_ttl_s if ttl_s is None else int(ttl_s)
    if not 1 <= ttl <= max_ttl_s:
        raise InvalidSecretPath(f"ttl_s must be 1..{max_ttl_s}", ttl_s=ttl)
    now = int(time.time())
    header = {"alg": "EdDSA", "typ": "JWT", "kid": kid}
    payload = {**claims, "iss": issuer, "sub": subject, "iat": now, "nbf": now,
               "exp": now + ttl, "jti": _secrets.token_urlsafe(12)}
    return (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
            b64url(json.dumps(payload, separators=(",", ":")).encode()))


@dataclass
class JwtSigner:
    """Issues tokens with a transit ed25519 key; ``secrets`` is an admin-token Secrets."""

    secrets: Any  # aria_actors.security.secrets.Secrets
    key_name: str = "aria-jwt"
    issuer: str = "aria"
    default_ttl_s: int = 900
    max_ttl_s: int = 3600
    leeway_s: int = 5
    _version: int = field(default=0, init=False)

    def ensure_key(self) -> None:
        try:
            self.secrets.read_key(self.key_name)
        except KeyNotFound:
            self.secrets.ensure_key(self.key_name, key_type="ed25519")
        self._version = self.latest_version()

    def latest_version(self) -> int:
        return int(self.secrets.read_key(self.key_name)["latest_version"])

    def rotate(self) -> int:
        """A new key version signs from now on; the previous one stays in the JWKS for the overlap."""
        self._version = self.secrets.rotate_key(self.key_name)
        return self._version

    def jwks(self) -> dict[str, Any]:
        """The JWKS; also picks up a rotation made by another process for the next ``issue``."""
        key = self.secrets.read_key(self.key_name)
        self._version = int(key["latest_version"])
        return jwks_from_transit(self.key_name, key, overlap_s=self.max_ttl_s + self.leeway_s)

    def issue(self, subject: str, claims: dict[str, Any] | None = None,
              ttl_s: int | None = None, version: int | None = None) -> str:
        # light: the gateway's bearer check imports this module; only the signer needs OpenBao's client
        from aria_actors.security.secrets import TRANSIT_MOUNT, openbao_errors

        version = version or self._version or self.latest_version()
        signing_input = signing_input_for(f"{self.key_name}:v{version}", self.issuer, subject,
                                          claims, ttl_s, self.default_ttl_s, self.max_ttl_s)
        with openbao_errors(f"sign token with {self.key_name!r}", key=self.key_name):
            resp = self.secrets.client.secrets.transit.sign_data(
                self.key_name, base64.b64encode(signing_input.encode()).decode(),
                key_version=version, mount_point=TRANSIT_MOUNT)
        sig = base64.b64decode(resp["data"]["signature"].split(":", 2)[2])
        return f"{signing_input}.{b64url(sig)}"
