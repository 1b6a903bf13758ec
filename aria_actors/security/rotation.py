"""Scheduled rotation of transit keys (encryption, the JWT signing key) and database passwords.

::

    every check_s:  list transit keys --> latest version older than max_age_s? --> rotate
                                                                    |               |
                                                                   no            audit record
                                                                                 "rotate_key
                                                                                  scheduled"

Guarantees and caveats
----------------------
- Rotation adds a key version; nothing is re-encrypted. Old ciphertexts still decrypt (transit
  keeps ``min_decryption_version`` at 1) and ``rewrap`` moves them to the latest version.
  Tokens signed by the previous JWT key stay valid until they expire (see
  :mod:`aria_actors.security.tokens`).
- Static database roles are rotated by Aria when their password is older than the interval, so
  each rotation has an Aria audit record; OpenBao's own ``rotation_period`` on the role is the
  backstop when Aria is down.
- Age is read from OpenBao (``creation_time`` of the latest version), not from Aria's memory, so a
  restart neither skips nor repeats a rotation.
- The check runs in aria_security's event loop with the calls in a worker thread; a failed check
  is audited and retried at the next tick.
"""

from __future__ import annotations

import time
from typing import Any

import hvac.exceptions as hx

from aria_actors.security import database
from aria_actors.security.secrets import TRANSIT_MOUNT, openbao_errors
from aria_actors.security.tokens import parse_time


def key_ages(client: Any, now: float | None = None) -> dict[str, float]:
    """Seconds since each transit key's latest version was created."""
    now = time.time() if now is None else now
    with openbao_errors("list transit keys"):
        try:
            names = client.secrets.transit.list_keys(mount_point=TRANSIT_MOUNT)["data"]["keys"]
        except hx.InvalidPath:  # no key yet
            return {}
        ages = {}
        for name in names:
            key = client.secrets.transit.read_key(name, mount_point=TRANSIT_MOUNT)["data"]
            latest = key["keys"][str(key["latest_version"])]
            created = latest["creation_time"] if isinstance(latest, dict) else latest
            ages[name] = now - (parse_time(created) if isinstance(created, str) else float(created))
    return ages


def due_keys(client: Any, max_age_s: float, now: float | None = None) -> list[str]:
    return sorted(name for name, age in key_ages(client, now).items() if age >= max_age_s)


def due_db_roles(client: Any, max_age_s: float, now: float | None = None) -> list[str]:
    """Static database roles whose password is older than ``max_age_s``."""
    now = time.time() if now is None else now
    with openbao_errors("list static database roles"):
        return sorted(r for r, age in database.static_ages(client, now).items() if age >= max_age_s)
