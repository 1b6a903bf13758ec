"""Role-based access control with owner and tenant rules: one ``decide(principal, action, resource)``.

A permission is ``<service>:<resource>:<verb>[@scope]``; each segment may be ``*``. Scopes:

- ``@any``    any resource, any tenant (administrators)
- ``@tenant`` resources of the principal's tenant, or with no tenant (the default scope)
- ``@own``    resources the principal owns (``resource["owner"] == principal["sub"]``), same tenant

A permission starting with ``!`` denies; a matching deny beats every allow. No match denies.

Guarantees and caveats
----------------------
- Default deny: an unknown role, a principal without ``sub``, a malformed action all deny.
- Pure and in-memory: a decision takes microseconds and needs no server; roles are data
  (:data:`DEFAULT_ROLES`, or the table given to :class:`Authorizer`).
- A principal without a tenant only matches ``@any`` permissions and tenant-less resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import BadRequest

_ACTION = re.compile(r"^[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+$")
_PERM = re.compile(r"^(!?)([a-z0-9_*-]+):([a-z0-9_*-]+):([a-z0-9_*-]+)(?:@(any|tenant|own))?$")

DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("*:*:*@any",),
    # Operators run the system: migrations, the store's gc/verify/sync, queues, model promotion,
    # sealing OpenBao; never secrets' values.
    "operator": ("*:*:read@any", "*:*:list@any", "monitor:*:*@any", "queue:*:*@any",
                 "data:*:*@any", "storage:store:*@any", "shape:model:*@any", "security:vault:*@any",
                 "!security:secret:*"),
    # Users and editors submit and follow their own queue jobs (a job runs as its enqueuer, so
    # what it may call is still bounded by the enqueuer's own roles).
    "editor": ("storage:*:*", "shape:*:*", "engine:*:*", "workflow:*:*", "interface:*:*",
               "queue:job:write@own", "queue:job:read@own", "queue:job:list@own", "!storage:*:purge"),
    # Accounts (emails, sessions' addresses) are for administrators and operators, not viewers.
    "viewer": ("*:*:read", "*:*:list", "!security:secret:*", "!auth:user:*", "!auth:session:*",
               "!auth:client:*"),
    "user": ("storage:asset:read", "storage:asset:list", "storage:asset:write@own",
             "storage:asset:delete@own", "interface:session:*@own", "queue:job:write@own",
             "queue:job:read@own", "queue:job:list@own"),
    # Services read and write each other's data, but never accounts: a service token must not
    # create users, change roles or passwords (it may introspect tokens: auth:token:read).
    "service": ("*:*:read@any", "*:*:list@any", "*:*:write@any", "!security:*:*", "!auth:user:*",
                "!auth:session:*", "!auth:role:*", "!auth:client:*"),
    # A service acting for itself (its start-up, background work; never a token's role: see
    # runtime.principal). Anonymous callers hold no permission at all.
    "internal": ("*:*:*@any",),
    "anonymous": (),
}


def default_roles() -> dict[str, tuple[str, ...]]:
    """The role table in force: the built-ins plus ``ARIA_SECURITY_ROLES`` (which may replace one)."""
    from aria_actors.security.config import SecurityConfig

    return {**DEFAULT_ROLES, **SecurityConfig().roles}


@dataclass(frozen=True, slots=True)
class Permission:
    deny: bool
    service: str
    resource: str
    verb: str
    scope: str

    @classmethod
    def parse(cls, text: str) -> Permission:
        m = _PERM.match(text)
        if not m:
            raise ValueError(f"invalid permission {text!r}: want service:resource:verb[@any|tenant|own]")
        deny, service, resource, verb, scope = m.groups()
        return cls(bool(deny), service, resource, verb, scope or "tenant")

    def matches(self, service: str, resource: str, verb: str) -> bool:
        return all(p in ("*", v) for p, v in
                   ((self.service, service), (self.resource, resource), (self.verb, verb)))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass
class Authorizer:
    """Decides with a role table; build once, call :meth:`decide` per request."""

    roles: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ROLES))
    _parsed: dict[str, tuple[Permission, ...]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._parsed = {role: tuple(Permission.parse(p) for p in perms)
                        for role, perms in self.roles.items()}

    def decide(self, principal: dict[str, Any], action: str, resource: dict[str, Any] | None = None
               ) -> Decision:
        if not isinstance(action, str) or not _ACTION.match(action):
            raise BadRequest(f"action {action!r} is not service:resource:verb", action=str(action)[:80])
        resource = resource or {}
        sub = principal.get("sub") if isinstance(principal, dict) else None
        if not sub:
            return Decision(False, "principal has no subject")
        service, kind, verb = action.split(":")
        roles = principal.get("roles") or ()
        if isinstance(roles, str):
            roles = (roles,)
        allow_reason = ""
        for role in roles:
            for perm in self._parsed.get(role, ()):
                if not perm.matches(service, kind, verb):
                    continue
                if perm.deny:
                    return Decision(False, f"denied by role {role!r}")
                if not allow_reason and self._in_scope(perm.scope, principal, resource):
                    allow_reason = f"allowed by role {role!r} ({perm.scope})"
        if allow_reason:
            return Decision(True, allow_reason)
        return Decision(False, "no role grants this action on this resource")

    @staticmethod
    def _in_scope(scope: str, principal: dict[str, Any], resource: dict[str, Any]) -> bool:
        if scope == "any":
            return True
        tenant = resource.get("tenant")
        if tenant is not None and tenant != principal.get("tenant"):
            return False
        if scope == "own":
            return resource.get("owner") is not None and resource.get("owner") == principal.get("sub")
        return True

    def authorize(self, principal: dict[str, Any], action: str,
                  resource: dict[str, Any] | None = None) -> bool:
        return self.decide(principal, action, resource).allowed
