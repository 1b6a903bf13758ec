"""aria_auth: users, password logins with lockout, rotating sessions, TOTP MFA, role assignment.

The service opens its pool through aria_data's ``Database`` on the DSN aria_data gives it (so
aria_data's statement timeout and typed connect errors apply), has aria_data apply its
migrations (schema ``aria_auth``), and signs access tokens and wraps MFA secrets through
aria_security. The logic is :class:`aria_actors.auth.accounts.Accounts` and
:class:`aria_actors.auth.clients.MachineClients`, whose ``@rpc`` methods are the service's
declared surface (:class:`aria_actors.auth.client.AuthClient`); this class adds the lifecycle.
Who may act on which user or client is decided inside those methods, as the caller
(:mod:`aria_actors.auth.access`), so the gateway, another service and a queue job meet one check.

Built: ``sessions`` (login, refresh-token rotation with reuse detection, logout, introspection,
per-user session lists), ``mfa`` (TOTP with replay protection, recovery codes, challenge-based
second step), ``dynamic-roles``, ``service-auth`` (:mod:`aria_actors.auth.clients`), and the parts
mixed in with a start and a stop of their own (``PARTS``): ``endpoint-protection``
(:mod:`~aria_actors.auth.revocation`: the feed of ended sessions the gateway polls),
``permissions`` and ``resource-access-control`` (:mod:`~aria_actors.auth.grants`), ``biometric``
(:mod:`~aria_actors.auth.passkeys`), ``webrtc-peer-auth`` (:mod:`~aria_actors.auth.peers`) and
``oauth2-oidc`` both ways (:mod:`~aria_actors.auth.provider`, :mod:`~aria_actors.auth.relying`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aria_actors.auth.accounts import ME, Accounts
from aria_actors.auth.clients import MachineClients
from aria_actors.auth.grants import ResourceGrants
from aria_actors.auth.passkeys import Passkeys
from aria_actors.auth.peers import PeerGrants
from aria_actors.auth.provider import OidcProvider
from aria_actors.auth.relying import RelyingParty
from aria_actors.auth.revocation import Revocations
from aria_actors.auth.spec import SPEC
from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.security.client import SecurityClient

log = logging.getLogger("aria.auth")
# The parts mixed into the service with a start and a stop of their own, started in this order.
PARTS = ("revocation", "grants", "passkeys", "peers", "provider", "relying")


class AuthService(OidcProvider, RelyingParty, Passkeys, ResourceGrants, PeerGrants, Revocations, MachineClients,
                  Accounts, Service):
    """The service *is* its accounts and clients: their ``@rpc`` methods are what callers reach."""

    SPEC = SPEC

    def __init__(self, settings: AriaSettings, auth_settings: Any = None) -> None:
        Service.__init__(self, settings)
        Accounts.__init__(self, None, None, auth_settings or settings.auth)
        self._pruner: asyncio.Task[None] | None = None

    async def start(self, deps: Deps) -> None:
        await Service.start(self, deps)

        data, security = deps.of(DataClient), deps.of(SecurityClient)
        # Round trips side by side: this start is on the boot's critical path (aria_storage waits).
        dsn, roles = await asyncio.gather(data.dsn(ME), security.roles(ME))
        opening = asyncio.ensure_future(Database.connect(
            dsn, name=SPEC.name, min_size=1, max_size=self.config.pool_size))
        try:
            await data.migrate(ME, SPEC.name)
        except BaseException:
            with contextlib.suppress(Exception):
                await (await opening).close()
            raise
        # The Database, not its raw pool: transactions are retried and typed through it.
        self._attach(await opening, security, roles)
        for part in PARTS:
            await getattr(self, f"_start_{part}")()
        self._pruner = periodic(self.config.prune_interval_s, self.prune, what="pruning ended sessions", log=log)

    async def stop(self) -> None:
        await stop_task(self._pruner)
        self._pruner = None
        for part in reversed(PARTS):
            with contextlib.suppress(Exception):
                await getattr(self, f"_stop_{part}")()
        db, self.db = self.db, None
        if db is not None:
            await db.close()

    async def health(self) -> Health:
        db = self.db
        if db is None:
            return Health(Status.STARTING, "not started")
        t0 = time.perf_counter()
        try:
            counts = await self.counts()
        except Exception as exc:
            return Health(Status.FAILED, f"database unreachable: {type(exc).__name__}: {exc}")
        details = {"db_ping_ms": round((time.perf_counter() - t0) * 1000, 2), **counts,
                   "pool": {"size": db.pool.get_size(), "idle": db.pool.get_idle_size(),
                            "retries": db.retries},
                   "missing": list(self.spec.missing)}
        return Health(Status.READY, f"{counts['users']} users, {counts['open_sessions']} open sessions", details)
