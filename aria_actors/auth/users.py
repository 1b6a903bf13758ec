"""Validation of user fields and the public view of a user row (Ray-free, no database)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from aria_actors.auth.errors import InvalidUser
from aria_actors.runtime.principal import ANONYMOUS_ROLE, INTERNAL_ROLE

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{1,63}$")
TENANT = re.compile(r"^(|[a-z0-9][a-z0-9_-]{0,62})$")
# In the role table, but held by no user or client: see check_roles.
NOT_GRANTABLE = frozenset({INTERNAL_ROLE, ANONYMOUS_ROLE})
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")


def check_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise InvalidUser("username must be 2-64 characters: letters, digits and . _ @ + -, starting "
                          "with a letter or digit", field="username")
    return username


def check_tenant(tenant: object) -> str:
    if not isinstance(tenant, str) or not TENANT.match(tenant):
        raise InvalidUser("tenant must be empty or 1-63 lower-case letters, digits, _ and -, starting "
                          "with a letter or digit", field="tenant")
    return tenant


def check_email(email: object) -> str | None:
    if email is None:
        return None
    if not isinstance(email, str) or not EMAIL.match(email):
        raise InvalidUser("email is not an address of the form name@domain.tld", field="email")
    return email


def check_display_name(name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not 1 <= len(name) <= 128 or any(ord(c) < 32 for c in name):
        raise InvalidUser("display_name must be 1-128 printable characters", field="display_name")
    return name


def check_roles(roles: Iterable[str], known: Collection[str]) -> list[str]:
    """``roles`` without repeats, each a role of the table ``known`` that may be granted.

    ``internal`` (a service acting for itself; never in a token) and ``anonymous`` (the role of no
    one signed in) are in the table but are nobody's to hold: assigning them is a 400.
    """
    grantable = sorted(set(known) - NOT_GRANTABLE)
    out = []
    for role in roles:
        if isinstance(role, str) and role in NOT_GRANTABLE:
            raise InvalidUser(f"the role {role!r} cannot be granted to a user or client; grantable roles: "
                              f"{', '.join(grantable)}", field="roles", role=role)
        if not isinstance(role, str) or role not in known:
            raise InvalidUser(f"unknown role {str(role)[:64]!r}; known roles: {', '.join(grantable)}",
                              field="roles", role=str(role)[:64])
        if role not in out:
            out.append(role)
    return out


def public(row: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A user as the API shows it: never the password hash, MFA secret or recovery codes."""
    locked_until = row["locked_until"]
    locked = bool(locked_until and now and locked_until > now)
    return {
        "id": str(row["id"]), "tenant": row["tenant"], "username": row["username"], "email": row["email"],
        "display_name": row["display_name"], "roles": list(row["roles"]), "disabled": row["disabled"],
        "locked_until": locked_until.isoformat() if locked else None,
        "mfa": {"enabled": row["mfa_enabled"], "pending": row["mfa_pending"] and not row["mfa_enabled"],
                "recovery_codes_left": row["recovery_codes_left"]},
        "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
        "last_login_at": row["last_login_at"].isoformat() if row["last_login_at"] else None,
    }


def lockout_seconds(lockouts_before: int, first_s: int, max_s: int) -> int:
    """How long the next lockout lasts: ``first_s`` doubled for each lockout in a row before it."""
    return min(max_s, first_s * 2 ** min(lockouts_before, 30))
