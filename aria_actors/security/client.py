"""Typed client of aria_security: the signatures of its declared RPC methods (generated).

Callers get one with ``deps.of(SecurityClient)``, ``Depends(service_client(SecurityClient))`` or
``bind(SecurityClient, transport)``; every method takes the caller's principal first. Regenerate with
``scripts/gen_client.py security --write`` after changing the service's surface.
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of


@client_of("aria_security")
class SecurityClient:
    async def authorize(
        self,
        caller: Principal,
        principal: dict[str, Any],
        action: str,
        resource: dict[str, Any] | None = None,
    ) -> bool:
        """Would RBAC let ``principal`` (token claims) do ``action`` on ``resource``?"""

    async def ca_certificate(self, caller: Principal) -> str:
        """The CA's certificate (PEM), to verify what ``issue_certificate`` signed."""

    async def crl(self, caller: Principal) -> str:
        """The certificate revocation list (PEM)."""

    async def datakey(
        self,
        caller: Principal,
        key_name: str,
        bits: int = 256,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    async def db_creds(self, caller: Principal, role: str, *, service: str | None = None) -> dict[str, Any]:
        """New database user with a lease; it is dropped when the lease expires or is revoked."""

    async def db_static_creds(
        self,
        caller: Principal,
        role: str,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Credentials of a static role; a service acting for itself gets only roles named after it."""

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

    async def issue_certificate(
        self,
        caller: Principal,
        common_name: str,
        alt_names: list[str] | None = None,
        ip_sans: list[str] | None = None,
        ttl: str = '72h',
    ) -> dict[str, Any]:
        ...

    async def issue_service_token(self, caller: Principal, service: str, ttl_s: int = 300) -> str:
        """A short-lived JWT a service attaches to its calls to other services (role ``service``)."""

    async def issue_token(
        self,
        caller: Principal,
        subject: str,
        claims: dict[str, Any] | None = None,
        ttl_s: int | None = None,
    ) -> str:
        """A signed JWT for ``subject``; never stronger than the caller (see ``mintable_claims``)."""

    async def jwks(self, caller: Principal) -> dict[str, Any]:
        ...

    async def kv_delete(
        self,
        caller: Principal,
        path: str,
        versions: list[int] | None = None,
        *,
        service: str | None = None,
    ) -> None:
        ...

    async def kv_destroy(self, caller: Principal, path: str, *, service: str | None = None) -> None:
        ...

    async def kv_get(
        self,
        caller: Principal,
        path: str,
        version: int | None = None,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    async def kv_list(self, caller: Principal, prefix: str = '', *, service: str | None = None) -> list[str]:
        ...

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

    async def kv_undelete(
        self,
        caller: Principal,
        path: str,
        versions: list[int],
        *,
        service: str | None = None,
    ) -> None:
        ...

    async def kv_versions(
        self,
        caller: Principal,
        path: str,
        *,
        service: str | None = None,
    ) -> dict[str, Any]:
        ...

    async def revoke_certificate(self, caller: Principal, serial_number: str) -> dict[str, Any]:
        ...

    async def rewrap(
        self,
        caller: Principal,
        key_name: str,
        ciphertext: str,
        *,
        service: str | None = None,
    ) -> str:
        ...

    async def roles(self, caller: Principal) -> dict[str, list[str]]:
        """The role table RBAC decides with (role -> permissions), e.g. to validate role names."""

    async def rotate_jwt_key(self, caller: Principal) -> int:
        ...

    async def rotate_key(self, caller: Principal, key_name: str) -> int:
        ...

    async def seal(self, caller: Principal) -> None:
        """Emergency: seal OpenBao now. Every secret call fails until Aria restarts (or unseal())."""

    async def service_token(self, caller: Principal, service: str) -> dict[str, Any]:
        """A short-lived OpenBao token limited to ``service``'s policy, plus the URL to use it."""

    async def unseal(self, caller: Principal) -> None:
        """Unseal the embedded OpenBao again with the HSM-wrapped key."""

    async def verify_token(self, caller: Principal, token: str) -> dict[str, Any]:
        ...
