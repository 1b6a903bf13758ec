"""Typed client of aria_security: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(SecurityClient)``, ``Depends(service_client(SecurityClient))`` or
``bind(SecurityClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py security
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_security")
class SecurityClient:
    @rpc("security:audit:read", scope="any", features=("audit-log", "intrusion-detection"))
    async def audit(
        self,
        caller: Principal,
        limit: int = 100,
        *,
        op: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest audit records first (at most ``limit``, 1-1000), those matching ``op``..."""

    @rpc("security:policy:read", features=("rbac", "intrusion-detection"))
    async def authorize(
        self,
        caller: Principal,
        principal: dict[str, Any],
        action: str,
        resource: dict[str, Any] | None = None,
    ) -> bool:
        """Would RBAC let ``principal`` (token claims) do ``action`` on ``resource``?"""

    @rpc(feature="pki")
    async def ca_certificate(self, caller: Principal) -> str:
        """The CA's certificate (PEM), to verify what ``issue_certificate`` signed."""

    @rpc(feature="pki")
    async def crl(self, caller: Principal) -> str:
        """The certificate revocation list (PEM)."""

    @rpc("security:transit:datakey", scope="any", feature="openbao")
    async def datakey(
        self,
        caller: Principal,
        key_name: str,
        bits: int = 256,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    @rpc("security:database:creds", scope="any", feature="openbao")
    async def db_creds(self, caller: Principal, role: str, *, service: str | None = None) -> dict[str, Any]:
        """New database user with a lease; it is dropped when the lease expires or is revoked."""

    @rpc("security:database:creds", scope="any", feature="openbao")
    async def db_static_creds(
        self,
        caller: Principal,
        role: str,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Credentials of a static role; a service acting for itself gets only roles named after it."""

    @rpc("security:transit:decrypt", scope="any", feature="openbao")
    async def decrypt(
        self,
        caller: Principal,
        key_name: str,
        ciphertext: str,
        *,
        context: bytes | None = None,
        service: str | None = None,
    ) -> bytes:
        ...

    @rpc("security:transit:encrypt", scope="any", feature="openbao")
    async def encrypt(
        self,
        caller: Principal,
        key_name: str,
        plaintext: bytes,
        *,
        context: bytes | None = None,
        service: str | None = None,
    ) -> str:
        ...

    @rpc("security:certificate:issue", scope="any", feature="pki")
    async def issue_certificate(
        self,
        caller: Principal,
        common_name: str,
        alt_names: list[str] | None = None,
        ip_sans: list[str] | None = None,
        ttl: str = '72h',
    ) -> dict[str, Any]:
        ...

    @rpc("security:token:issue", scope="any", features=("jwt", "zero-trust-policies"))
    async def issue_service_token(self, caller: Principal, service: str, ttl_s: int = 300) -> str:
        """A short-lived JWT a service attaches to its calls to other services (role ``service``)."""

    @rpc("security:token:issue", scope="own", feature="jwt")
    async def issue_token(
        self,
        caller: Principal,
        subject: str,
        claims: dict[str, Any] | None = None,
        ttl_s: int | None = None,
    ) -> str:
        """A signed JWT for ``subject``; never stronger than the caller (see ``mintable_claims``)."""

    @rpc(public=True, features=("jwt", "auth-middleware"))
    async def jwks(self, caller: Principal) -> dict[str, Any]:
        ...

    @rpc("security:secret:delete", scope="any", feature="openbao")
    async def kv_delete(
        self,
        caller: Principal,
        path: str,
        versions: list[int] | None = None,
        *,
        service: str | None = None,
    ) -> None:
        ...

    @rpc("security:secret:destroy", scope="any", feature="openbao")
    async def kv_destroy(self, caller: Principal, path: str, *, service: str | None = None) -> None:
        ...

    @rpc("security:secret:read", scope="any", feature="openbao")
    async def kv_get(
        self,
        caller: Principal,
        path: str,
        version: int | None = None,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    @rpc("security:secret:list", scope="any", feature="openbao")
    async def kv_list(self, caller: Principal, prefix: str = '', *, service: str | None = None) -> list[str]:
        ...

    @rpc("security:secret:write", scope="any", feature="openbao")
    async def kv_put(
        self,
        caller: Principal,
        path: str,
        data: dict[str, Any],
        *,
        cas: int | None = None,
        service: str | None = None,
    ) -> int:
        ...

    @rpc("security:secret:write", scope="any", feature="openbao")
    async def kv_undelete(
        self,
        caller: Principal,
        path: str,
        versions: list[int],
        *,
        service: str | None = None,
    ) -> None:
        ...

    @rpc("security:secret:read", scope="any", feature="openbao")
    async def kv_versions(
        self,
        caller: Principal,
        path: str,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    @rpc("security:metrics:read", scope="any", feature="security-metrics")
    async def metrics_text(self, caller: Principal) -> str:
        """aria_security's Prometheus metrics (operations, latency, authorisations, token failures,..."""

    @rpc("security:audit:write", scope="any", feature="audit-log")
    async def record_events(self, caller: Principal, events: list[dict[str, Any]]) -> int:
        """Write another service's refusals into the audit log, as that service: each event is ``{"op",..."""

    @rpc("security:certificate:revoke", scope="any", feature="pki")
    async def revoke_certificate(self, caller: Principal, serial_number: str) -> dict[str, Any]:
        ...

    @rpc("security:transit:rewrap", scope="any", feature="openbao")
    async def rewrap(
        self,
        caller: Principal,
        key_name: str,
        ciphertext: str,
        *,
        service: str | None = None,
    ) -> str:
        ...

    @rpc("security:policy:read", feature="rbac")
    async def roles(self, caller: Principal) -> dict[str, list[str]]:
        """The role table RBAC decides with (role -> permissions), e.g. to validate role names."""

    @rpc("security:key:rotate", scope="any", features=("secret-rotation", "jwt"))
    async def rotate_jwt_key(self, caller: Principal) -> int:
        ...

    @rpc("security:key:rotate", scope="any", feature="secret-rotation")
    async def rotate_key(self, caller: Principal, key_name: str) -> int:
        ...

    @rpc("security:vault:seal", scope="any", feature="openbao")
    async def seal(self, caller: Principal) -> None:
        """Emergency: seal OpenBao now. Every secret call fails until Aria restarts (or unseal())."""

    @rpc("security:secret:token", scope="any", feature="zero-trust-policies")
    async def service_token(self, caller: Principal, service: str) -> dict[str, Any]:
        """A short-lived OpenBao token limited to ``service``'s policy, plus the URL to use it."""

    @rpc("security:vault:unseal", scope="any", features=("softhsm-unseal", "openbao"))
    async def unseal(self, caller: Principal) -> None:
        """Unseal the embedded OpenBao again with the HSM-wrapped key."""

    @rpc(feature="jwt")
    async def verify_token(self, caller: Principal, token: str) -> dict[str, Any]:
        ...
