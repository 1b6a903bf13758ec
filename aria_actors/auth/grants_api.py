"""REST routes of aria_auth's grants part, included into :mod:`aria_actors.auth.api` (``/v1/auth``).

    POST   /v1/auth/resources                                register a resource (owner, tenant)
    GET    /v1/auth/resources/{kind}/{id}                    one resource
    DELETE /v1/auth/resources/{kind}/{id}                    forget it and its grants
    GET    /v1/auth/resources/{kind}/{id}/grants             a page of its grants (?after=&limit=)
    POST   /v1/auth/resources/{kind}/{id}/grants             share it: {subject, relation, effect}
    DELETE /v1/auth/resources/{kind}/{id}/grants/{grant_id}  revoke
    POST   /v1/auth/groups | GET /v1/auth/groups | DELETE /v1/auth/groups/{id}
    GET    /v1/auth/groups/{id}/members | PUT|DELETE /v1/auth/groups/{id}/members/{user_id}
    POST   /v1/auth/decisions             may: {action, kind, resource_id, subject?} -> allowed, because, via
    POST   /v1/auth/decisions/explain     the same with every matching rule

Guarantees and caveats
----------------------
- Thin: bodies are checked for shape here (``extra="forbid"``, bounded fields); kinds, relations,
  ids and who may do what are decided inside the service, as the caller.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.auth.client import AuthClient
from aria_actors.runtime.http import permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
Kind = Literal["character", "asset", "workflow", "model"]
Id = Annotated[str, Field(min_length=1, max_length=128)]
After = Annotated[str, Query(max_length=36)]
Limit = Annotated[int, Query(ge=1, le=1000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceIn(Body):
    kind: Kind
    id: Id
    owner: str | None = Field(None, max_length=64, description="A user id (default: the caller).")
    tenant: str | None = Field(None, max_length=63, description="Default: the owner's tenant, else the caller's.")


class GrantIn(Body):
    subject: str = Field(min_length=1, max_length=80, description="user:<id>, group:<id> or tenant:<name>.")
    relation: Literal["owner", "editor", "viewer"]
    effect: Literal["allow", "deny"] = "allow"


class GroupIn(Body):
    name: str = Field(min_length=1, max_length=64)
    tenant: str | None = Field(None, max_length=63)


class DecisionIn(Body):
    action: str = Field(min_length=1, max_length=128, description="read, list, write, delete, share "
                        "(or <svc>:<kind>:<verb>).")
    kind: Kind
    resource_id: Id
    subject: str | None = Field(None, max_length=80, description="A user id (default: the caller); "
                                "asking about another needs auth:grant:read.")


# -- resources and grants -------------------------------------------------------------------------
@router.post("/resources", status_code=201, summary="Register a resource with its owner and tenant")
async def register_resource(body: ResourceIn, client: Client,
                            caller: Principal = permits(AuthClient.register_resource)) -> dict[str, Any]:
    return await client.register_resource(caller, body.kind, body.id, owner=body.owner, tenant=body.tenant)


@router.get("/resources/{kind}/{resource_id}", summary="One registered resource")
async def get_resource(kind: str, resource_id: str, client: Client,
                       caller: Principal = permits(AuthClient.get_resource)) -> dict[str, Any]:
    return await client.get_resource(caller, kind, resource_id)


@router.delete("/resources/{kind}/{resource_id}", status_code=204, summary="Forget a resource and its grants")
async def delete_resource(kind: str, resource_id: str, client: Client,
                          caller: Principal = permits(AuthClient.delete_resource)) -> Response:
    await client.delete_resource(caller, kind, resource_id)
    return Response(status_code=204)


@router.get("/resources/{kind}/{resource_id}/grants", summary="A page of a resource's grants")
async def list_grants(kind: str, resource_id: str, client: Client, after: After = "", limit: Limit = 100,
                      caller: Principal = permits(AuthClient.list_grants)) -> list[dict[str, Any]]:
    return await client.list_grants(caller, kind, resource_id, after=after, limit=limit)


@router.post("/resources/{kind}/{resource_id}/grants", status_code=201,
             summary="Share a resource: a relation for a user, a group or a tenant (or deny it)")
async def grant(kind: str, resource_id: str, body: GrantIn, client: Client,
                caller: Principal = permits(AuthClient.grant)) -> dict[str, Any]:
    return await client.grant(caller, kind, resource_id, body.subject, body.relation, effect=body.effect)


@router.delete("/resources/{kind}/{resource_id}/grants/{grant_id}", status_code=204, summary="Revoke a grant")
async def revoke(kind: str, resource_id: str, grant_id: str, client: Client,
                 caller: Principal = permits(AuthClient.revoke)) -> Response:
    await client.revoke(caller, kind, resource_id, grant_id)
    return Response(status_code=204)


# -- groups ---------------------------------------------------------------------------------------
@router.post("/groups", status_code=201, summary="Create a group of users")
async def create_group(body: GroupIn, client: Client,
                       caller: Principal = permits(AuthClient.create_group)) -> dict[str, Any]:
    return await client.create_group(caller, body.name, tenant=body.tenant)


@router.get("/groups", summary="A page of groups")
async def list_groups(client: Client, tenant: Annotated[str | None, Query(max_length=63)] = None,
                      after: After = "", limit: Limit = 100,
                      caller: Principal = permits(AuthClient.list_groups)) -> list[dict[str, Any]]:
    return await client.list_groups(caller, tenant, after=after, limit=limit)


@router.delete("/groups/{group_id}", status_code=204, summary="Delete a group (its grants go with it)")
async def delete_group(group_id: str, client: Client, caller: Principal = permits(AuthClient.delete_group)) -> Response:
    await client.delete_group(caller, group_id)
    return Response(status_code=204)


@router.get("/groups/{group_id}/members", summary="A page of a group's members")
async def list_group_members(group_id: str, client: Client, after: After = "", limit: Limit = 100,
                             caller: Principal = permits(AuthClient.list_group_members)) -> list[dict[str, Any]]:
    return await client.list_group_members(caller, group_id, after=after, limit=limit)


@router.put("/groups/{group_id}/members/{user_id}", status_code=204, summary="Add a user to a group")
async def add_group_member(group_id: str, user_id: str, client: Client,
                           caller: Principal = permits(AuthClient.add_group_member)) -> Response:
    await client.add_group_member(caller, group_id, user_id)
    return Response(status_code=204)


@router.delete("/groups/{group_id}/members/{user_id}", status_code=204, summary="Take a user out of a group")
async def remove_group_member(group_id: str, user_id: str, client: Client,
                              caller: Principal = permits(AuthClient.remove_group_member)) -> Response:
    await client.remove_group_member(caller, group_id, user_id)
    return Response(status_code=204)


# -- decisions ------------------------------------------------------------------------------------
@router.post("/decisions", summary="May a subject (default: the caller) do an action on a resource? And why")
async def may(body: DecisionIn, client: Client, caller: Principal = permits(AuthClient.may)) -> dict[str, Any]:
    return await client.may(caller, body.action, body.kind, body.resource_id, subject=body.subject)


@router.post("/decisions/explain", summary="A decision with every rule that matched, the roles and grants looked at")
async def explain(body: DecisionIn, client: Client,
                  caller: Principal = permits(AuthClient.explain)) -> dict[str, Any]:
    return await client.explain(caller, body.action, body.kind, body.resource_id, subject=body.subject)
