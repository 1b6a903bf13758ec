"""Who may do what to an account or a machine client: aria_auth's record-level checks, Ray-free.

Every RPC method's declared permission is checked before it runs (``Gate.check``, at the gateway
and again in the service); these checks decide on the record the method touches, inside the
service, so a request over HTTP, a call from another service and a queue job meet the same rules:

- A user manages their own profile, password, sessions and MFA through a *session* token (one
  ``POST /v1/auth/login`` gave: ``caller.session`` set); a service or hand-minted token is not a
  user's session, even when its subject names one, nor is an access token the OpenID provider
  issued to a client (it carries ``azp``: the client acts for the user only within its scopes).
- Anyone else needs the permission (``auth:user:*``, ``auth:session:*``, ``auth:client:*``) on the
  record's tenant. Whether a record exists is told only to callers allowed the action on that
  kind at all.
- Granting any role but ``user`` needs ``auth:role:assign``; an assigner whose permission is
  tenant-scoped may grant only roles it holds itself (an ``@any`` assigner, ``admin``, grants any).
- Listing without a tenant lists every tenant for an ``@any`` caller and the caller's own tenant
  for a tenant-scoped one.
- Row-level security backs these checks up (:func:`rls_tenant`): the work of a caller whose
  permission is tenant-scoped runs confined to its own tenant's users and clients, so a check
  that wrongly lets it through still finds no record of another tenant.

The role table is the one :func:`aria_actors.runtime.rpc.default_gate` holds (aria_security's
built-ins plus ``ARIA_SECURITY_ROLES``), so a decision needs no round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from aria_actors.runtime.errors import AriaError, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, default_gate

ALL_TENANTS = "*"  # no tenant is named this (tenant names are [a-z0-9_-]): only @any scopes match it
OWN_SESSION = "this is for a user's own session token (POST /v1/auth/login gives one)"
Fetch = Callable[[], Awaitable[dict[str, Any]]]


def gate() -> Gate:
    return default_gate()


def for_client(caller: Principal) -> bool:
    """Whether ``caller``'s token was issued to an OpenID client (``azp``): the client acting with
    the scopes the user consented to, never the user's own session."""
    return bool((caller.claims or {}).get("azp"))


def is_self(caller: Principal, user_id: object) -> bool:
    """Whether ``caller`` is the user ``user_id`` through one of their own sessions (not a token
    an OpenID client holds for them)."""
    return (bool(caller.session) and bool(caller.subject) and caller.subject == str(user_id)
            and not for_client(caller))


def require_session(caller: Principal) -> str:
    """The caller's user id, once the caller is a user's own session (not a service token, nor
    an OpenID client's token for the user)."""
    if not caller.session or not caller.subject or for_client(caller):
        raise Forbidden(OWN_SESSION)
    return caller.subject


def require_self(caller: Principal, user_id: object) -> None:
    """Refuse unless ``caller`` is that user's session, or aria_auth's own or another service's
    internal identity (which holds every permission anyway)."""
    if not (is_self(caller, user_id) or caller.is_internal):
        raise Forbidden(OWN_SESSION)


async def allowed_on(caller: Principal, action: str, resource: Mapping[str, Any], fetch: Fetch) -> dict[str, Any]:
    """``fetch()``'s record (a user, a client), once ``action`` on it in its tenant is allowed.

    Whether the record exists is told only to callers allowed the action on that kind at all.
    """
    try:
        target = await fetch()
    except AriaError:
        gate().require(caller, action, {"type": resource["type"]})
        raise
    gate().require(caller, action, {**resource, "tenant": target["tenant"]})
    return target


async def self_or_allowed(caller: Principal, user_id: str, action: str, fetch: Fetch) -> dict[str, Any] | None:
    """None when ``caller`` is the user (their own session); else the user, once ``action`` on it is allowed."""
    if is_self(caller, user_id):
        return None
    return await allowed_on(caller, action, {"type": "user", "owner": str(user_id)}, fetch)


def across_tenants(caller: Principal, action: str, kind: str) -> bool:
    """Whether ``caller`` may do ``action`` on ``kind`` in every tenant (an ``@any`` permission)."""
    return gate().allowed(caller, action, {"type": kind, "tenant": ALL_TENANTS})


def rls_tenant(caller: Principal, action: str, kind: str, tenant: str | None = None) -> str | None:
    """The tenant that row-level security confines ``caller``'s ``action`` on ``kind`` to (None: none,
    the service's view across tenants).

    A tenant-scoped caller (not ``@any``) is confined to its own tenant whatever tenant it named or
    record it asked for: a check that wrongly lets it through still reaches no other tenant's rows.
    Any other caller is confined to the ``tenant`` its work names (creating in it, listing it), or
    to none (a record by id). The empty tenant is no tenant for row-level security (None): such work
    keeps to its WHERE clause.
    """
    if caller.tenant and not across_tenants(caller, action, kind):
        return caller.tenant
    return tenant or None


def require_in_tenant(caller: Principal, action: str, kind: str, tenant: str) -> None:
    """Refuse unless ``caller`` may do ``action`` on a ``kind`` record of ``tenant`` ("" is the default tenant).

    The default tenant is no tenant for RBAC (a principal without a tenant matches tenant-less
    resources), so it is asked as ``None``; and since a tenant-less resource would match every
    tenant's ``@tenant`` permission, a caller of another tenant reaches the default tenant's
    records only with an ``@any`` permission.
    """
    if not tenant and caller.tenant and not across_tenants(caller, action, kind):
        raise Forbidden(f"{caller.subject!r} may not {action} outside its tenant", action=action)
    gate().require(caller, action, {"type": kind, "tenant": tenant or None})


def listable_tenant(caller: Principal, action: str, kind: str, tenant: str | None) -> str | None:
    """The tenant to list (None: all of them), once ``caller`` may list it.

    Without a tenant asked for, a caller allowed across tenants (``@any``) lists everything and a
    tenant-scoped one lists its own tenant.
    """
    if tenant is None:
        if across_tenants(caller, action, kind):
            return None
        tenant = caller.tenant
        if not tenant:
            raise Forbidden(f"{caller.subject!r} may not {action}", action=action)
    gate().require(caller, action, {"type": kind, "tenant": tenant})
    return tenant


def may_assign_roles(caller: Principal, roles: Collection[str] | None, tenant: str, *, always: bool = False) -> None:
    """Refuse unless ``caller`` may grant ``roles`` in ``tenant`` (``always``: even the plain ``user``)."""
    # Granting roles is its own permission (only `admin` has it by default), so holding
    # auth:user:write does not let one hand out roles one does not have.
    if roles is None:
        return
    wanted = list(roles)
    if wanted == ["user"] and not always:  # a plain user's role needs no grant
        return
    gate().require(caller, "auth:role:assign", {"type": "role", "tenant": tenant})
    if across_tenants(caller, "auth:role:assign", "role"):
        return  # an @any assigner (admin) may grant any role
    beyond = sorted(set(wanted) - set(caller.roles))
    if beyond:  # a tenant-scoped assigner must not grant more than it has (admin, say)
        raise Forbidden(f"{caller.subject!r} may not grant roles it does not hold: {', '.join(beyond)}",
                        action="auth:role:assign")
