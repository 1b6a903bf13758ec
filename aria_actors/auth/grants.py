"""Per-resource grants (owner, editor, viewer), groups, and the decision point may(subject, action, resource).

Resources (``character``, ``asset``, ``workflow``, ``model``; a resource is ``(kind, id)``) are
registered with an owner and a tenant by the service that owns them; their owners
(and administrators: ``auth:grant:write`` on the tenant) share them with a user, a group or a
whole tenant as ``viewer`` (read, list), ``editor`` (+ write) or ``owner`` (+ delete, share), to
allow or to deny. :meth:`ResourceGrants.may` decides with the role table and the grants, in
memory (:mod:`aria_actors.auth.grants_decide`), and says why.

Guarantees and caveats
----------------------
- Registering a resource is for the service that owns its kind (an internal caller) or an
  administrator (``auth:grant:write@any``), never a user: aria_auth cannot tell whether an id
  exists in its service or whose it is there, so a user registering first would own another's
  resource. No service registers its resources yet (aria_shape's characters included): until
  one does, an administrator registers those to be shared.
- Granting and revoking need ``share`` on the resource (its owner, an ``owner`` grant, a role
  allowing ``<svc>:<kind>:share``) or ``auth:grant:write`` on its tenant; so an editor may not
  grant anything, ``owner`` included. Deny grants likewise.
- Subjects must exist in the resource's tenant (a user, a group) or be that tenant; a grant to
  anyone else is a 400. Deleting a user or a group deletes its grants (foreign keys).
- The index: loaded at start, changed in place after each of this replica's own commits (read
  your writes), and reloaded when the version in ``aria_auth.grants_version`` differs from the
  one it reflects: checked when ``NOTIFY aria_auth_grants`` arrives (``grants_listen``: one
  pooled connection LISTENs) and every ``grants_poll_s`` in any case. The version is bumped by a
  trigger in the transaction of every change, cascades and tenant transactions included. So
  another replica's change (or one made straight in SQL) is seen at once, at worst within one
  poll; a reload reads all grants (O(grants): about a second for 100,000).
- ``may``/``explain`` about the caller itself use the caller's token (roles, tenant); about another
  user (``subject``) need ``auth:grant:read`` on that user's tenant and read its roles from the
  database. Decisions about a token whose subject is no user (a service, a client) come from its
  roles alone, as do decisions on resources not registered here.
- Lists (grants, groups, members) are pages of at most 1000, ordered by id (``after``: the last
  id of the previous page).
- Tables are not under row-level security: every statement runs as the service, and who may touch
  which tenant's resource or group is decided here, before it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from aria_actors.auth import access
from aria_actors.auth import grants_store as gstore
from aria_actors.auth.errors import AuthNotStarted
from aria_actors.auth.grants_decide import (
    Decision,
    Grant,
    GrantIndex,
    Resource,
    RoleRules,
    Subject,
    check_action,
    check_effect,
    check_kind,
    check_relation,
    check_resource_id,
    check_tenant,
    check_uuid,
    parse_subject,
)
from aria_actors.auth.grants_errors import (
    GrantNotFound,
    GrantSubjectNotFound,
    GroupExists,
    GroupNotFound,
    InvalidGrant,
    ResourceExists,
    ResourceNotFound,
)
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

log = logging.getLogger("aria.auth.grants")
EVERY_TENANT = "*"  # no tenant is named this (tenant names are [a-z0-9_-]): only an @any permission matches
T = TypeVar("T")
PAGE_MAX = 1000
RAC = "resource-access-control"
CHANNEL = "aria_auth_grants"  # NOTIFYed by the grants_bump trigger (migration 0005)


def _resource_public(row: Any) -> dict[str, Any]:
    return {"kind": row["kind"], "id": row["id"], "tenant": row["tenant"],
            "owner": str(row["owner_id"]) if row["owner_id"] else None, "created_by": row["created_by"],
            "created_at": row["created_at"].isoformat()}


def _grant_public(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "kind": row["kind"], "resource_id": row["resource_id"], "subject": row["subject"],
            "relation": row["relation"], "effect": row["effect"], "created_by": row["created_by"],
            "created_at": row["created_at"].isoformat()}


def _group_public(row: Any) -> dict[str, Any]:
    out = {"id": str(row["id"]), "tenant": row["tenant"], "name": row["name"],
           "created_at": row["created_at"].isoformat()}
    if row.get("members") is not None:  # a Record's `in` looks at values, not keys
        out["members"] = row["members"]
    return out


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
        raise InvalidGrant(f"limit must be 1-{PAGE_MAX}", field="limit")
    return limit


def _after(after: str | None) -> uuid.UUID | None:
    return uuid.UUID(check_uuid(after, "after")) if after else None


def _group_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable() or name != name.strip():
        raise InvalidGrant("a group name is 1-64 printable characters, no spaces around", field="name")
    return name


def _index_from(version: int, rows: dict[str, list[Any]], roles: RoleRules) -> GrantIndex:
    index = GrantIndex(roles, version)
    for r in rows["resources"]:
        index.put_resource(Resource(r["kind"], r["id"], r["tenant"], str(r["owner_id"]) if r["owner_id"] else None))
    for g in rows["groups"]:
        index.put_group(str(g["id"]), g["tenant"], g["name"])
    for m in rows["members"]:
        index.add_member(str(m["group_id"]), str(m["user_id"]))
    for g in rows["grants"]:
        index.put_grant(Grant(str(g["id"]), g["kind"], g["resource_id"], g["subject"], g["relation"], g["effect"]))
    return index


class ResourceGrants:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    config: Any  # set by Accounts, which also provides _acquire(), _tx() and _run()
    _grant_index: GrantIndex | None = None
    _grants_lock: asyncio.Lock | None = None
    _grants_poller: asyncio.Task[None] | None = None

    async def _start_grants(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        self._grants_lock = asyncio.Lock()
        self._role_rules = RoleRules(access.gate().authorizer.roles)
        self._grants_listener: Any = None
        self._grants_woken: asyncio.Task[None] | None = None
        await self._reload_grants()
        self._grants_poller = periodic(self.config.grants_poll_s, self._poll_grants,
                                       what="polling the grants' version", log=log)
        if self.config.grants_listen:
            await self._g_listen()

    async def _stop_grants(self) -> None:
        """Called by the service's stop before the pool closes."""
        await stop_task(self._grants_poller)
        self._grants_poller = None
        await stop_task(self._grants_woken)
        conn, self._grants_listener = self._grants_listener, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection already lost has nothing left to undo
                await conn.remove_listener(CHANNEL, self._g_notified)
                await self.db.pool.release(conn)  # type: ignore[attr-defined]

    async def _g_listen(self) -> None:
        """LISTEN on one connection of the pool (held while the service runs): a change made by
        another replica wakes a poll at once instead of at the next ``grants_poll_s``."""
        try:
            conn = await self.db.pool.acquire()  # type: ignore[attr-defined]
            await conn.add_listener(CHANNEL, self._g_notified)
        except Exception as exc:  # polling still notices every change
            log.warning("grants: LISTEN %s failed (%s); polling every %ss only", CHANNEL, exc,
                        self.config.grants_poll_s)
            return
        self._grants_listener = conn

    def _g_notified(self, *_args: Any) -> None:
        if self._grants_woken is None or self._grants_woken.done():  # one poll at a time covers a burst
            self._grants_woken = asyncio.ensure_future(self._g_woken())

    async def _g_woken(self) -> None:
        try:
            await self._poll_grants()
        except Exception as exc:  # the periodic poll tries again
            log.warning("grants: poll after NOTIFY failed: %s", exc)

    # -- the index --------------------------------------------------------------------------------
    def _g_index(self) -> GrantIndex:
        if self._grant_index is None:
            raise AuthNotStarted()
        return self._grant_index

    async def _reload_grants(self) -> None:
        """Rebuild the index from the database (the version first: the rows are at least that new)."""
        assert self._grants_lock is not None
        async with self._grants_lock:
            await self._g_load()

    async def _g_load(self) -> None:
        async def load(conn: asyncpg.Connection) -> tuple[int, dict[str, list[Any]]]:
            return await gstore.version(conn), await gstore.snapshot(conn)

        version, rows = await self._tx(load, readonly=True)  # type: ignore[attr-defined]
        self._grant_index = _index_from(version, rows, self._role_rules)
        log.info("grants index loaded: %s", self._grant_index.stats())

    async def _g_version(self) -> int:
        async with self._acquire() as conn:  # type: ignore[attr-defined]
            return await gstore.version(conn)

    async def _poll_grants(self) -> None:
        """Reload when the database's version is not the index's (checked again under the lock:
        this replica's own change may have been applied meanwhile)."""
        if self._grant_index is not None and await self._g_version() == self._grant_index.version:
            return
        assert self._grants_lock is not None
        async with self._grants_lock:
            if self._grant_index is None or await self._g_version() != self._grant_index.version:
                await self._g_load()

    async def _g_change(self, fn: Callable[[asyncpg.Connection], Awaitable[T]],
                        apply: Callable[[GrantIndex, T], None]) -> T:
        """``fn(conn)`` in a transaction that changes grants, then ``apply(index, result)`` here.

        Under the index's lock, the transaction included: a poll woken by this change's own NOTIFY
        finds the index already at its version (the database's row lock orders writers anyway).
        The index takes the new version only when it reflected the one before this change: else
        another change came between, and the next poll reloads.
        """
        async def body(conn: asyncpg.Connection) -> tuple[int, T, int]:
            before = await gstore.lock_version(conn)
            out = await fn(conn)
            return before, out, await gstore.version(conn)

        assert self._grants_lock is not None
        async with self._grants_lock:
            before, out, after = await self._tx(body)  # type: ignore[attr-defined]
            index = self._g_index()
            apply(index, out)
            if index.version == before:
                index.version = after
        return out

    # -- who may manage what ---------------------------------------------------------------------
    def _g_admin(self, caller: Principal, action: str, tenant: str) -> bool:
        return access.gate().allowed(caller, action, {"type": "grant", "tenant": tenant or None})

    def _g_decide(self, caller: Principal, verb: str, kind: str, resource_id: str, explain: bool = False) -> Decision:
        subject = Subject(caller.subject, caller.roles, caller.tenant or "")
        return self._g_index().decide(subject, verb, kind, resource_id, explain=explain)

    async def _g_resource(self, kind: str, resource_id: str) -> Any:
        row = await self._run(lambda conn: gstore.resource(conn, kind, resource_id), tenant=None)  # type: ignore[attr-defined]
        if row is None:
            raise ResourceNotFound(kind=kind, resource_id=resource_id)
        return row

    async def _g_managed(self, caller: Principal, kind: str, resource_id: str, verb: str, admin: str) -> Any:
        """The resource, once ``caller`` may ``verb`` it (a decision) or holds ``admin`` on its tenant.

        Whether it exists is told only to callers that could act on some resource of that tenant.
        """
        kind, resource_id = check_kind(kind), check_resource_id(resource_id)
        try:
            row = await self._g_resource(kind, resource_id)
        except ResourceNotFound:
            if not self._g_admin(caller, admin, caller.tenant or ""):
                raise Forbidden(f"{caller.subject!r} may not {verb} {kind}:{resource_id}", action=verb) from None
            raise
        if self._g_admin(caller, admin, row["tenant"]):
            return row
        if (kind, resource_id) not in self._g_index().resources:  # registered by another replica just now
            await self._poll_grants()
        decision = self._g_decide(caller, verb, kind, resource_id)
        if not decision.allowed:
            raise Forbidden(f"{caller.subject!r} may not {verb} {kind}:{resource_id}: {decision.because}",
                            action=verb, because=decision.because)
        return row

    async def _g_user(self, user_id: str) -> Any:
        uid = uuid.UUID(check_uuid(user_id, "user id"))
        return await self._run(lambda conn: gstore.user_brief(conn, uid), tenant=None)  # type: ignore[attr-defined]

    async def _g_group(self, group_id: str) -> Any:
        gid = uuid.UUID(check_uuid(group_id, "group id"))
        row = await self._run(lambda conn: gstore.group(conn, gid), tenant=None)  # type: ignore[attr-defined]
        if row is None:
            raise GroupNotFound(group_id=group_id)
        return row

    # -- resources ---------------------------------------------------------------------------------
    @rpc(feature=RAC)
    async def register_resource(self, caller: Principal, kind: str, resource_id: str, *, owner: str | None = None,
                                tenant: str | None = None) -> dict[str, Any]:
        """Register ``kind:resource_id`` with its owner and tenant (default: the owner's tenant).

        Only the service that owns such resources (its internal identity), which knows the resource
        exists and whose it is, or an administrator with ``auth:grant:write@any`` may: a user
        registering an id first would own someone else's resource here. Registering again with
        the same owner returns the resource (``created`` false); with another owner it is a 409.
        """
        if not (caller.is_internal or self._g_admin(caller, "auth:grant:write", EVERY_TENANT)):
            raise Forbidden("resources are registered by the service that owns them (or an administrator "
                            "with auth:grant:write@any), not by users", action="auth:grant:write")
        kind, resource_id = check_kind(kind), check_resource_id(resource_id)
        if owner is not None:
            owner_id: str | None = check_uuid(owner, "owner")
        else:  # the caller, when it is a user
            owner_id = caller.subject.lower() if _is_uuid(caller.subject) else None
        if owner_id is not None:
            found = await self._g_user(owner_id)
            if found is None:
                raise GrantSubjectNotFound(f"no user {owner_id} to own {kind}:{resource_id}", field="owner")
            if tenant is None:
                tenant = found["tenant"]
            elif found["tenant"] != tenant:
                raise GrantSubjectNotFound(f"user {owner_id} is not of tenant {tenant!r}", field="owner")
        tenant = check_tenant(caller.tenant or "" if tenant is None else tenant)
        oid = uuid.UUID(owner_id) if owner_id else None

        async def insert(conn: asyncpg.Connection) -> Any:
            return await gstore.insert_resource(conn, kind, resource_id, tenant, oid, caller.subject)

        row = await self._g_change(insert, lambda index, r: index.put_resource(
            Resource(r["kind"], r["id"], r["tenant"], str(r["owner_id"]) if r["owner_id"] else None)))
        if not row["created"] and (row["owner_id"] != oid or row["tenant"] != tenant):
            raise ResourceExists(kind=kind, resource_id=resource_id)
        return {**_resource_public(row), "created": row["created"]}

    @rpc(feature=RAC)
    async def get_resource(self, caller: Principal, kind: str, resource_id: str) -> dict[str, Any]:
        """A registered resource (who may read it, or ``auth:grant:read`` on its tenant)."""
        return _resource_public(await self._g_managed(caller, kind, resource_id, "read", "auth:grant:read"))

    @rpc(feature=RAC)
    async def delete_resource(self, caller: Principal, kind: str, resource_id: str) -> None:
        """Forget a resource and its grants (its ``delete``rs, or ``auth:grant:write``)."""
        await self._g_managed(caller, kind, resource_id, "delete", "auth:grant:write")
        await self._g_change(lambda conn: gstore.delete_resource(conn, kind, resource_id),
                           lambda index, _gone: index.drop_resource(kind, resource_id))

    # -- grants ------------------------------------------------------------------------------------
    @rpc(feature=RAC)
    async def grant(self, caller: Principal, kind: str, resource_id: str, subject: str, relation: str, *,
                    effect: str = "allow") -> dict[str, Any]:
        """Give ``subject`` (user:<id>, group:<id>, tenant:<name>) ``relation`` on the resource, or deny it.

        Needs ``share`` on the resource (its owner) or ``auth:grant:write`` on its tenant; the
        subject must be of the resource's tenant. Granting what is already granted returns it.
        """
        relation, effect = check_relation(relation), check_effect(effect)
        subject_type, subject_id = parse_subject(subject)
        res = await self._g_managed(caller, kind, resource_id, "share", "auth:grant:write")
        kind, resource_id = res["kind"], res["id"]
        user_id = group_id = None
        if subject_type == "user":
            found = await self._g_user(subject_id)
            if found is None or found["tenant"] != res["tenant"]:
                raise GrantSubjectNotFound(f"no user {subject_id} in tenant {res['tenant']!r}", field="subject")
            user_id = found["id"]
        elif subject_type == "group":
            try:
                group = await self._g_group(subject_id)
            except GroupNotFound:
                group = None
            if group is None or group["tenant"] != res["tenant"]:
                raise GrantSubjectNotFound(f"no group {subject_id} in tenant {res['tenant']!r}", field="subject")
            group_id = group["id"]
        elif subject_id != res["tenant"]:
            raise InvalidGrant(f"{kind}:{resource_id} is of tenant {res['tenant']!r}: it cannot be shared with "
                               f"tenant {subject_id!r}", field="subject")
        key = f"{subject_type}:{subject_id}"

        async def insert(conn: asyncpg.Connection) -> Any:
            return await gstore.insert_grant(conn, kind=kind, resource_id=resource_id, subject=key, user_id=user_id,
                                             group_id=group_id, relation=relation, effect=effect,
                                             created_by=caller.subject)

        try:
            row = await self._g_change(insert, lambda index, r: index.put_grant(
                Grant(str(r["id"]), kind, resource_id, key, relation, effect)))
        except asyncpg.ForeignKeyViolationError:  # the resource, user or group went away meanwhile
            raise GrantSubjectNotFound(f"{key} or {kind}:{resource_id} no longer exists", field="subject") from None
        return _grant_public(row)

    @rpc(feature=RAC)
    async def revoke(self, caller: Principal, kind: str, resource_id: str, grant_id: str) -> None:
        """Remove a grant (who may grant on the resource may revoke)."""
        gid = uuid.UUID(check_uuid(grant_id, "grant id"))
        await self._g_managed(caller, kind, resource_id, "share", "auth:grant:write")

        async def delete(conn: asyncpg.Connection) -> bool:
            if not await gstore.delete_grant(conn, gid, kind, resource_id):
                raise GrantNotFound(grant_id=grant_id)
            return True

        await self._g_change(delete, lambda index, _gone: index.drop_grant(str(gid)))

    @rpc(feature=RAC)
    async def list_grants(self, caller: Principal, kind: str, resource_id: str, *, after: str = "",
                          limit: int = 100) -> list[dict[str, Any]]:
        """One page of a resource's grants, by id (``share`` on it, or ``auth:grant:read``)."""
        limit, start = _limit(limit), _after(after)
        await self._g_managed(caller, kind, resource_id, "share", "auth:grant:read")
        rows = await self._run(lambda conn: gstore.list_grants(conn, kind, resource_id, start, limit),  # type: ignore[attr-defined]
                               tenant=None)
        return [_grant_public(r) for r in rows]

    # -- groups ------------------------------------------------------------------------------------
    @rpc("auth:group:write", feature=RAC)
    async def create_group(self, caller: Principal, name: str, *, tenant: str | None = None) -> dict[str, Any]:
        """A new group of users in ``tenant`` (default: the caller's)."""
        name = _group_name(name)
        tenant = check_tenant(caller.tenant or "" if tenant is None else tenant)
        access.gate().require(caller, "auth:group:write", {"type": "group", "tenant": tenant or None})
        try:
            row = await self._g_change(lambda conn: gstore.insert_group(conn, tenant, name),
                                     lambda index, r: index.put_group(str(r["id"]), r["tenant"], r["name"]))
        except asyncpg.UniqueViolationError:
            raise GroupExists(f"group {name!r} already exists in tenant {tenant!r}", name=name) from None
        return _group_public(row)

    @rpc("auth:group:list", feature=RAC)
    async def list_groups(self, caller: Principal, tenant: str | None = None, *, after: str = "",
                          limit: int = 100) -> list[dict[str, Any]]:
        """One page of groups by id: of ``tenant``, or of every tenant the caller may list."""
        limit, start = _limit(limit), _after(after)
        if tenant is not None:
            check_tenant(tenant)
        tenant = access.listable_tenant(caller, "auth:group:list", "group", tenant)
        rows = await self._run(lambda conn: gstore.list_groups(conn, tenant, start, limit), tenant=None)  # type: ignore[attr-defined]
        return [_group_public(r) for r in rows]

    async def _g_allowed_group(self, caller: Principal, group_id: str, action: str) -> Any:
        return await access.allowed_on(caller, action, {"type": "group"},
                                       lambda: self._g_group(group_id))

    @rpc("auth:group:delete", feature=RAC)
    async def delete_group(self, caller: Principal, group_id: str) -> None:
        """Delete a group; its grants go with it."""
        row = await self._g_allowed_group(caller, group_id, "auth:group:delete")
        await self._g_change(lambda conn: gstore.delete_group(conn, row["id"]),
                           lambda index, _gone: index.drop_group(str(row["id"])))

    @rpc("auth:group:write", feature=RAC)
    async def add_group_member(self, caller: Principal, group_id: str, user_id: str) -> None:
        """Put a user of the group's tenant into the group (adding twice is once)."""
        row = await self._g_allowed_group(caller, group_id, "auth:group:write")
        user = await self._g_user(user_id)
        if user is None or user["tenant"] != row["tenant"]:
            raise GrantSubjectNotFound(f"no user {user_id} in tenant {row['tenant']!r}", field="user_id")
        try:
            await self._g_change(lambda conn: gstore.add_member(conn, row["id"], user["id"]),
                               lambda index, _none: index.add_member(str(row["id"]), str(user["id"])))
        except asyncpg.ForeignKeyViolationError:
            raise GroupNotFound(group_id=group_id) from None

    @rpc("auth:group:write", feature=RAC)
    async def remove_group_member(self, caller: Principal, group_id: str, user_id: str) -> None:
        """Take a user out of the group."""
        row = await self._g_allowed_group(caller, group_id, "auth:group:write")
        uid = uuid.UUID(check_uuid(user_id, "user id"))
        await self._g_change(lambda conn: gstore.remove_member(conn, row["id"], uid),
                           lambda index, _gone: index.remove_member(str(row["id"]), str(uid)))

    @rpc("auth:group:read", feature=RAC)
    async def list_group_members(self, caller: Principal, group_id: str, *, after: str = "", limit: int = 100
                                 ) -> list[dict[str, Any]]:
        """One page of a group's members, by user id."""
        limit, start = _limit(limit), _after(after)
        row = await self._g_allowed_group(caller, group_id, "auth:group:read")
        rows = await self._run(lambda conn: gstore.list_members(conn, row["id"], start, limit), tenant=None)  # type: ignore[attr-defined]
        return [{"id": str(r["id"]), "username": r["username"], "tenant": r["tenant"],
                 "added_at": r["added_at"].isoformat()} for r in rows]

    # -- decisions ---------------------------------------------------------------------------------
    async def _g_subject(self, caller: Principal, subject: str | None) -> Subject:
        """Who the decision is about: the caller (its token), or another user (``auth:grant:read``)."""
        if subject is None or subject in (caller.subject, f"user:{caller.subject}"):
            return Subject(caller.subject, caller.roles, caller.tenant or "")
        user_id = subject.removeprefix("user:")
        found = await access.allowed_on(caller, "auth:grant:read", {"type": "grant"},
                                        lambda: self._g_subject_user(user_id))
        return Subject(found["id"], tuple(found["roles"]), found["tenant"], found["disabled"])

    async def _g_subject_user(self, user_id: str) -> dict[str, Any]:
        row = await self._g_user(user_id)
        if row is None:
            raise GrantSubjectNotFound(f"no user {user_id}", field="subject")
        return {"id": str(row["id"]), "roles": list(row["roles"]), "tenant": row["tenant"],
                "disabled": row["disabled"]}

    async def _g_decision(self, caller: Principal, action: str, kind: str, resource_id: str, subject: str | None,
                        explain: bool) -> tuple[Subject, Decision]:
        kind, resource_id = check_kind(kind), check_resource_id(resource_id)
        verb = check_action(action, kind)
        who = await self._g_subject(caller, subject)
        return who, self._g_index().decide(who, verb, kind, resource_id, explain=explain)

    @rpc(feature="permissions")
    async def may(self, caller: Principal, action: str, kind: str, resource_id: str, *,
                  subject: str | None = None) -> dict[str, Any]:
        """May ``subject`` (default: the caller) do ``action`` (read, list, write, delete, share) on
        ``kind:resource_id``? ``{"allowed", "because", "via"}``. Asking about another user needs
        ``auth:grant:read``."""
        _who, decision = await self._g_decision(caller, action, kind, resource_id, subject, explain=False)
        return decision.to_dict()

    @rpc(feature="permissions")
    async def explain(self, caller: Principal, action: str, kind: str, resource_id: str, *,
                      subject: str | None = None) -> dict[str, Any]:
        """:meth:`may` with every rule that matched (``via``), the subject's roles and the grant
        subjects looked at, the resource as the index knows it and the index's version."""
        who, decision = await self._g_decision(caller, action, kind, resource_id, subject, explain=True)
        index = self._g_index()
        res = index.resources.get((kind, resource_id))
        return {**decision.to_dict(), "subject": {"id": who.user, "roles": list(who.roles), "tenant": who.tenant},
                "looked_at": [index.show(k) for k in index.subject_keys(who)],
                "resource": None if res is None else {"kind": res.kind, "id": res.id, "tenant": res.tenant,
                                                      "owner": res.owner},
                "index_version": index.version}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
