"""The grants' decision core (Ray-free, no database): verbs per relation, groups, tenants, deny
beats allow, explanations, the role table, and changes to the index."""

from __future__ import annotations

import itertools
import random

import pytest

from aria_actors.auth.grants_decide import (
    Grant,
    GrantIndex,
    Resource,
    RoleRules,
    Subject,
    check_action,
    check_kind,
    check_relation,
    check_resource_id,
    parse_subject,
)
from aria_actors.auth.grants_errors import InvalidGrant
from aria_actors.security.rbac import DEFAULT_ROLES, Authorizer

ALICE, BOB, CAROL, DAVE = (f"00000000-0000-0000-0000-00000000000{i}" for i in range(1, 5))
DESIGNERS = "10000000-0000-0000-0000-000000000001"


def index(roles: dict | None = None) -> GrantIndex:
    idx = GrantIndex(RoleRules(roles if roles is not None else DEFAULT_ROLES))
    idx.put_resource(Resource("character", "42", "acme", ALICE))
    idx.put_group(DESIGNERS, "acme", "designers")
    idx.add_member(DESIGNERS, CAROL)
    return idx


def user(uid: str, *roles: str, tenant: str = "acme") -> Subject:
    return Subject(uid, roles or ("user",), tenant)


def test_the_owner_may_do_everything_and_others_nothing() -> None:
    idx = index()
    for verb in ("read", "list", "write", "delete", "share"):
        d = idx.decide(user(ALICE), verb, "character", "42")
        assert d.allowed and d.because == "owner of character:42"
    d = idx.decide(user(BOB), "read", "character", "42")
    assert not d.allowed and d.because == "no role or grant allows read on character:42"


def test_viewer_reads_editor_writes_only_owner_deletes_and_shares() -> None:
    idx = index()
    idx.put_grant(Grant("g1", "character", "42", f"user:{BOB}", "viewer"))
    idx.put_grant(Grant("g2", "character", "42", f"user:{DAVE}", "editor"))
    assert idx.decide(user(BOB), "read", "character", "42").allowed
    assert idx.decide(user(BOB), "list", "character", "42").allowed
    assert not idx.decide(user(BOB), "write", "character", "42").allowed
    assert idx.decide(user(DAVE), "write", "character", "42").because == f"grant editor to user:{DAVE} on character:42"
    assert not idx.decide(user(DAVE), "share", "character", "42").allowed
    assert not idx.decide(user(DAVE), "delete", "character", "42").allowed


def test_group_and_tenant_grants_and_their_explanation() -> None:
    idx = index()
    idx.put_grant(Grant("g1", "character", "42", f"group:{DESIGNERS}", "editor"))
    d = idx.decide(user(CAROL), "write", "character", "42")
    assert d.to_dict() == {"allowed": True, "because": "grant editor to group:designers on character:42",
                           "via": ["grant editor to group:designers on character:42"]}
    assert not idx.decide(user(BOB), "write", "character", "42").allowed
    idx.put_grant(Grant("g2", "character", "42", "tenant:acme", "viewer"))
    assert idx.decide(user(BOB), "read", "character", "42").because == "grant viewer to tenant:acme on character:42"
    # another tenant's user gets nothing from them, even with the same id
    assert not idx.decide(user(CAROL, tenant="globex"), "read", "character", "42").allowed


def test_a_group_of_another_tenant_does_not_reach_its_members() -> None:
    idx = index()
    other = "10000000-0000-0000-0000-000000000002"
    idx.put_group(other, "globex", "designers")
    idx.add_member(other, CAROL)
    idx.put_grant(Grant("g1", "character", "42", f"group:{other}", "viewer"))
    assert not idx.decide(user(CAROL), "read", "character", "42").allowed


def test_deny_beats_allow_from_grants_owner_and_roles() -> None:
    idx = index()
    idx.put_grant(Grant("g1", "character", "42", f"group:{DESIGNERS}", "editor"))
    idx.put_grant(Grant("g2", "character", "42", f"user:{CAROL}", "viewer", "deny"))
    d = idx.decide(user(CAROL), "read", "character", "42", explain=True)
    assert not d.allowed and d.because == f"deny grant viewer to user:{CAROL} on character:42"
    assert "grant editor to group:designers on character:42" in d.via
    # deny viewer blocks read and list only; the group's editor grant still writes
    assert idx.decide(user(CAROL), "write", "character", "42").allowed
    # the owner and an administrator are refused by a deny grant too
    idx.put_grant(Grant("g3", "character", "42", f"user:{ALICE}", "owner", "deny"))
    assert not idx.decide(user(ALICE), "read", "character", "42").allowed
    idx.put_grant(Grant("g4", "character", "42", "tenant:acme", "owner", "deny"))
    admin = Subject("root", ("admin",), "acme")
    assert idx.decide(admin, "delete", "character", "42").because == "deny grant owner to tenant:acme on character:42"
    # a role's deny beats the owner
    roles = {**DEFAULT_ROLES, "muted": ("!shape:character:write",)}
    idx2 = index(roles)
    d = idx2.decide(user(ALICE, "user", "muted"), "write", "character", "42")
    assert not d.allowed and d.because == "role muted denies by !shape:character:write"


def test_roles_decide_as_the_gate_does() -> None:
    idx = index()
    admin = Subject("root", ("admin",), "")
    assert idx.decide(admin, "delete", "character", "42").because == "role admin allows by *:*:*@any"
    # the editor role may write any character of its own tenant, none of another's
    assert idx.decide(user(BOB, "editor"), "write", "character", "42").allowed
    assert not idx.decide(user(BOB, "editor", tenant="globex"), "write", "character", "42").allowed
    # a grant explains a decision better than a broad role
    idx.put_grant(Grant("g1", "character", "42", f"user:{BOB}", "editor"))
    d = idx.decide(user(BOB, "editor"), "write", "character", "42", explain=True)
    assert d.because == f"grant editor to user:{BOB} on character:42"
    assert d.via == ("role editor allows by shape:*:*", f"grant editor to user:{BOB} on character:42")
    # a resource unknown to the index: roles alone
    assert idx.decide(user(BOB, "viewer"), "read", "character", "7").allowed
    assert not idx.decide(user(BOB), "read", "character", "7").allowed


def test_role_rules_agree_with_the_authorizer() -> None:
    auth = Authorizer(dict(DEFAULT_ROLES))
    rules = RoleRules(DEFAULT_ROLES)
    rng = random.Random(7)
    roles = list(DEFAULT_ROLES)
    for _ in range(2000):
        held = tuple(rng.sample(roles, rng.randint(0, 3)))
        kind = rng.choice(["character", "asset", "workflow", "model"])
        verb = rng.choice(["read", "list", "write", "delete", "share"])
        tenant, res_tenant = rng.choice(["", "acme"]), rng.choice(["", "acme", "globex"])
        owner = rng.choice([None, ALICE, BOB])
        res = Resource(kind, "1", res_tenant, owner)
        service = {"character": "shape", "model": "shape", "asset": "storage", "workflow": "workflow"}[kind]
        expected = auth.decide({"sub": ALICE, "roles": list(held), "tenant": tenant or None},
                               f"{service}:{kind}:{verb}",
                               {"type": kind, "tenant": res_tenant or None, "owner": owner}).allowed
        matched = rules.rules(held, service, kind, verb)
        deny = any(r.deny for r in matched)
        allow = any(not r.deny and RoleRules.in_scope(r, ALICE, tenant, res) for r in matched)
        assert (allow and not deny) == expected, (held, kind, verb, tenant, res)


def test_index_changes_and_invalidation() -> None:
    idx = index()
    idx.put_grant(Grant("g1", "character", "42", f"user:{BOB}", "viewer"))
    idx.put_grant(Grant("g1", "character", "42", f"user:{BOB}", "viewer"))  # applied twice: one grant
    assert idx.stats()["grants"] == 1
    idx.drop_grant("g1")
    idx.drop_grant("g1")
    assert not idx.decide(user(BOB), "read", "character", "42").allowed and idx.grants == {}
    idx.put_grant(Grant("g2", "character", "42", f"group:{DESIGNERS}", "viewer"))
    assert idx.decide(user(CAROL), "read", "character", "42").allowed
    idx.remove_member(DESIGNERS, CAROL)
    assert not idx.decide(user(CAROL), "read", "character", "42").allowed
    idx.add_member(DESIGNERS, CAROL)
    idx.drop_group(DESIGNERS)
    assert not idx.decide(user(CAROL), "read", "character", "42").allowed and idx.stats()["grants"] == 0
    idx.put_grant(Grant("g3", "character", "42", f"user:{BOB}", "editor"))
    idx.drop_user(BOB)
    assert not idx.decide(user(BOB), "read", "character", "42").allowed
    idx.put_grant(Grant("g4", "character", "42", f"user:{BOB}", "editor"))
    idx.drop_resource("character", "42")
    assert idx.by_id == {} and not idx.decide(user(ALICE), "read", "character", "42").allowed


def test_a_disabled_user_and_an_empty_subject_are_denied() -> None:
    idx = index()
    assert not idx.decide(Subject(ALICE, ("user",), "acme", disabled=True), "read", "character", "42").allowed
    assert not idx.decide(Subject("", ("admin",), ""), "read", "character", "42").allowed


@pytest.mark.parametrize(("check", "value"), [
    (check_kind, "spaceship"), (check_kind, 3), (check_relation, "admin"), (check_resource_id, ""),
    (check_resource_id, "a" * 129), (check_resource_id, "../etc"), (check_resource_id, None),
    (parse_subject, "alice"), (parse_subject, "user:alice"), (parse_subject, "robot:1"),
    (parse_subject, "tenant:Not A Tenant"), (parse_subject, None),
])
def test_bad_input_is_invalid_grant(check, value) -> None:
    with pytest.raises(InvalidGrant):
        check(value)


def test_actions_are_verbs_or_the_kinds_permission() -> None:
    assert check_action("read", "character") == "read"
    assert check_action("shape:character:write", "character") == "write"
    assert check_action("storage:asset:delete", "asset") == "delete"
    for bad in ("storage:character:read", "shape:character:purge", "fly", "", None):
        with pytest.raises(InvalidGrant):
            check_action(bad, "character")
    assert parse_subject("tenant:") == ("tenant", "")
    assert parse_subject(f"user:{ALICE.upper()}") == ("user", ALICE)


def test_many_decisions_stay_consistent_with_a_brute_force_reading() -> None:
    """Random grants: the index agrees with a direct reading of the rules."""
    rng = random.Random(3)
    users = [f"00000000-0000-0000-0000-{i:012d}" for i in range(20)]
    groups = [f"10000000-0000-0000-0000-{i:012d}" for i in range(4)]
    idx = GrantIndex(RoleRules({"user": ()}))
    member = {u: {g for g in groups if rng.random() < 0.3} for u in users}
    for g in groups:
        idx.put_group(g, "t", g)
    for u, gs in member.items():
        for g in gs:
            idx.add_member(g, u)
    grants = []
    for i, rid in itertools.product(range(30), range(10)):
        if rng.random() < 0.1:
            subj = rng.choice([f"user:{rng.choice(users)}", f"group:{rng.choice(groups)}", "tenant:t"])
            g = Grant(f"g{i}-{rid}", "asset", str(rid), subj, rng.choice(["viewer", "editor", "owner"]),
                      rng.choice(["allow", "allow", "deny"]))
            grants.append(g)
            idx.put_grant(g)
    for rid in range(10):
        idx.put_resource(Resource("asset", str(rid), "t", None))
    verbs = {"viewer": {"read", "list"}, "editor": {"read", "list", "write"},
             "owner": {"read", "list", "write", "delete", "share"}}
    for u, rid, verb in itertools.product(users, range(10), ["read", "write", "delete"]):
        keys = {f"user:{u}", "tenant:t"} | {f"group:{g}" for g in member[u]}
        hits = [g for g in grants if g.resource_id == str(rid) and g.subject in keys and verb in verbs[g.relation]]
        expected = any(g.effect == "allow" for g in hits) and not any(g.effect == "deny" for g in hits)
        assert idx.decide(Subject(u, ("user",), "t"), verb, "asset", str(rid)).allowed == expected
