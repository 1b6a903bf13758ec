"""``aria.auth``'s resource grants, groups and access decisions (``may``, ``explain``)."""

from __future__ import annotations

from typing import Any

import aria_actors.auth.grants_errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class GrantsSDK(Section):
    @route("POST", "/v1/auth/resources")
    def register_resource(self, kind: str, id: str, *, owner: str | None = None,
                          tenant: str | None = None) -> dict[str, Any]:
        """Make a resource (character, asset, workflow, model) shareable: ``owner`` owns it (its service or
        an administrator registers it)."""
        return Req(json=body(kind=kind, id=id, owner=owner, tenant=tenant))

    @route("GET", "/v1/auth/resources/{kind}/{resource_id}")
    def get_resource(self, kind: str, resource_id: str) -> dict[str, Any]:
        return Req(path={"kind": kind, "resource_id": resource_id})

    @route("DELETE", "/v1/auth/resources/{kind}/{resource_id}")
    def delete_resource(self, kind: str, resource_id: str) -> None:
        return Req(path={"kind": kind, "resource_id": resource_id})

    @route("GET", "/v1/auth/resources/{kind}/{resource_id}/grants")
    def list_grants(self, kind: str, resource_id: str, *, after: str | None = None,
                    limit: int | None = None) -> dict[str, Any]:
        return Req(path={"kind": kind, "resource_id": resource_id}, params={"after": after, "limit": limit})

    @route("POST", "/v1/auth/resources/{kind}/{resource_id}/grants")
    def grant(self, kind: str, resource_id: str, subject: str, relation: str, *,
              effect: str = "allow") -> dict[str, Any]:
        """Grant ``relation`` (owner, editor, viewer) to ``subject`` (user:<id>, group:<id>, tenant:<name>)."""
        return Req(path={"kind": kind, "resource_id": resource_id},
                   json={"subject": subject, "relation": relation, "effect": effect})

    @route("DELETE", "/v1/auth/resources/{kind}/{resource_id}/grants/{grant_id}")
    def revoke(self, kind: str, resource_id: str, grant_id: str) -> None:
        return Req(path={"kind": kind, "resource_id": resource_id, "grant_id": grant_id})

    @route("POST", "/v1/auth/groups")
    def create_group(self, name: str, *, tenant: str | None = None) -> dict[str, Any]:
        return Req(json=body(name=name, tenant=tenant))

    @route("GET", "/v1/auth/groups")
    def list_groups(self, *, tenant: str | None = None, after: str | None = None,
                    limit: int | None = None) -> dict[str, Any]:
        return Req(params={"tenant": tenant, "after": after, "limit": limit})

    @route("DELETE", "/v1/auth/groups/{group_id}")
    def delete_group(self, group_id: str) -> None:
        return Req(path={"group_id": group_id})

    @route("GET", "/v1/auth/groups/{group_id}/members")
    def list_group_members(self, group_id: str, *, after: str | None = None,
                           limit: int | None = None) -> dict[str, Any]:
        return Req(path={"group_id": group_id}, params={"after": after, "limit": limit})

    @route("PUT", "/v1/auth/groups/{group_id}/members/{user_id}")
    def add_group_member(self, group_id: str, user_id: str) -> Any:
        return Req(path={"group_id": group_id, "user_id": user_id})

    @route("DELETE", "/v1/auth/groups/{group_id}/members/{user_id}")
    def remove_group_member(self, group_id: str, user_id: str) -> None:
        return Req(path={"group_id": group_id, "user_id": user_id})

    @route("POST", "/v1/auth/decisions")
    def may(self, action: str, kind: str, resource_id: str, *, subject: str | None = None) -> dict[str, Any]:
        """Whether you (or ``subject``) may ``action`` the resource, and why."""
        return Req(json=body(action=action, kind=kind, resource_id=resource_id, subject=subject))

    @route("POST", "/v1/auth/decisions/explain")
    def explain(self, action: str, kind: str, resource_id: str, *, subject: str | None = None) -> dict[str, Any]:
        """The decision with every rule and grant that took part."""
        return Req(json=body(action=action, kind=kind, resource_id=resource_id, subject=subject))
