"""``aria.security``: secrets, keys, tokens, policy checks and certificates (``/v1/security``)."""

from __future__ import annotations

from typing import Any

import aria_actors.security.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class SecurityAPI(Section):
    @route("GET", "/v1/security/jwks")
    def jwks(self) -> dict[str, Any]:
        """The public keys that verify Aria tokens."""
        return Req()

    @route("GET", "/v1/security/secrets/{path:path}")
    def get_secret(self, path: str, version: int | None = None) -> dict[str, Any]:
        """``{"path", "data"}`` of the latest (or the given) version."""
        return Req(path={"path": path}, params={"version": version})

    @route("PUT", "/v1/security/secrets/{path:path}")
    def put_secret(self, path: str, data: dict[str, Any], *, cas: int | None = None) -> dict[str, Any]:
        """Store ``data`` as a new version (only over version ``cas`` when given)."""
        return Req(path={"path": path}, json=body(data=data, cas=cas))

    @route("DELETE", "/v1/security/secrets/{path:path}")
    def delete_secret(self, path: str) -> None:
        return Req(path={"path": path})

    @route("POST", "/v1/security/undelete/{path:path}")
    def undelete_secret(self, path: str, versions: list[int]) -> dict[str, Any]:
        return Req(path={"path": path}, json={"versions": versions})

    @route("GET", "/v1/security/metadata/{path:path}")
    def secret_versions(self, path: str) -> dict[str, Any]:
        """A secret's versions and their metadata."""
        return Req(path={"path": path})

    @route("GET", "/v1/security/list")
    def list_secrets(self, prefix: str = "") -> dict[str, Any]:
        return Req(params={"prefix": prefix})

    @route("POST", "/v1/security/keys/{name}/rotate")
    def rotate_key(self, name: str) -> dict[str, Any]:
        """A new version of a key (``jwt``: the token signing key)."""
        return Req(path={"name": name})

    @route("POST", "/v1/security/tokens")
    def issue_token(self, subject: str, claims: dict[str, Any] | None = None,
                    ttl_s: int | None = None) -> dict[str, Any]:
        return Req(json=body(subject=subject, claims=claims, ttl_s=ttl_s))

    @route("POST", "/v1/security/tokens/verify")
    def verify_token(self, token: str) -> dict[str, Any]:
        """``{"claims": ...}`` of a valid token; an invalid one raises."""
        return Req(json={"token": token})

    @route("POST", "/v1/security/authorize")
    def authorize(self, principal: dict[str, Any], action: str,
                  resource: dict[str, Any] | None = None) -> dict[str, Any]:
        """``{"allowed": bool}``: whether ``principal`` may do ``action`` on ``resource``."""
        return Req(json=body(principal=principal, action=action, resource=resource))

    @route("POST", "/v1/security/certificates")
    def issue_certificate(self, common_name: str, *, alt_names: list[str] | None = None,
                          ip_sans: list[str] | None = None, ttl: str | None = None) -> dict[str, Any]:
        """A certificate from Aria's CA (``ttl`` like ``"72h"``)."""
        return Req(json=body(common_name=common_name, alt_names=alt_names, ip_sans=ip_sans, ttl=ttl))

    @route("DELETE", "/v1/security/certificates/{serial}")
    def revoke_certificate(self, serial: str) -> dict[str, Any]:
        return Req(path={"serial": serial})

    @route("GET", "/v1/security/crl")
    def crl(self) -> bytes:
        """The certificate revocation list (PEM)."""
        return Req(raw=True)

    @route("GET", "/v1/security/ca")
    def ca_certificate(self) -> bytes:
        """The CA's certificate (PEM)."""
        return Req(raw=True)

    @route("GET", "/v1/security/roles")
    def roles(self) -> dict[str, list[str]]:
        """The role table RBAC decides with: role -> permissions."""
        return Req()

    @route("GET", "/v1/security/audit")
    def audit(self, limit: int | None = None, *, op: str | None = None, actor: str | None = None,
              outcome: str | None = None) -> list[dict[str, Any]]:
        """The newest audit records first, filtered by ``op`` (``lockout``: intrusion alerts),
        ``actor``, ``outcome``."""
        return Req(params={"limit": limit, "op": op, "actor": actor, "outcome": outcome})

    @route("POST", "/v1/security/audit")
    def record_events(self, events: list[dict[str, Any]]) -> dict[str, int]:
        """Write events (``op``, ``target``, ``outcome``, ``subject``) into the audit log as you."""
        return Req(json={"events": events})

    @route("GET", "/v1/security/metrics")
    def metrics(self) -> bytes:
        """aria_security's Prometheus text."""
        return Req(raw=True)

    @route("POST", "/v1/security/seal")
    def seal(self) -> dict[str, Any]:
        """Emergency: seal OpenBao now."""
        return Req()

    @route("POST", "/v1/security/unseal")
    def unseal(self) -> dict[str, Any]:
        """Unseal the embedded OpenBao with the key SoftHSM holds."""
        return Req()

    @route("POST", "/v1/security/services/{service}/token")
    def service_token(self, service: str) -> dict[str, Any]:
        """A short-lived OpenBao token limited to ``service``'s policy, with the URL to use it."""
        return Req(path={"service": service})
