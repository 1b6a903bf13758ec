"""OpenBao policies Aria installs: one per service, one for aria_security itself.

Guarantees and caveats
----------------------
- ``aria-svc-<service>`` grants KV v2 on ``secret/*/services/<service>/*`` (data, metadata,
  delete, undelete, destroy), read on ``secret/data/shared/*``, and transit use of keys named
  ``<service>`` or ``<service>-*``, and database credentials of roles named the same way.
  Nothing else: another service's path answers 403.
- ``aria-admin`` is the policy of aria_security's own token (the root token is revoked after
  bootstrap). It can use the secret, transit, PKI and database mounts, revoke leases, mint
  service tokens only through the ``aria-service`` token role (whose ``allowed_policies`` are
  the service policies), hand out AppRole credentials of its own role ``aria-security`` (for an
  Aria that reaches this server by URL), seal the server in an emergency, and run the authenticated root-token
  regeneration
  (``sys/generate-root-token``), which additionally needs the HSM-wrapped unseal key. It cannot
  write policies, mounts, auth methods or audit devices: those are set by a root token that
  lives only while :mod:`aria_actors.security.openbao` configures the server.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aria_actors.runtime.registry import SERVICE_MODULES
from aria_actors.security.errors import SecretAccessDenied

if TYPE_CHECKING:
    from aria_actors.runtime.principal import Principal

ADMIN_POLICY = "aria-admin"
SERVICE_ROLE = "aria-service"
ADMIN_APPROLE = "aria-security"
SHARED_PREFIX = "shared"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def service_policy_name(service: str) -> str:
    return f"aria-svc-{service}"


def service_names() -> tuple[str, ...]:
    """Every registered service, from the registry's module list (no service module is imported)."""
    return tuple(f"aria_{m}" for m in SERVICE_MODULES)


def service_scope(caller: Principal, service: str | None) -> str | None:
    """Whose OpenBao policy a KV, transit or database-credentials call runs under (None: the admin
    token of aria_security).

    A service acting for itself (``svc:aria_x``) always runs under ``aria-svc-aria_x``, so OpenBao
    itself, not Aria's code, refuses it other services' paths and keys; it cannot name another
    service. Any other caller has already passed RBAC for the whole store (``security:*@any``), so
    a ``service=`` from it can only narrow the call to that service's policy, never widen it.
    """
    if not caller.is_internal:
        return service
    own = caller.subject.removeprefix("svc:")
    if own == "aria_security":  # its own start-up and rotation need the admin token
        return service
    if service is not None and service != own:
        raise SecretAccessDenied(f"{caller.subject} may not act as {service!r}", service=service)
    return own


def service_policy(service: str) -> str:
    if not _NAME.match(service):
        raise ValueError(f"service name {service!r} is not a valid policy component")
    kv = f"services/{service}"
    return f'''
path "secret/data/{kv}/*" {{ capabilities = ["create", "read", "update", "patch", "delete"] }}
path "secret/metadata/{kv}/*" {{ capabilities = ["read", "list", "delete"] }}
path "secret/metadata/{kv}" {{ capabilities = ["list"] }}
path "secret/delete/{kv}/*" {{ capabilities = ["update"] }}
path "secret/undelete/{kv}/*" {{ capabilities = ["update"] }}
path "secret/destroy/{kv}/*" {{ capabilities = ["update"] }}
path "secret/data/{SHARED_PREFIX}/*" {{ capabilities = ["read"] }}
path "secret/metadata/{SHARED_PREFIX}/*" {{ capabilities = ["read", "list"] }}
path "transit/encrypt/{service}" {{ capabilities = ["update"] }}
path "transit/encrypt/{service}-*" {{ capabilities = ["update"] }}
path "transit/decrypt/{service}" {{ capabilities = ["update"] }}
path "transit/decrypt/{service}-*" {{ capabilities = ["update"] }}
path "transit/rewrap/{service}" {{ capabilities = ["update"] }}
path "transit/rewrap/{service}-*" {{ capabilities = ["update"] }}
path "transit/datakey/+/{service}" {{ capabilities = ["update"] }}
path "transit/datakey/+/{service}-*" {{ capabilities = ["update"] }}
path "database/creds/{service}" {{ capabilities = ["read"] }}
path "database/creds/{service}-*" {{ capabilities = ["read"] }}
path "database/static-creds/{service}" {{ capabilities = ["read"] }}
path "database/static-creds/{service}-*" {{ capabilities = ["read"] }}
path "auth/token/renew-self" {{ capabilities = ["update"] }}
path "auth/token/lookup-self" {{ capabilities = ["read"] }}
'''


ADMIN_POLICY_HCL = f'''
path "secret/*" {{ capabilities = ["create", "read", "update", "patch", "delete", "list"] }}
path "transit/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}
path "pki/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}
path "database/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}
path "sys/leases/revoke" {{ capabilities = ["update"] }}
path "sys/leases/lookup" {{ capabilities = ["update"] }}
path "auth/token/create/{SERVICE_ROLE}" {{ capabilities = ["update"] }}
path "auth/token/revoke-accessor" {{ capabilities = ["update"] }}
path "auth/token/renew-self" {{ capabilities = ["update"] }}
path "auth/token/lookup-self" {{ capabilities = ["read"] }}
path "auth/approle/role/{ADMIN_APPROLE}/role-id" {{ capabilities = ["read"] }}
path "auth/approle/role/{ADMIN_APPROLE}/secret-id" {{ capabilities = ["update"] }}
path "sys/seal" {{ capabilities = ["update", "sudo"] }}
path "sys/generate-root-token/*" {{ capabilities = ["read", "update", "delete"] }}
path "sys/audit" {{ capabilities = ["read", "sudo"] }}
'''
