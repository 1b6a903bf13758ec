"""Administrative operations of aria_security: database credentials, PKI, scheduled rotation.

A mixin of :class:`~aria_actors.security.service.SecurityService`, split out to keep each module
to one concern; it uses the service's ``_run`` (worker thread + audit record + metrics), its admin
client and its per-service clients.

Guarantees and caveats
----------------------
- Every operation here is audited by ``_run`` (who, what, outcome); database passwords, private
  keys and DSNs never appear in a record.
- Only the credentials other services fetch (``db_static_creds``, ``db_creds``), the PKI and the
  metrics (``GET /v1/security/metrics``) are RPC methods; configuring the database engine and
  rotation are called in-process (the service itself, its tests), never through Ray.
- Scheduled rotation (see :mod:`aria_actors.security.rotation`) writes one
  ``scheduled_rotation`` record per rotated key or role, and one per failed check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import generate_latest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.security import database, metrics, pki, rotation
from aria_actors.security.audit import outcome_of
from aria_actors.security.policies import service_scope
from aria_actors.security.secrets import openbao_errors

T = TypeVar("T")
ADMIN_ACTOR = "aria_security"


class OperationsMixin:
    """Database, rotation, PKI and metrics methods; state comes from SecurityService."""

    _client: Any
    _secrets: Any
    _audit: Any
    config: Any
    _secrets_for: Callable[..., Any]
    _run: Callable[..., Any]
    _ready: Callable[[], None]
    _rotate_jwt: Callable[[], int]

    # -- database credentials -----------------------------------------------------------------
    def _db(self, what: str, fn: Callable[..., T], *args: Any, service: str | None = None) -> T:
        client = self._client if service is None else self._secrets_for(service).client
        with openbao_errors(what):
            return fn(client, *args)

    async def db_configure(self, name: str, dsn: str, allowed_roles: list[str] | None = None) -> None:
        """Give OpenBao a privileged PostgreSQL connection (``dsn`` with user and password)."""
        await self._run("db_configure", name, None, lambda: self._db(
            f"configure database {name!r}", database.configure, name, dsn, allowed_roles))

    async def db_static_role(self, role: str, connection: str, db_username: str,
                             rotation_period_s: int = 86400) -> None:
        await self._run("db_static_role", role, None, lambda: self._db(
            f"create static role {role!r}", database.create_static_role, role, connection,
            db_username, rotation_period_s))

    async def db_dynamic_role(self, role: str, connection: str, ttl_s: int = 3600,
                              max_ttl_s: int = 86400) -> None:
        await self._run("db_dynamic_role", role, None, lambda: self._db(
            f"create dynamic role {role!r}", database.create_dynamic_role, role, connection,
            ttl_s, max_ttl_s))

    @rpc("security:database:creds", scope="any", feature="openbao")
    async def db_static_creds(self, caller: Principal, role: str, *, service: str | None = None
                              ) -> dict[str, Any]:
        """Credentials of a static role; a service acting for itself gets only roles named after it."""
        return await self._run("db_static_creds", role, caller.subject, lambda: self._db(
            f"read static credentials {role!r}", database.static_creds, role,
            service=service_scope(caller, service)))

    @rpc("security:database:creds", scope="any", feature="openbao")
    async def db_creds(self, caller: Principal, role: str, *, service: str | None = None) -> dict[str, Any]:
        """New database user with a lease; it is dropped when the lease expires or is revoked."""
        return await self._run("db_creds", role, caller.subject, lambda: self._db(
            f"generate credentials {role!r}", database.dynamic_creds, role,
            service=service_scope(caller, service)))

    async def db_rotate(self, role: str) -> None:
        await self._run("db_rotate", role, None, lambda: self._db(
            f"rotate static role {role!r}", database.rotate_static, role))
        metrics.ROTATIONS.labels("manual").inc()

    async def revoke_lease(self, lease_id: str) -> None:
        def _revoke() -> None:
            with openbao_errors("revoke lease"):
                self._client.sys.revoke_lease(lease_id)

        await self._run("revoke_lease", lease_id.rsplit("/", 1)[0], None, _revoke)

    # -- rotation -----------------------------------------------------------------------------
    async def rotate_due_keys(self, max_age_s: float | None = None) -> dict[str, int | str]:
        """Rotate every transit key (JWT key included) and static database role older than
        ``max_age_s`` (default ``rotation_interval_s``); returns the new version per key and the
        rotation time per ``database:<role>``."""
        self._ready()
        age = self.config.rotation_interval_s if max_age_s is None else max_age_s
        due = await asyncio.to_thread(rotation.due_keys, self._client, age)
        due_roles = await asyncio.to_thread(rotation.due_db_roles, self._client, age)
        rotated: dict[str, int | str] = {}
        for role in due_roles:
            await self.db_rotate(role)
            creds = await asyncio.to_thread(self._db, "read", _static_creds, role)
            rotated[f"database:{role}"] = creds["last_rotation"]
            self._audit.record(ADMIN_ACTOR, "scheduled_rotation", f"database:{role}",
                               f"ok:{creds['last_rotation']}")
            metrics.ROTATIONS.labels("scheduled").inc()
        for name in due:
            if name == self.config.jwt_key:
                rotated[name] = await self._run("rotate_jwt_key", name, None, self._rotate_jwt)
            else:
                rotated[name] = await self._run("rotate_key", name, None,
                                                lambda n=name: self._secrets.rotate_key(n))
            metrics.ROTATIONS.labels("scheduled").inc()
            self._audit.record(ADMIN_ACTOR, "scheduled_rotation", name, f"ok:v{rotated[name]}")
        return rotated

    async def _rotation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.rotation_check_s)
            try:
                await self.rotate_due_keys()
            except Exception as exc:  # audited; the next tick retries
                self._audit.record(ADMIN_ACTOR, "scheduled_rotation", "", outcome_of(exc))

    @rpc("security:metrics:read", scope="any", feature="security-metrics")
    async def metrics_text(self, caller: Principal) -> str:
        """aria_security's Prometheus metrics (operations, latency, authorisations, token
        failures, lockouts, rotations, OpenBao up), its process's text exposition format."""
        return generate_latest().decode()

    # -- PKI ----------------------------------------------------------------------------------
    @rpc("security:certificate:issue", scope="any", feature="pki")
    async def issue_certificate(self, caller: Principal, common_name: str, alt_names: list[str] | None = None,
                                ip_sans: list[str] | None = None, ttl: str = "72h") -> dict[str, Any]:
        def _issue() -> dict[str, Any]:
            with openbao_errors(f"issue certificate for {common_name!r}"):
                return pki.issue(self._client, common_name, alt_names, ip_sans, ttl)

        return await self._run("issue_certificate", common_name, caller.subject, _issue)

    @rpc("security:certificate:revoke", scope="any", feature="pki")
    async def revoke_certificate(self, caller: Principal, serial_number: str) -> dict[str, Any]:
        def _revoke() -> dict[str, Any]:
            with openbao_errors(f"revoke certificate {serial_number!r}"):
                return pki.revoke(self._client, serial_number)

        return await self._run("revoke_certificate", serial_number, caller.subject, _revoke)

    @rpc(feature="pki")
    async def ca_certificate(self, caller: Principal) -> str:
        """The CA's certificate (PEM), to verify what ``issue_certificate`` signed."""
        return await self._run("ca_certificate", "pki", caller.subject, lambda: pki.ca_pem(self._client))

    @rpc(feature="pki")
    async def crl(self, caller: Principal) -> str:
        """The certificate revocation list (PEM)."""
        return await self._run("crl", "pki", caller.subject, lambda: pki.crl_pem(self._client))


def _static_creds(client: Any, role: str) -> dict[str, Any]:
    return database.static_creds(client, role)
