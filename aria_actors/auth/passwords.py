"""Password policy and argon2id hashing (argon2-cffi).

Guarantees and caveats
----------------------
- Hashes are argon2id PHC strings (``$argon2id$v=19$m=...``): the parameters travel with each
  hash, so raising the cost later re-hashes a user's password at their next login
  (:meth:`PasswordHasher.needs_rehash`) and older hashes keep verifying.
- :meth:`PasswordHasher.verify_unknown` spends the same time as a real check, so a login for a
  username that does not exist cannot be told from a wrong password by its timing.
- The policy follows NIST SP 800-63B: a minimum length, no composition rules, refuse passwords
  that contain the username or are one character repeated. No maximum below 1024 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from aria_actors.auth.errors import WeakPassword

MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can cause


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12

    def check(self, password: str, username: str = "") -> None:
        if not isinstance(password, str):
            raise WeakPassword("password must be a string")
        if len(password) < self.min_length:
            raise WeakPassword(f"password must have at least {self.min_length} characters",
                               min_length=self.min_length)
        if len(password) > MAX_LENGTH:
            raise WeakPassword(f"password must have at most {MAX_LENGTH} characters")
        if len(set(password)) == 1:
            raise WeakPassword("password must not be one character repeated")
        if username and len(username) >= 3 and username.lower() in password.lower():
            raise WeakPassword("password must not contain the username")


class PasswordHasher:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._argon2 = Argon2(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy: str | None = None  # made on first use: not on the boot's path

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self._argon2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_unknown(self, password: str) -> bool:
        """Burn one verification's time; always False."""
        if self._dummy is None:
            self._dummy = self._argon2.hash("aria: no such user")
        self.verify(self._dummy, password[:MAX_LENGTH] + "\x00")
        return False

    def needs_rehash(self, stored: str) -> bool:
        return self._argon2.check_needs_rehash(stored)
