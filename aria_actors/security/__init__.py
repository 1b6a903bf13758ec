"""aria_security: Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit.

Public names: the service (``SecurityService``; other services call it through
``aria_actors.security.client.SecurityClient``), the FastAPI dependency the gateway applies
(``BearerAuth``), the pure RBAC engine (``Authorizer``) and the JWT
verifier (``JwtVerifier``). Everything else is internal.
"""

from __future__ import annotations

__all__ = ["Authorizer", "BearerAuth", "JwtVerifier", "SecurityService"]


def __getattr__(name: str):  # lazy: the registry imports this package and must stay light
    if name == "SecurityService":
        from aria_actors.security.service import SecurityService  # lazy: as above

        return SecurityService
    if name == "BearerAuth":
        from aria_actors.security import middleware  # lazy: as above

        return getattr(middleware, name)
    if name == "Authorizer":
        from aria_actors.security.rbac import Authorizer  # lazy: as above

        return Authorizer
    if name == "JwtVerifier":
        from aria_actors.security.tokens import JwtVerifier  # lazy: as above

        return JwtVerifier
    raise AttributeError(name)
