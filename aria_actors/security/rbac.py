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
- A malformed principal or resource is a :class:`BadRequest` (400), never a ``TypeError``: the
  principal a mapping with ``sub`` a string, ``roles`` a role name or a list of at most
  :data:`MAX_ROLES` of them, ``tenant`` a string or null; the resource a mapping whose ``owner``,
  ``tenant`` and ``type`` are strings or null (:func:`check_principal`, :func:`check_resource`).
  Other members are ignored. A :class:`~aria_actors.runtime.principal.Principal`'s claims are
  well-formed by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.security.config import SecuritySettings

_ACTION = re.compile(r"^[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+$")
_PERM = re.compile(r"^(!?)([a-z0-9_*-]+):([a-z0-9_*-]+):([a-z0-9_*-]+)(?:@(any|tenant|own))?$")

MAX_ROLES = 64            # roles one principal may hold (bounds the work of one decision)
MAX_NAME_CHARS = 256      # a subject, role, tenant, owner or resource type

DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("*:*:*@any",),
    # Operators run the system: migrations, the store's gc/verify/sync, queues, model promotion,
    # sealing OpenBao; never secrets' values.
    "operator": ("*:*:read@any", "*:*:list@any", "monitor:*:*@any", "queue:*:*@any",
                 "data:*:*@any", "storage:store:*@any", "shape:model:*@any", "interpret:model:*@any",
                 "workflow:run:start@any", "workflow:run:control@any", "workflow:analytics:*@any",
                 "security:vault:*@any",
                 # the auto-tuner changes what operators may change by hand (queue concurrency),
                 # and an A/B test promotes what they may promote by hand
                 "tune:autotune:*@any", "tune:abtest:*@any",
                 "!security:secret:*", "!auth:oidc-client:*"),
    # Users and editors submit and follow their own queue jobs (a job runs as its enqueuer, so
    # what it may call is still bounded by the enqueuer's own roles).
    "editor": ("storage:*:*", "shape:*:*", "engine:*:*", "interpret:*:*", "workflow:*:*", "interface:*:*",
               "tune:*:*", "queue:job:write@own", "queue:job:read@own", "queue:job:list@own", "!storage:*:purge"),
    # Accounts (emails, sessions' addresses) are for administrators and operators, not viewers.
    # Nor who holds which grant or group, OpenID clients, or what others may do.
    "viewer": ("*:*:read", "*:*:list", "!security:secret:*", "!auth:user:*", "!auth:session:*",
               "!auth:client:*", "!auth:oidc-client:*", "!auth:grant:*", "!auth:group:*"),
    "user": ("storage:asset:read", "storage:asset:list", "storage:asset:write@own",
             "storage:asset:delete@own", "interface:session:*@own", "queue:job:write@own",
             "queue:job:read@own", "queue:job:list@own"),
    # Services read and write each other's data, but never accounts: a service token must not
    # create users, change roles or passwords, share resources or register OpenID clients (it may
    # introspect tokens: auth:token:read). Nor change another process's log level (aria_debugger's
    # config:write is for administrators).
    "service": ("*:*:read@any", "*:*:list@any", "*:*:write@any", "!security:*:*", "!auth:user:*",
                "!auth:session:*", "!auth:role:*", "!auth:client:*", "!auth:oidc-client:*", "!auth:grant:*",
                "!auth:group:*", "!debugger:*:*"),
    # A service acting for itself (its start-up, background work; never a token's role: see
    # runtime.principal). Anonymous callers hold no permission at all.
    "internal": ("*:*:*@any",),
    "anonymous": (),
}


def _name(value: Any, what: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise BadRequest(f"{what} must be a string of at most {MAX_NAME_CHARS} characters"
                         + (" or null" if optional else ""), field=what)
    return value


def check_principal(principal: Any) -> tuple[str, tuple[str, ...], str | None]:
    """``(sub, roles, tenant)`` of a principal (token claims); BadRequest when malformed.

    ``sub`` may be missing or empty (the decision then denies); ``roles`` is missing, a role name,
    or a list of role names; ``tenant`` missing, a string or null.
    """
    if not isinstance(principal, Mapping):
        raise BadRequest("principal must be an object with sub, roles and tenant", field="principal")
    sub = _name(principal.get("sub"), "principal.sub") or ""
    roles = principal.get("roles")
    if roles is None:
        roles = []
    elif isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list | tuple) or len(roles) > MAX_ROLES:
        raise BadRequest(f"principal.roles must be a list of at most {MAX_ROLES} role names",
                         field="principal.roles")
    names = tuple(_name(r, "principal.roles", optional=False) or "" for r in roles)
    return sub, names, _name(principal.get("tenant"), "principal.tenant")


def check_resource(resource: Any) -> dict[str, Any]:
    """The resource (``{}`` for None); BadRequest unless a mapping with string-or-null
    ``owner``, ``tenant`` and ``type``."""
    if resource is None:
        return {}
    if not isinstance(resource, Mapping):
        raise BadRequest("resource must be an object (owner, tenant, type)", field="resource")
    for key in ("owner", "tenant", "type"):
        _name(resource.get(key), f"resource.{key}")
    return dict(resource)


def _shown(value: Any) -> str:
    return value[:80] if isinstance(value, str) else type(value).__name__


def check_action(action: Any) -> str:
    """``action`` once it is ``service:resource:verb``; BadRequest otherwise."""
    if not isinstance(action, str) or not _ACTION.match(action):
        raise BadRequest(f"action {_shown(action)!r} is not service:resource:verb", action=_shown(action))
    return action


def default_roles() -> dict[str, tuple[str, ...]]:
    """The role table in force: the built-ins plus ``roles`` of the ``[security]`` section
    (``ARIA_SECURITY_ROLES`` or aria.toml; one may replace a built-in), read when called."""
    return {**DEFAULT_ROLES, **SecuritySettings().roles}


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
        """Allow or deny; BadRequest for a malformed action, principal or resource."""
        check_action(action)
        sub, roles, tenant = check_principal(principal)
        resource = check_resource(resource)
        if not sub:
            return Decision(False, "principal has no subject")
        service, kind, verb = action.split(":")
        allow_reason = ""
        for role in roles:
            for perm in self._parsed.get(role, ()):
                if not perm.matches(service, kind, verb):
                    continue
                if perm.deny:
                    return Decision(False, f"denied by role {role!r}")
                if not allow_reason and self._in_scope(perm.scope, sub, tenant, resource):
                    allow_reason = f"allowed by role {role!r} ({perm.scope})"
        if allow_reason:
            return Decision(True, allow_reason)
        return Decision(False, "no role grants this action on this resource")

    @staticmethod
    def _in_scope(scope: str, sub: str, tenant: str | None, resource: dict[str, Any]) -> bool:
        if scope == "any":
            return True
        if resource.get("tenant") is not None and resource["tenant"] != tenant:
            return False
        if scope == "own":
            return resource.get("owner") is not None and resource["owner"] == sub
        return True

    def authorize(self, principal: dict[str, Any], action: str,
                  resource: dict[str, Any] | None = None) -> bool:
        return self.decide(principal, action, resource).allowed
