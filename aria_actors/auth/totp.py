"""Time-based one-time passwords (RFC 6238, pyotp) with replay protection.

``verify`` returns the time step a code belongs to; the caller stores the last accepted step and
passes it back, so a code that was used once is refused for the rest of its validity window.
"""

from __future__ import annotations

import hmac
import time

import pyotp

DIGITS = 6
PERIOD_S = 30


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, RFC 4226's recommended length


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).provisioning_uri(name=account, issuer_name=issuer)


def code_at(secret: str, at: float) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).at(int(at))


def verify(secret: str, code: str, *, last_step: int = 0, window: int = 1, now: float | None = None) -> int | None:
    """The accepted time step, or None for a wrong, stale or replayed code."""
    if not isinstance(code, str):
        return None
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # '١٢٣٤٥٦'.isdigit()
        return None
    now = time.time() if now is None else now
    current = int(now // PERIOD_S)
    # Newest step first, so a replay of an older code cannot shadow a fresh one.
    for step in range(current + window, current - window - 1, -1):
        if step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step * PERIOD_S), code):
            return step
    return None
