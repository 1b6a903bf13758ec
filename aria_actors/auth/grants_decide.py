"""The decision point of aria_auth's grants: may(subject, verb, resource), in memory, explained.

A resource is ``(kind, id)`` with a tenant and an owner (a user). Grants give a *subject* (a user,
a group, or every user of a tenant) a *relation* on one resource, to allow or to deny::

    viewer -> read, list        editor -> read, list, write        owner -> + delete, share

A decision combines aria_security's role table (the one the Gate uses, ``<svc>:<kind>:<verb>``
with ``character``/``model`` -> ``shape``, ``asset`` -> ``storage``, ``workflow`` -> ``workflow``)
with the grants, and says why (``because``: the rule that decided; ``via``: the rules that matched).

Guarantees and caveats
----------------------
- Deny beats allow, whatever allowed: a role's ``!`` permission or a deny grant that matches the
  verb refuses even the owner and an administrator (an administrator can revoke a deny grant).
  Nothing matching denies (default deny).
- A deny grant of relation R denies the verbs R would allow: ``deny viewer`` blocks read and list,
  ``deny owner`` blocks everything.
- Grants count only within the resource's tenant: a subject of another tenant gets nothing from
  them (roles with ``@any`` still apply). Groups belong to a tenant, and a group's grants reach
  its members of that tenant only.
- The resource's owner holds ``owner`` without a grant row. A resource unknown to the index is
  decided by the role table alone (as a resource of no tenant and no owner).
- Pure and Ray-free: :class:`GrantIndex` holds everything a decision needs (per resource ->
  per subject -> grants; user -> groups) and is changed by the service as grants change; it
  carries the version of the database it reflects. Role lookups are memoised per (roles, action)
  in :class:`RoleRules` (bounded), so a decision is a handful of dict lookups.
- Inputs are checked here (kinds, relations, ids, subjects): bad input is :class:`InvalidGrant`
  (400), never a ``KeyError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aria_actors.auth.grants_errors import InvalidGrant
from aria_actors.security.rbac import Permission

KINDS: dict[str, str] = {"character": "shape", "asset": "storage", "workflow": "workflow", "model": "shape"}
RELATIONS = ("viewer", "editor", "owner")
EFFECTS = ("allow", "deny")
SUBJECT_TYPES = ("user", "group", "tenant")
VERBS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read", "list"}),
    "editor": frozenset({"read", "list", "write"}),
    "owner": frozenset({"read", "list", "write", "delete", "share"}),
}
ALL_VERBS = ("read", "list", "write", "delete", "share")
_VERB_SET = frozenset(ALL_VERBS)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_TENANT = re.compile(r"^[a-z0-9_-]{0,63}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DENY = {"allow": "", "deny": "deny "}
ROLE_CACHE_MAX = 65536  # memoised (roles, action) lookups before the memo starts over


# -- input checks ---------------------------------------------------------------------------------
def _shown(value: object) -> str:
    return str(value)[:64]


def check_kind(kind: object) -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidGrant(f"kind {_shown(kind)!r} is not one of {', '.join(KINDS)}", field="kind")
    return kind


def check_resource_id(resource_id: object) -> str:
    if not isinstance(resource_id, str) or not _ID.match(resource_id):
        raise InvalidGrant(f"resource id {_shown(resource_id)!r} must be 1-128 characters of letters, digits "
                           "and ._:@- (starting with a letter or digit)", field="resource_id")
    return resource_id


def check_relation(relation: object) -> str:
    if not isinstance(relation, str) or relation not in VERBS:
        raise InvalidGrant(f"relation {_shown(relation)!r} is not one of {', '.join(RELATIONS)}", field="relation")
    return relation


def check_effect(effect: object) -> str:
    if effect not in EFFECTS:
        raise InvalidGrant(f"effect {_shown(effect)!r} is not allow or deny", field="effect")
    return str(effect)


def check_tenant(tenant: object) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise InvalidGrant(f"tenant {_shown(tenant)!r} must be up to 63 of a-z 0-9 _ -", field="tenant")
    return tenant


def check_uuid(value: object, what: str) -> str:
    text = str(value).lower()
    if not _UUID.match(text):
        raise InvalidGrant(f"{what} {_shown(value)!r} is not a UUID", field=what.replace(" ", "_"))
    return text


def parse_subject(subject: object) -> tuple[str, str]:
    """``(type, id)`` of ``user:<uuid>``, ``group:<uuid>`` or ``tenant:<name>`` (``tenant:`` is the default)."""
    if not isinstance(subject, str) or ":" not in subject:
        raise InvalidGrant(f"subject {_shown(subject)!r} is not user:<id>, group:<id> or tenant:<name>",
                           field="subject")
    kind, _, ident = subject.partition(":")
    if kind == "tenant":
        return kind, check_tenant(ident)
    if kind in ("user", "group"):
        return kind, check_uuid(ident, f"{kind} id")
    raise InvalidGrant(f"subject type {_shown(kind)!r} is not one of {', '.join(SUBJECT_TYPES)}", field="subject")


def check_action(action: object, kind: str) -> str:
    """The verb of ``action``: a verb (``read``) or the full ``<svc>:<kind>:<verb>`` of this kind."""
    if isinstance(action, str) and action in _VERB_SET:
        return action
    if isinstance(action, str) and action.count(":") == 2:
        service, what, verb = action.split(":")
        if service == KINDS[kind] and what == kind and verb in _VERB_SET:
            return verb
    raise InvalidGrant(f"action {_shown(action)!r} is not one of {', '.join(ALL_VERBS)} "
                       f"(or {KINDS[kind]}:{kind}:<verb>)", field="action")


# -- records --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    id: str
    tenant: str = ""
    owner: str | None = None  # a user id


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    kind: str
    resource_id: str
    subject: str  # user:<id>, group:<id>, tenant:<name>
    relation: str
    effect: str = "allow"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a decision is about: a user id (or any token subject), its roles and its tenant ('' none)."""

    user: str
    roles: tuple[str, ...] = ()
    tenant: str = ""
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    because: str
    via: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "because": self.because, "via": list(self.via)}


# -- the role table -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Rule:
    role: str
    deny: bool
    scope: str
    text: str


class RoleRules:
    """aria_security's role table, decided the way :class:`~aria_actors.security.rbac.Authorizer`
    does (first matching deny refuses whatever its scope; an allow needs its scope to fit), with the
    rules matching each (roles, action) memoised."""

    def __init__(self, roles: Mapping[str, Iterable[str]]) -> None:
        self._parsed = {role: tuple((Permission.parse(p), p) for p in perms) for role, perms in roles.items()}
        self._memo: dict[tuple[tuple[str, ...], str, str, str], tuple[_Rule, ...]] = {}

    def rules(self, roles: tuple[str, ...], service: str, kind: str, verb: str) -> tuple[_Rule, ...]:
        key = (roles, service, kind, verb)
        found = self._memo.get(key)
        if found is None:
            found = tuple(_Rule(role, perm.deny, perm.scope, text) for role in roles
                          for perm, text in self._parsed.get(role, ()) if perm.matches(service, kind, verb))
            if len(self._memo) >= ROLE_CACHE_MAX:
                self._memo.clear()
            self._memo[key] = found
        return found

    @staticmethod
    def in_scope(rule: _Rule, user: str, tenant: str, res: Resource | None) -> bool:
        if rule.scope == "any":
            return True
        res_tenant = res.tenant if res is not None else ""
        if res_tenant and res_tenant != tenant:
            return False
        if rule.scope == "own":
            return res is not None and res.owner is not None and res.owner == user
        return True


def _role_text(rule: _Rule) -> str:
    return f"role {rule.role} {'denies' if rule.deny else 'allows'} by {rule.text}"


# -- the index ------------------------------------------------------------------------------------
@dataclass
class GrantIndex:
    """Resources, grants and group memberships in memory, and the decision over them."""

    roles: RoleRules
    version: int = 0
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    # resource -> subject key (user:<id>, group:<id>, tenant:<name>) -> its grants on that resource
    grants: dict[tuple[str, str], dict[str, list[Grant]]] = field(default_factory=dict)
    by_id: dict[str, Grant] = field(default_factory=dict)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # group id -> (tenant, name)
    member_of: dict[str, set[str]] = field(default_factory=dict)  # user id -> group ids

    # -- changes (idempotent: the service may apply one twice, around a reload) -----------------
    def put_resource(self, res: Resource) -> None:
        self.resources[(res.kind, res.id)] = res

    def drop_resource(self, kind: str, resource_id: str) -> None:
        self.resources.pop((kind, resource_id), None)
        for grants in self.grants.pop((kind, resource_id), {}).values():
            for g in grants:
                self.by_id.pop(g.id, None)

    def put_grant(self, grant: Grant) -> None:
        self.drop_grant(grant.id)
        per_subject = self.grants.setdefault((grant.kind, grant.resource_id), {})
        per_subject.setdefault(grant.subject, []).append(grant)
        self.by_id[grant.id] = grant

    def drop_grant(self, grant_id: str) -> None:
        old = self.by_id.pop(grant_id, None)
        if old is None:
            return
        per_subject = self.grants.get((old.kind, old.resource_id), {})
        left = [g for g in per_subject.get(old.subject, ()) if g.id != grant_id]
        if left:
            per_subject[old.subject] = left
        else:
            per_subject.pop(old.subject, None)
            if not per_subject:
                self.grants.pop((old.kind, old.resource_id), None)

    def put_group(self, group_id: str, tenant: str, name: str) -> None:
        self.groups[group_id] = (tenant, name)

    def drop_group(self, group_id: str) -> None:
        self.groups.pop(group_id, None)
        for groups in self.member_of.values():
            groups.discard(group_id)
        subject = "group:" + group_id
        for key in [g.id for g in self.by_id.values() if g.subject == subject]:
            self.drop_grant(key)

    def add_member(self, group_id: str, user_id: str) -> None:
        self.member_of.setdefault(user_id, set()).add(group_id)

    def remove_member(self, group_id: str, user_id: str) -> None:
        groups = self.member_of.get(user_id)
        if groups is not None:
            groups.discard(group_id)
            if not groups:
                del self.member_of[user_id]

    def drop_user(self, user_id: str) -> None:
        self.member_of.pop(user_id, None)
        subject = "user:" + user_id
        for key in [g.id for g in self.by_id.values() if g.subject == subject]:
            self.drop_grant(key)

    # -- reading --------------------------------------------------------------------------------
    def show(self, subject_key: str) -> str:
        """A subject key for people: groups by name."""
        if subject_key.startswith("group:"):
            group = self.groups.get(subject_key[6:])
            if group is not None:
                return "group:" + group[1]
        if subject_key == "tenant:":
            return "tenant:(default)"
        return subject_key

    def subject_keys(self, subject: Subject) -> list[str]:
        """The subject keys a user's grants are found under: itself, its groups of its tenant, its tenant."""
        keys = ["user:" + subject.user]
        for gid in self.member_of.get(subject.user, ()):
            group = self.groups.get(gid)
            if group is not None and group[0] == subject.tenant:
                keys.append("group:" + gid)
        keys.append("tenant:" + subject.tenant)
        return keys

    def decide(self, subject: Subject, verb: str, kind: str, resource_id: str, *, explain: bool = False
               ) -> Decision:
        """May ``subject`` do ``verb`` on ``kind:resource_id``? (``verb`` and ``kind`` checked by the
        caller: :func:`check_action`, :func:`check_kind`.) ``explain``: ``via`` lists every
        matching rule, not only the deciding one."""
        where = f"{kind}:{resource_id}"
        if subject.disabled:
            return Decision(False, f"user {subject.user} is disabled", ())
        if not subject.user:
            return Decision(False, "no subject", ())
        res = self.resources.get((kind, resource_id))
        deny = allow = ""
        via: list[str] = []
        for rule in self.roles.rules(subject.roles, KINDS[kind], kind, verb):
            if rule.deny:
                deny = deny or _role_text(rule)
                via.append(_role_text(rule))
                if not explain:
                    break
            elif RoleRules.in_scope(rule, subject.user, subject.tenant, res):
                via.append(_role_text(rule))
                allow = allow or _role_text(rule)
        if res is not None and res.tenant == subject.tenant and (explain or not deny):
            grant_allow = ""
            if res.owner is not None and res.owner == subject.user:
                grant_allow = f"owner of {where}"
                via.append(grant_allow)
            per_subject = self.grants.get((kind, resource_id))
            if per_subject:
                for key in self.subject_keys(subject):
                    for g in per_subject.get(key, ()):
                        if verb not in VERBS[g.relation]:
                            continue
                        text = f"{_DENY[g.effect]}grant {g.relation} to {self.show(key)} on {where}"
                        via.append(text)
                        if g.effect == "deny":
                            deny = deny or text
                        else:
                            grant_allow = grant_allow or text
            allow = grant_allow or allow  # a grant explains a decision better than a broad role
        if deny:
            return Decision(False, deny, tuple(via) if explain else (deny,))
        if allow:
            return Decision(True, allow, tuple(via) if explain else (allow,))
        return Decision(False, f"no role or grant allows {verb} on {where}", tuple(via))

    def stats(self) -> dict[str, int]:
        return {"version": self.version, "resources": len(self.resources), "grants": len(self.by_id),
                "groups": len(self.groups), "members": sum(len(g) for g in self.member_of.values())}
