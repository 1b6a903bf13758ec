"""REST surface of aria_auth under ``/v1/auth``: thin, validates then calls the service.

Public (no bearer token; the body is the credential): ``POST /login``, ``/login/mfa``,
``/refresh``, ``/logout`` and the OAuth 2.0 token endpoint ``/token`` (listed in
:data:`PUBLIC_ROUTES`, which the gateway exempts). Everything else needs a bearer token: a user
manages their own profile, password, sessions and MFA; managing other users and machine clients
needs ``auth:user:*`` / ``auth:client:*`` permissions (the ``admin`` role has them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.errors import AriaError, Forbidden, Unauthorized
from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient
from aria_actors.security.errors import PermissionDenied
from aria_actors.security.middleware import require

ALL_TENANTS = "*"  # no tenant is named this (tenant names are [a-z0-9_-]): only @any scopes match it

router = APIRouter(prefix="/v1/auth", tags=["auth"])
Client = Annotated[ServiceClient, Depends(service_client("aria_auth"))]
PUBLIC_ROUTES = frozenset({("POST", "/v1/auth/login"), ("POST", "/v1/auth/login/mfa"),
                           ("POST", "/v1/auth/refresh"), ("POST", "/v1/auth/logout"),
                           ("POST", "/v1/auth/token")})
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: Secret
    tenant: str = Field("", max_length=63)


class MfaLoginIn(Body):
    challenge: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=1, max_length=64, description="TOTP code or a recovery code.")


class RefreshIn(Body):
    refresh_token: str = Field(min_length=1, max_length=256)


class UserIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: Secret
    tenant: str = Field("", max_length=63)
    email: str | None = Field(None, max_length=320)
    display_name: str | None = Field(None, max_length=128)
    roles: list[str] = Field(default_factory=lambda: ["user"], max_length=32)


class UserPatch(Body):
    roles: list[str] | None = Field(None, max_length=32)
    disabled: bool | None = None
    email: str | None = Field(None, max_length=320)
    display_name: str | None = Field(None, max_length=128)
    unlock: bool = False


class PasswordIn(Body):
    new_password: Secret
    current_password: str | None = Field(None, max_length=1024, description="Required when changing your own.")


class CodeIn(Body):
    code: str = Field(min_length=1, max_length=64)


class CodeOptionalIn(Body):
    code: str | None = Field(None, max_length=64, description="Required when turning off your own MFA.")


class IntrospectIn(Body):
    token: str = Field(min_length=1, max_length=8192)


def _origin(request: Request) -> dict[str, str | None]:
    return {"user_agent": request.headers.get("user-agent"),
            "address": request.client.host if request.client else None}


def principal(request: Request) -> dict[str, Any]:
    claims = getattr(request.state, "principal", None)
    if not claims or not claims.get("sub"):
        raise Unauthorized("send 'Authorization: Bearer <access token>' (POST /v1/auth/login gives one)")
    return claims


def user_principal(request: Request) -> dict[str, Any]:
    """The caller, who must be a user logged in through aria_auth (a session, not a service token)."""
    claims = principal(request)
    if not claims.get("sid"):
        raise Forbidden("this route is for a user's own session token (POST /v1/auth/login gives one)")
    return claims


Principal = Annotated[dict[str, Any], Depends(principal)]
UserPrincipal = Annotated[dict[str, Any], Depends(user_principal)]


async def _allowed(request: Request, who: dict[str, Any], action: str, resource: dict[str, Any]) -> bool:
    return await service_client("aria_security")(request).call("authorize", who, action, resource)


async def _authorize(request: Request, who: dict[str, Any], action: str, resource: dict[str, Any]) -> None:
    if not await _allowed(request, who, action, resource):
        raise PermissionDenied(f"{who.get('sub')!r} may not {action}", action=action)


async def _allowed_on(request: Request, who: dict[str, Any], action: str, resource: dict[str, Any],
                      fetch: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``fetch()``'s record (a user, a client), once ``action`` on it in its tenant is allowed.

    Whether the record exists is told only to callers allowed the action on that kind at all.
    """
    try:
        target = await fetch()
    except AriaError:
        await _authorize(request, who, action, {"type": resource["type"]})
        raise
    await _authorize(request, who, action, {**resource, "tenant": target["tenant"]})
    return target


async def _self_or_allowed(request: Request, who: dict[str, Any], user_id: str, action: str,
                           client: ServiceClient) -> dict[str, Any] | None:
    """None when ``who`` is the user (their own session); else the user, once ``who`` may ``action`` it."""
    if who.get("sub") == user_id and who.get("sid"):
        return None
    return await _allowed_on(request, who, action, {"type": "user", "owner": user_id},
                             lambda: client.call("get_user", user_id))


async def _listable_tenant(request: Request, who: dict[str, Any], action: str, kind: str,
                           tenant: str | None) -> str | None:
    """The tenant to list (None: all of them), once ``who`` may list it.

    Without a tenant asked for, a caller allowed across tenants (``@any``) lists everything and a
    tenant-scoped one lists its own tenant.
    """
    if tenant is None:
        if await _allowed(request, who, action, {"type": kind, "tenant": ALL_TENANTS}):
            return None
        tenant = who.get("tenant")
        if not tenant:
            raise PermissionDenied(f"{who.get('sub')!r} may not {action}", action=action)
    await _authorize(request, who, action, {"type": kind, "tenant": tenant})
    return tenant


async def _may_assign_roles(request: Request, who: dict[str, Any], roles: list[str] | None, tenant: str,
                            *, always: bool = False) -> None:
    # Granting roles is its own permission (only `admin` has it by default), so holding
    # auth:user:write does not let one hand out roles one does not have.
    if roles is None or (roles == ["user"] and not always):  # a plain user's role needs no grant
        return
    await _authorize(request, who, "auth:role:assign", {"type": "role", "tenant": tenant})
    if await _allowed(request, who, "auth:role:assign", {"type": "role", "tenant": ALL_TENANTS}):
        return  # an @any assigner (admin) may grant any role
    held = set(who.get("roles") or ())
    beyond = sorted(set(roles) - held)
    if beyond:  # a tenant-scoped assigner must not grant more than it has (admin, say)
        raise PermissionDenied(f"{who.get('sub')!r} may not grant roles it does not hold: {', '.join(beyond)}",
                               action="auth:role:assign")


# -- public ---------------------------------------------------------------------------------------
@router.post("/login", summary="Log in with a password: tokens, or an MFA challenge")
async def login(body: LoginIn, request: Request, client: Client) -> dict[str, Any]:
    return await client.call("login", body.username, body.password, tenant=body.tenant, **_origin(request))


@router.post("/login/mfa", summary="Second login step: challenge + TOTP or recovery code -> tokens")
async def login_mfa(body: MfaLoginIn, request: Request, client: Client) -> dict[str, Any]:
    return await client.call("login_mfa", body.challenge, body.code, **_origin(request))


@router.post("/refresh", summary="Exchange a refresh token for new tokens (the old one is spent)")
async def refresh(body: RefreshIn, client: Client) -> dict[str, Any]:
    return await client.call("refresh", body.refresh_token)


@router.post("/logout", status_code=204, summary="End the session of a refresh token")
async def logout(body: RefreshIn, client: Client) -> Response:
    await client.call("logout", body.refresh_token)
    return Response(status_code=204)


# -- the caller's own account ---------------------------------------------------------------------
@router.get("/me", summary="The caller's user")
async def me(who: UserPrincipal, client: Client) -> dict[str, Any]:
    return await client.call("get_user", who["sub"])


@router.get("/sessions", summary="The caller's open sessions")
async def sessions(who: UserPrincipal, client: Client) -> list[dict[str, Any]]:
    return await client.call("sessions", who["sub"])


@router.delete("/sessions/{session_id}", status_code=204, summary="End one of the caller's sessions")
async def revoke_session(session_id: str, who: UserPrincipal, client: Client) -> Response:
    await client.call("revoke_session", who["sub"], session_id)
    return Response(status_code=204)


@router.post("/mfa/enroll", summary="Start TOTP enrolment: a secret for an authenticator app")
async def mfa_enroll(who: UserPrincipal, client: Client) -> dict[str, Any]:
    return await client.call("mfa_enroll", who["sub"])


@router.post("/mfa/confirm", summary="Finish enrolment with a current code; returns recovery codes")
async def mfa_confirm(body: CodeIn, who: UserPrincipal, client: Client) -> dict[str, Any]:
    return await client.call("mfa_confirm", who["sub"], body.code)


@router.post("/introspect", summary="RFC 7662 token introspection (sees revoked sessions at once)",
             dependencies=[Depends(require("auth:token:read"))])
async def introspect(body: IntrospectIn, client: Client) -> dict[str, Any]:
    return await client.call("introspect", body.token)


# -- users ----------------------------------------------------------------------------------------
@router.post("/users", status_code=201, summary="Create a user")
async def create_user(body: UserIn, request: Request, who: Principal, client: Client) -> dict[str, Any]:
    await _authorize(request, who, "auth:user:write", {"type": "user", "tenant": body.tenant})
    await _may_assign_roles(request, who, body.roles, body.tenant)
    return await client.call("create_user", body.username, body.password, tenant=body.tenant,
                             email=body.email, display_name=body.display_name, roles=body.roles)


@router.get("/users", summary="List users (of every tenant the caller may list)")
async def list_users(request: Request, who: Principal, client: Client, tenant: str | None = None, after: str = "",
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    tenant = await _listable_tenant(request, who, "auth:user:list", "user", tenant)
    return await client.call("list_users", tenant, after, limit)


@router.get("/users/{user_id}", summary="One user")
async def get_user(user_id: str, request: Request, who: Principal, client: Client) -> dict[str, Any]:
    target = await _self_or_allowed(request, who, user_id, "auth:user:read", client)
    return target if target is not None else await client.call("get_user", user_id)


@router.patch("/users/{user_id}", summary="Change roles, enable/disable, unlock, profile fields")
async def update_user(user_id: str, body: UserPatch, request: Request, who: Principal,
                      client: Client) -> dict[str, Any]:
    target = await _self_or_allowed(request, who, user_id, "auth:user:write", client)
    if target is None:  # one's own account is changed by an administrator, not by its session
        await _authorize(request, who, "auth:user:write", {"type": "user", "owner": user_id})
        target = await client.call("get_user", user_id)
    await _may_assign_roles(request, who, body.roles, target["tenant"])
    return await client.call("update_user", user_id, **body.model_dump(exclude_none=True))


@router.delete("/users/{user_id}", status_code=204, summary="Delete a user and all their sessions")
async def delete_user(user_id: str, request: Request, who: Principal, client: Client) -> Response:
    if await _self_or_allowed(request, who, user_id, "auth:user:delete", client) is None:
        await _authorize(request, who, "auth:user:delete", {"type": "user", "owner": user_id})
    await client.call("delete_user", user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/password", status_code=204, summary="Set a password (ends every session)")
async def set_password(user_id: str, body: PasswordIn, request: Request, who: Principal,
                       client: Client) -> Response:
    own = await _self_or_allowed(request, who, user_id, "auth:user:write", client) is None
    await client.call("set_password", user_id, body.new_password, current_password=body.current_password,
                      check_current=own)
    return Response(status_code=204)


@router.get("/users/{user_id}/sessions", summary="A user's open sessions")
async def user_sessions(user_id: str, request: Request, who: Principal, client: Client) -> list[dict[str, Any]]:
    await _self_or_allowed(request, who, user_id, "auth:session:list", client)
    return await client.call("sessions", user_id)


@router.delete("/users/{user_id}/sessions", summary="End every session of a user")
async def revoke_user_sessions(user_id: str, request: Request, who: Principal, client: Client) -> dict[str, int]:
    await _self_or_allowed(request, who, user_id, "auth:session:delete", client)
    return {"revoked": await client.call("revoke_all", user_id)}


@router.delete("/users/{user_id}/mfa", status_code=204, summary="Turn MFA off (your own needs a code)")
async def mfa_disable(user_id: str, body: CodeOptionalIn, request: Request, who: Principal,
                      client: Client) -> Response:
    own = await _self_or_allowed(request, who, user_id, "auth:user:write", client) is None
    await client.call("mfa_disable", user_id, body.code, check_code=own)
    return Response(status_code=204)


# -- machine clients and the OAuth 2.0 token endpoint --------------------------------------------
class ClientIn(Body):
    name: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(default_factory=lambda: ["service"], min_length=1, max_length=32)
    tenant: str = Field("", max_length=63)


class ClientPatch(Body):
    roles: list[str] | None = Field(None, min_length=1, max_length=32)
    disabled: bool | None = None


@router.post("/clients", status_code=201, summary="Create a machine client (its secret is shown once)")
async def create_client(body: ClientIn, request: Request, who: Principal, client: Client) -> dict[str, Any]:
    await _authorize(request, who, "auth:client:write", {"type": "client", "tenant": body.tenant})
    await _may_assign_roles(request, who, body.roles, body.tenant, always=True)
    return await client.call("create_client", body.name, body.roles, tenant=body.tenant)


@router.get("/clients", summary="List machine clients")
async def list_clients(request: Request, who: Principal, client: Client,
                       tenant: str | None = None) -> list[dict[str, Any]]:
    return await client.call("list_clients", await _listable_tenant(request, who, "auth:client:list", "client",
                                                                    tenant))


async def _client_admin(request: Request, who: dict[str, Any], client: ServiceClient, client_id: str,
                        action: str) -> dict[str, Any]:
    return await _allowed_on(request, who, action, {"type": "client"}, lambda: client.call("get_client", client_id))


@router.get("/clients/{client_id}", summary="One machine client")
async def get_client(client_id: str, request: Request, who: Principal, client: Client) -> dict[str, Any]:
    return await _client_admin(request, who, client, client_id, "auth:client:read")


@router.patch("/clients/{client_id}", summary="Change a client's roles or disable it")
async def update_client(client_id: str, body: ClientPatch, request: Request, who: Principal,
                        client: Client) -> dict[str, Any]:
    target = await _client_admin(request, who, client, client_id, "auth:client:write")
    if body.roles is not None:
        await _may_assign_roles(request, who, body.roles, target["tenant"], always=True)
    return await client.call("update_client", client_id, **body.model_dump(exclude_none=True))


@router.post("/clients/{client_id}/secret", summary="Rotate a client's secret (the old one stops at once)")
async def rotate_client_secret(client_id: str, request: Request, who: Principal, client: Client) -> dict[str, Any]:
    await _client_admin(request, who, client, client_id, "auth:client:write")
    return await client.call("rotate_client_secret", client_id)


@router.delete("/clients/{client_id}", status_code=204, summary="Delete a machine client")
async def delete_client(client_id: str, request: Request, who: Principal, client: Client) -> Response:
    await _client_admin(request, who, client, client_id, "auth:client:delete")
    await client.call("delete_client", client_id)
    return Response(status_code=204)


@router.post("/token", summary="OAuth 2.0 token endpoint (RFC 6749): client_credentials, password, refresh_token",
             responses={400: {"description": "OAuth error (`error` member) as problem+json"}})
async def token(request: Request, client: Client) -> JSONResponse:
    """Form-encoded (or JSON) grant. Errors are problem+json that also carry RFC 6749 5.2's
    ``error`` and ``error_description`` members, with its statuses (400, and 401 for a client)."""
    from aria_actors.auth.oauth import MAX_BODY, grant_request, oauth_problem

    try:
        from aria_actors.auth.errors import InvalidTokenRequest

        if int(request.headers.get("content-length") or 0) > MAX_BODY:  # before reading it
            raise InvalidTokenRequest(f"the request body is larger than {MAX_BODY} bytes")
        grant = grant_request(request.headers, await request.body())
        if grant.type != "client_credentials" and (grant.client_id or grant.client_secret):
            await client.call("authenticate_client", grant.client_id, grant.client_secret)
        if grant.type == "client_credentials":
            out = await client.call("client_token", grant.client_id, grant.client_secret)
        elif grant.type == "password":
            out = await client.call("login", grant.username, grant.password, tenant=grant.tenant, **_origin(request))
            if out.get("mfa_required"):
                from aria_actors.auth.errors import InvalidCredentials

                raise InvalidCredentials("this user has MFA on: log in with POST /v1/auth/login and /login/mfa")
        else:
            out = await client.call("refresh", grant.refresh_token)
    except AriaError as exc:
        cause = getattr(exc, "cause", None)
        return oauth_problem(cause if isinstance(cause, AriaError) else exc, request.url.path)
    body = {k: out[k] for k in ("access_token", "token_type", "expires_in", "refresh_token") if k in out}
    return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})
