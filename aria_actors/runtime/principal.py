"""Who is calling: the verified identity that travels with every call between services.

The gateway builds a :class:`Principal` from the claims of a verified bearer token; a service that
acts for a caller passes that principal on; a service acting for itself uses
:meth:`Principal.internal`; a queue job runs as the principal that enqueued it; the local
operator (the ``aria`` CLI talking to Ray directly, which already controls the cluster) is
:meth:`Principal.operator`.

Guarantees and caveats
----------------------
- Immutable and picklable: it crosses Ray as plain data and cannot be changed on the way.
- Over Ray a principal is asserted by the calling process, not re-verified: whoever can call a
  Ray actor already runs code inside the cluster (Ray's token guards that door). Over HTTP it is
  built only from a signature-checked token, never from a request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["user", "service", "operator", "anonymous"]
INTERNAL_ROLE = "internal"  # a service acting for itself; never granted to a token by issue_token
ANONYMOUS_ROLE = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: tuple[str, ...] = ()
    tenant: str | None = None
    kind: Kind = "user"
    session: str | None = None  # the aria_auth session id (``sid``) of a user's access token
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """The principal of a verified token's claims (``sub``, ``roles``, ``tenant``, ``sid``)."""
        roles = claims.get("roles") or ()
        if isinstance(roles, str):
            roles = (roles,)
        roles = tuple(str(r) for r in roles if str(r) != INTERNAL_ROLE)  # never from a token
        kind: Kind = "service" if claims.get("svc") or claims.get("client_id") else "user"
        return cls(subject=str(claims.get("sub") or ""), roles=roles, tenant=claims.get("tenant") or None,
                   kind=kind, session=claims.get("sid") or None, claims=dict(claims))

    @classmethod
    def internal(cls, service: str) -> Principal:
        """A service acting for itself (its own start-up, its background work)."""
        return cls(subject=f"svc:{service}", roles=(INTERNAL_ROLE,), kind="service")

    @classmethod
    def operator(cls) -> Principal:
        """The local operator: the CLI on a machine that holds the Ray cluster's token."""
        return cls(subject="operator", roles=("admin",), kind="operator")

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(subject="anonymous", roles=(ANONYMOUS_ROLE,), kind="anonymous")

    @property
    def is_internal(self) -> bool:
        return self.kind == "service" and INTERNAL_ROLE in self.roles

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous" and bool(self.subject)

    def as_claims(self) -> dict[str, Any]:
        """What RBAC decides on: the token-shaped view of this principal."""
        out: dict[str, Any] = {"sub": self.subject, "roles": list(self.roles)}
        if self.tenant:
            out["tenant"] = self.tenant
        if self.session:
            out["sid"] = self.session
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what a queue job records of its enqueuer)."""
        return {"subject": self.subject, "roles": list(self.roles), "tenant": self.tenant,
                "kind": self.kind, "session": self.session}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Principal:
        return cls(subject=str(data["subject"]), roles=tuple(data.get("roles") or ()),
                   tenant=data.get("tenant"), kind=data.get("kind", "user"), session=data.get("session"))
