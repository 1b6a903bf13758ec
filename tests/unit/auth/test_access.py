"""aria_auth's record-level checks (who may act on which user or client), without a database."""

from __future__ import annotations

from typing import Any

import pytest

from aria_actors.auth import access
from aria_actors.auth.errors import UserNotFound
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate
from aria_actors.security.rbac import DEFAULT_ROLES

ALICE_ID = "0b0b0b0b-0000-0000-0000-00000000a11c"
ALICE = Principal(ALICE_ID, ("user",), session="s1")
ADMIN = Principal("root", ("admin",))
ADMIN_SESSION = Principal("0d0d0d0d-0000-0000-0000-0000000000ad", ("admin",), session="s2")
VIEWER = Principal("v", ("viewer",))
SERVICE = Principal("svc:aria_storage", ("service",), kind="service")
OPERATOR = Principal("op", ("operator",))  # the operator role: reads and lists across tenants
TENANT_ADMIN = Principal("ta", ("tenant-admin",), tenant="acme")
TENANTLESS_ADMIN = Principal("tl", ("tenant-admin",))


@pytest.fixture(autouse=True)
def roles(monkeypatch: pytest.MonkeyPatch) -> None:
    # a deployment's own role (ARIA_SECURITY_ROLES) delegating account management per tenant
    gate = Gate({**DEFAULT_ROLES, "tenant-admin": ("auth:*:*",)})
    monkeypatch.setattr(access, "gate", lambda: gate)


def fetch(record: dict[str, Any] | None) -> Any:
    calls: list[int] = []

    async def _fetch() -> dict[str, Any]:
        calls.append(1)
        if record is None:
            raise UserNotFound(user_id="x")
        return record

    _fetch.calls = calls  # type: ignore[attr-defined]
    return _fetch


def test_only_a_session_of_the_user_is_the_user() -> None:
    assert access.is_self(ALICE, ALICE_ID)
    assert not access.is_self(Principal(ALICE_ID, ("user",)), ALICE_ID)  # a token without a session
    assert not access.is_self(ALICE, "someone-else")
    assert access.require_session(ALICE) == ALICE_ID
    for caller in (ADMIN, SERVICE, Principal.operator(), Principal.internal("aria_auth")):
        with pytest.raises(Forbidden, match="own session"):
            access.require_session(caller)


def test_own_only_actions_admit_the_user_and_internal_callers() -> None:
    access.require_self(ALICE, ALICE_ID)
    access.require_self(Principal.internal("aria_auth"), ALICE_ID)
    for caller in (ADMIN, ADMIN_SESSION, Principal.operator(), SERVICE):
        with pytest.raises(Forbidden):
            access.require_self(caller, ALICE_ID)


async def test_a_user_acting_on_themselves_needs_no_permission_and_no_lookup() -> None:
    f = fetch({"id": ALICE_ID, "tenant": ""})
    assert await access.self_or_allowed(ALICE, ALICE_ID, "auth:user:read", f) is None
    assert f.calls == []
    with pytest.raises(Forbidden):  # another user: auth:user:read, which `user` lacks
        await access.self_or_allowed(ALICE, "someone-else", "auth:user:read", fetch({"tenant": ""}))


async def test_existence_is_told_only_to_callers_allowed_on_the_kind() -> None:
    with pytest.raises(UserNotFound):
        await access.allowed_on(ADMIN, "auth:user:read", {"type": "user"}, fetch(None))
    for caller in (VIEWER, SERVICE, ALICE):
        with pytest.raises(Forbidden):
            await access.allowed_on(caller, "auth:user:read", {"type": "user"}, fetch(None))
    assert (await access.allowed_on(OPERATOR, "auth:user:read", {"type": "user"}, fetch({"tenant": "x"})))


async def test_a_tenant_scoped_caller_reaches_only_its_tenant() -> None:
    mine, theirs = fetch({"tenant": "acme"}), fetch({"tenant": "globex"})
    assert await access.allowed_on(TENANT_ADMIN, "auth:client:write", {"type": "client"}, mine)
    with pytest.raises(Forbidden):
        await access.allowed_on(TENANT_ADMIN, "auth:client:write", {"type": "client"}, theirs)
    with pytest.raises(UserNotFound):  # it may act on that kind, so it learns what is missing
        await access.allowed_on(TENANT_ADMIN, "auth:user:read", {"type": "user"}, fetch(None))


def test_listing_without_a_tenant_means_every_tenant_only_for_any_scoped_callers() -> None:
    assert access.listable_tenant(ADMIN, "auth:user:list", "user", None) is None
    assert access.listable_tenant(OPERATOR, "auth:client:list", "client", None) is None
    assert access.listable_tenant(ADMIN, "auth:user:list", "user", "globex") == "globex"
    assert access.listable_tenant(TENANT_ADMIN, "auth:user:list", "user", None) == "acme"
    assert access.listable_tenant(TENANT_ADMIN, "auth:user:list", "user", "acme") == "acme"
    for caller, tenant in ((TENANT_ADMIN, "globex"), (TENANTLESS_ADMIN, None), (VIEWER, None),
                           (SERVICE, None), (ALICE, "")):
        with pytest.raises(Forbidden):
            access.listable_tenant(caller, "auth:user:list", "user", tenant)


def test_row_level_security_confines_a_tenant_scoped_caller_to_its_own_tenant() -> None:
    alice_in_acme = Principal(ALICE_ID, ("user",), tenant="acme", session="s1")
    for caller in (TENANT_ADMIN, alice_in_acme):  # whatever tenant it names, or none (a record by id)
        for tenant in (None, "", "acme", "globex"):
            assert access.rls_tenant(caller, "auth:user:write", "user", tenant) == "acme"
    # @any callers: the tenant their work names, else none (the service, across tenants)
    for caller in (ADMIN, ADMIN_SESSION, Principal.operator(), Principal.internal("aria_auth"),
                   Principal("root", ("admin",), tenant="acme")):
        assert access.rls_tenant(caller, "auth:user:write", "user") is None
        assert access.rls_tenant(caller, "auth:user:write", "user", "globex") == "globex"
        assert access.rls_tenant(caller, "auth:user:write", "user", "") is None  # the empty tenant: none
    assert access.rls_tenant(OPERATOR, "auth:user:list", "user") is None
    assert access.rls_tenant(OPERATOR, "auth:user:write", "user") is None  # no tenant of its own to confine to
    assert access.rls_tenant(TENANTLESS_ADMIN, "auth:user:write", "user", "acme") == "acme"
    assert access.rls_tenant(TENANTLESS_ADMIN, "auth:user:write", "user") is None


def test_granting_roles_needs_the_assign_permission_and_a_tenant_scope_grants_only_held_roles() -> None:
    access.may_assign_roles(ALICE, None, "")  # no roles given: nothing to grant
    access.may_assign_roles(TENANT_ADMIN, ["user"], "globex")  # the plain user role needs no grant
    access.may_assign_roles(ADMIN, ["admin", "editor"], "")
    access.may_assign_roles(TENANT_ADMIN, ("tenant-admin",), "acme")
    with pytest.raises(Forbidden, match="does not hold: admin"):
        access.may_assign_roles(TENANT_ADMIN, ["admin", "tenant-admin"], "acme")
    with pytest.raises(Forbidden):  # not its tenant
        access.may_assign_roles(TENANT_ADMIN, ["tenant-admin"], "globex")
    with pytest.raises(Forbidden):  # a client's role is always a grant
        access.may_assign_roles(TENANT_ADMIN, ["user"], "globex", always=True)
    for caller in (SERVICE, VIEWER, OPERATOR):
        with pytest.raises(Forbidden):
            access.may_assign_roles(caller, ["service"], "")
