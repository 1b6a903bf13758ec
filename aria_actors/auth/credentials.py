"""Opaque secrets aria_auth hands out: refresh tokens, MFA challenges, recovery codes.

Each is 256 bits from ``secrets`` with a readable prefix (so a leaked one is recognisable in a
log or a secret scanner). Only the SHA-256 of a secret is stored: with this much entropy a plain
hash is enough (no salt, no slow hash), and a database dump gives nobody a usable token.
"""

from __future__ import annotations

import hashlib
import secrets

REFRESH_PREFIX = "aria_rt_"
CHALLENGE_PREFIX = "aria_mc_"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def has_prefix(secret: object, prefix: str) -> bool:
    return isinstance(secret, str) and secret.startswith(prefix) and len(secret) <= 256


def new_recovery_codes(count: int) -> list[str]:
    """``count`` codes like ``k7mq-2xvd-9tcn`` (about 73 bits each)."""
    def one() -> str:
        chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(15))
        return "-".join(chars[i:i + 5] for i in range(0, 15, 5))

    return [one() for _ in range(count)]


def normalise_recovery_code(code: str) -> str:
    """What the user typed, as stored: lower case, without spaces or dashes, then dashed again."""
    chars = "".join(c for c in code.lower() if c.isalnum())
    return "-".join(chars[i:i + 5] for i in range(0, len(chars), 5))


def recovery_digest(code: str) -> str:
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()
