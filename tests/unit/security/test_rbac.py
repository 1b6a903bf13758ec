"""RBAC decisions, table-tested."""

from __future__ import annotations

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.security.rbac import Authorizer, Permission

ALICE = {"sub": "alice", "roles": ["user"], "tenant": "t1"}
ED = {"sub": "ed", "roles": ["editor"], "tenant": "t1"}
VIC = {"sub": "vic", "roles": ["viewer"], "tenant": "t1"}
ADMIN = {"sub": "root", "roles": ["admin"]}
OPS = {"sub": "ops", "roles": ["operator"], "tenant": "t9"}
SVC = {"sub": "svc:aria_storage", "roles": ["service"]}
NOBODY = {"sub": "x", "roles": ["unknown-role"], "tenant": "t1"}

OWN = {"type": "asset", "owner": "alice", "tenant": "t1"}
BOBS = {"type": "asset", "owner": "bob", "tenant": "t1"}
OTHER_TENANT = {"type": "asset", "owner": "alice", "tenant": "t2"}

TABLE = [
    (ALICE, "storage:asset:write", OWN, True),
    (ALICE, "storage:asset:write", BOBS, False),           # owner rule
    (ALICE, "storage:asset:read", BOBS, True),             # tenant scope
    (ALICE, "storage:asset:read", OTHER_TENANT, False),    # tenant rule
    (ALICE, "storage:asset:write", OTHER_TENANT, False),   # owns it, wrong tenant
    (ALICE, "storage:asset:delete", OWN, True),
    (ALICE, "queue:job:write", {}, False),                 # no role grants it
    (ED, "storage:asset:write", BOBS, True),
    (ED, "storage:asset:purge", BOBS, False),              # explicit deny beats the wildcard
    (ED, "storage:asset:write", OTHER_TENANT, False),
    (VIC, "engine:model:read", {"tenant": "t1"}, True),
    (VIC, "engine:model:write", {"tenant": "t1"}, False),
    (VIC, "security:secret:read", {}, False),
    (ADMIN, "security:secret:read", {"tenant": "t5"}, True),
    (ADMIN, "storage:asset:purge", OTHER_TENANT, True),
    (OPS, "storage:asset:read", OWN, True),                # @any crosses tenants
    (OPS, "security:secret:read", {}, False),
    (OPS, "queue:job:cancel", {"tenant": "t3"}, True),
    (SVC, "storage:asset:write", OWN, True),
    (SVC, "security:secret:read", {}, False),
    (SVC, "storage:asset:delete", OWN, False),
    (NOBODY, "storage:asset:read", OWN, False),
    ({"roles": ["admin"]}, "storage:asset:read", {}, False),  # no subject
    ({"sub": "a", "roles": "admin"}, "storage:asset:read", {}, True),  # role as a string
    ({"sub": "a", "roles": ["user"]}, "storage:asset:read", {"tenant": "t1"}, False),  # no tenant
    ({"sub": "a", "roles": ["user"]}, "storage:asset:read", {}, True),  # tenant-less resource
]


@pytest.mark.parametrize(("principal", "action", "resource", "allowed"), TABLE)
def test_decision_table(principal, action, resource, allowed) -> None:
    assert Authorizer().authorize(principal, action, resource) is allowed


@pytest.mark.parametrize("action", ["storage", "storage:asset", "Storage:asset:read", "a:b:c:d", "", 3])
def test_malformed_action_is_bad_request(action) -> None:
    with pytest.raises(BadRequest):
        Authorizer().decide(ALICE, action, {})


def test_decision_says_why() -> None:
    d = Authorizer().decide(ED, "storage:asset:purge", BOBS)
    assert not d.allowed and "editor" in d.reason


def test_custom_roles_and_bad_permissions() -> None:
    authz = Authorizer({"tuner": ("tune:run:*@own",)})
    assert authz.authorize({"sub": "t", "roles": ["tuner"]}, "tune:run:start", {"owner": "t"})
    assert not authz.authorize({"sub": "t", "roles": ["tuner"]}, "tune:run:start", {"owner": "u"})
    with pytest.raises(ValueError):
        Permission.parse("tune:run")
    with pytest.raises(ValueError):
        Permission.parse("tune:run:x@everyone")


def test_extra_roles_come_from_settings_and_bad_permissions_are_refused(monkeypatch) -> None:
    import json

    from aria_actors.security.config import SecurityConfig
    from aria_actors.security.rbac import DEFAULT_ROLES, Authorizer

    monkeypatch.setenv("ARIA_SECURITY_ROLES", json.dumps({"tenant-admin": ["auth:*:*", "storage:*:*"]}))
    roles = SecurityConfig().roles
    authz = Authorizer({**DEFAULT_ROLES, **roles})
    assert authz.authorize({"sub": "ta", "roles": ["tenant-admin"], "tenant": "acme"}, "auth:user:write",
                           {"tenant": "acme"})
    assert not authz.authorize({"sub": "ta", "roles": ["tenant-admin"], "tenant": "acme"}, "auth:user:write",
                               {"tenant": "globex"})
    with pytest.raises(ValueError, match="invalid permission"):
        Authorizer({"broken": ("not a permission",)})


# -- malformed principals and resources are a 400, never a TypeError ------------------------
MALFORMED_PRINCIPALS = {
    "roles-int": {"sub": "a", "roles": 5},
    "roles-nested": {"sub": "a", "roles": [[1]]},
    "roles-dict": {"sub": "a", "roles": {"a": 1}},
    "roles-ints": {"sub": "a", "roles": [1, 2]},
    "roles-null-item": {"sub": "a", "roles": [None]},
    "roles-mixed": {"sub": "a", "roles": ["admin", {"x": 1}]},
    "roles-set": {"sub": "a", "roles": {"admin"}},
    "roles-too-many": {"sub": "a", "roles": [f"r{i}" for i in range(65)]},
    "roles-huge-name": {"sub": "a", "roles": ["r" * 5000]},
    "roles-bool": {"sub": "a", "roles": True},
    "sub-int": {"sub": 5, "roles": ["admin"]},
    "sub-list": {"sub": ["alice"], "roles": ["admin"]},
    "sub-dict": {"sub": {"a": 1}, "roles": ["admin"]},
    "sub-bool": {"sub": True, "roles": ["admin"]},
    "tenant-int": {"sub": "a", "roles": ["user"], "tenant": 5},
    "tenant-list": {"sub": "a", "roles": ["user"], "tenant": ["t1"]},
    "tenant-dict": {"sub": "a", "roles": ["user"], "tenant": {"a": 1}},
    "principal-list": ["alice", ["admin"]],
    "principal-str": "alice",
    "principal-int": 5,
    "principal-none": None,
}

MALFORMED_RESOURCES = {
    "owner-int": {"owner": 5},
    "owner-list": {"owner": ["alice"]},
    "owner-dict": {"owner": {"a": 1}, "tenant": "t1"},
    "tenant-int": {"tenant": 1},
    "tenant-list": {"tenant": ["t1"]},
    "type-list": {"type": []},
    "resource-list": ["owner", "alice"],
    "resource-str": "asset",
    "resource-int": 7,
}


@pytest.mark.parametrize("principal", MALFORMED_PRINCIPALS.values(), ids=MALFORMED_PRINCIPALS.keys())
@pytest.mark.parametrize("action", ["storage:asset:write", "security:secret:read"])
def test_malformed_principal_is_bad_request(principal, action) -> None:
    with pytest.raises(BadRequest):
        Authorizer().decide(principal, action, OWN)


@pytest.mark.parametrize("resource", MALFORMED_RESOURCES.values(), ids=MALFORMED_RESOURCES.keys())
@pytest.mark.parametrize("principal", [ALICE, ED, ADMIN])
def test_malformed_resource_is_bad_request(principal, resource) -> None:
    with pytest.raises(BadRequest):
        Authorizer().decide(principal, "storage:asset:write", resource)


def test_list_and_tenant_odd_types_cannot_match_each_other() -> None:
    """A list tenant on both sides used to compare equal and allow."""
    with pytest.raises(BadRequest):
        Authorizer().decide({"sub": "a", "roles": ["user"], "tenant": ["t"]}, "storage:asset:read",
                            {"tenant": ["t"]})


def test_well_formed_edge_cases_still_decide() -> None:
    authz = Authorizer()
    assert authz.authorize({"sub": "a", "roles": ("user",)}, "storage:asset:read", None)  # tuple, None
    assert not authz.authorize({"sub": "", "roles": ["admin"]}, "storage:asset:read", {})
    assert not authz.authorize({"sub": "a", "roles": None}, "storage:asset:read", {})
    assert not authz.authorize({"sub": "a", "roles": []}, "storage:asset:read", {})
    assert authz.authorize({"sub": "a", "roles": ["user"], "tenant": None, "iss": "aria", "exp": 1},
                           "storage:asset:read", {"type": "asset", "owner": None, "tenant": None, "x": [1]})


def test_a_malformed_trusted_principal_is_refused_not_a_type_error() -> None:
    """A Principal rebuilt from a stored record (a queue job's enqueuer) with odd fields."""
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.rpc import Gate

    gate = Gate()
    odd = Principal.from_dict({"subject": "x", "roles": [["admin"]], "tenant": "t1"})
    with pytest.raises(BadRequest):
        gate.allowed(odd, "storage:asset:read", {"tenant": "t1"})
    odd = Principal.from_dict({"subject": "x", "roles": ["admin"], "tenant": {"t": 1}})
    with pytest.raises(BadRequest):
        gate.allowed(odd, "storage:asset:read", {"tenant": "t1"})
    assert gate.allowed(Principal("x", ("user",), tenant="t1"), "storage:asset:read", {"tenant": "t1"})
