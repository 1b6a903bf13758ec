"""PostgreSQL credentials from OpenBao's database engine: static roles it rotates, dynamic roles
with leases that expire.

Guarantees and caveats
----------------------
- Aria hands OpenBao one privileged connection (``configure``); OpenBao keeps its password and
  can rotate it (``rotate_root``) so that afterwards no human knows it.
- Static role: an existing database user whose password OpenBao sets and rotates; readers get the
  current password. Dynamic role: each read creates a user with a lease; the user is dropped when
  the lease expires or is revoked.
- Role names follow the service rule (``<service>`` or ``<service>-*``), so a service token can
  read only its own credentials.
- Unix-socket DSNs (``postgresql://u@/db?host=/run/pg``) are supported: OpenBao's driver (pgx) takes
  the socket directory from ``host=``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import hvac.exceptions as hx

from aria_actors.data.sql_files import queries
from aria_actors.security.errors import InvalidSecretPath
from aria_actors.security.tokens import parse_time

MOUNT = "database"
_ROLES = queries("aria_actors.security", "openbao_roles")  # OpenBao runs them, Aria never does


def connection_template(dsn: str) -> tuple[str, str, str]:
    """``(connection_url with {{username}}/{{password}}, username, password)`` from a libpq DSN."""
    u = urllib.parse.urlsplit(dsn)
    if u.scheme not in ("postgres", "postgresql"):
        raise InvalidSecretPath("database DSN must be postgresql://...", scheme=u.scheme)
    username = urllib.parse.unquote(u.username or "")
    password = urllib.parse.unquote(u.password or "")
    if not username:
        raise InvalidSecretPath("database DSN must name a user")
    host = u.hostname or "localhost"  # a socket DSN has no host; pgx reads host= from the query
    port = f":{u.port}" if u.port else ""
    query = dict(urllib.parse.parse_qsl(u.query))
    query.setdefault("sslmode", "disable" if "host" in query or host in ("localhost", "127.0.0.1")
                     else "require")
    url = (f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}{port}{u.path or '/postgres'}?"
           + urllib.parse.urlencode(query, safe="/{}"))
    return url, username, password


def configure(client: Any, name: str, dsn: str, allowed_roles: list[str] | None = None) -> None:
    url, username, password = connection_template(dsn)
    client.secrets.database.configure(
        name, "postgresql-database-plugin", connection_url=url, username=username,
        password=password, allowed_roles=allowed_roles or ["*"], verify_connection=True,
        mount_point=MOUNT)


def create_static_role(client: Any, role: str, connection: str, db_username: str,
                       rotation_period_s: int) -> None:
    client.secrets.database.create_static_role(
        role, connection, db_username, rotation_statements=[_ROLES("rotate")],
        rotation_period=rotation_period_s, mount_point=MOUNT)


def create_dynamic_role(client: Any, role: str, connection: str, ttl_s: int, max_ttl_s: int) -> None:
    client.secrets.database.create_role(
        role, connection, creation_statements=[_ROLES("create")],
        revocation_statements=[_ROLES("revoke")],
        default_ttl=f"{ttl_s}s", max_ttl=f"{max_ttl_s}s", mount_point=MOUNT)


def static_creds(client: Any, role: str) -> dict[str, Any]:
    data = client.secrets.database.get_static_credentials(role, mount_point=MOUNT)["data"]
    return {"username": data["username"], "password": data["password"],
            "last_rotation": data["last_vault_rotation"], "ttl_s": data["ttl"]}


def rotate_static(client: Any, role: str) -> None:
    client.secrets.database.rotate_static_role_credentials(role, mount_point=MOUNT)


def dynamic_creds(client: Any, role: str) -> dict[str, Any]:
    resp = client.secrets.database.generate_credentials(role, mount_point=MOUNT)
    return {"username": resp["data"]["username"], "password": resp["data"]["password"],
            "lease_id": resp["lease_id"], "lease_duration_s": resp["lease_duration"]}


def static_ages(client: Any, now: float) -> dict[str, float]:
    """Seconds since each static role's password was last rotated."""
    try:
        roles = client.secrets.database.list_static_roles(mount_point=MOUNT)["data"]["keys"]
    except hx.InvalidPath:
        return {}
    return {role: now - parse_time(static_creds(client, role)["last_rotation"]) for role in roles}
