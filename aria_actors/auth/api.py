"""REST surface of aria_auth under ``/v1/auth``: thin, validates then calls the service.

Each route fronts one declared method of :class:`~aria_actors.auth.client.AuthClient`
(``permits(...)``). Routes fronting a public method need no bearer token (the body is the
credential): ``POST /login``, ``/login/mfa``, ``/refresh``, ``/logout`` and the OAuth 2.0 token
endpoint ``/token``. Who may act on which user or client (a user on their own account through a
session, ``auth:user:*`` / ``auth:client:*`` / ``auth:role:assign`` for others) is decided inside
the service, as the caller, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.auth.client import AuthClient
from aria_actors.auth.errors import InvalidCredentials, InvalidTokenRequest
from aria_actors.auth.oauth import MAX_BODY, grant_request, oauth_problem
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal

router = ServiceRouter(prefix="/v1/auth", tags=["auth"])
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
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


# -- public ---------------------------------------------------------------------------------------
@router.post("/login", summary="Log in with a password: tokens, or an MFA challenge")
async def login(body: LoginIn, request: Request, client: Client,
                caller: Principal = permits(AuthClient.login)) -> dict[str, Any]:
    return await client.login(caller, body.username, body.password, tenant=body.tenant, **_origin(request))


@router.post("/login/mfa", summary="Second login step: challenge + TOTP or recovery code -> tokens")
async def login_mfa(body: MfaLoginIn, request: Request, client: Client,
                    caller: Principal = permits(AuthClient.login_mfa)) -> dict[str, Any]:
    return await client.login_mfa(caller, body.challenge, body.code, **_origin(request))


@router.post("/refresh", summary="Exchange a refresh token for new tokens (the old one is spent)")
async def refresh(body: RefreshIn, client: Client, caller: Principal = permits(AuthClient.refresh)) -> dict[str, Any]:
    return await client.refresh(caller, body.refresh_token)


@router.post("/logout", status_code=204, summary="End the session of a refresh token")
async def logout(body: RefreshIn, client: Client, caller: Principal = permits(AuthClient.logout)) -> Response:
    await client.logout(caller, body.refresh_token)
    return Response(status_code=204)


# -- the caller's own account (a user's session token) --------------------------------------------
@router.get("/me", summary="The caller's user")
async def me(client: Client, caller: Principal = permits(AuthClient.me)) -> dict[str, Any]:
    return await client.me(caller)


@router.get("/sessions", summary="The caller's open sessions")
async def sessions(client: Client, caller: Principal = permits(AuthClient.my_sessions)) -> list[dict[str, Any]]:
    return await client.my_sessions(caller)


@router.delete("/sessions/{session_id}", status_code=204, summary="End one of the caller's sessions")
async def revoke_session(session_id: str, client: Client,
                         caller: Principal = permits(AuthClient.revoke_session)) -> Response:
    await client.revoke_session(caller, caller.subject, session_id)
    return Response(status_code=204)


@router.post("/mfa/enroll", summary="Start TOTP enrolment: a secret for an authenticator app")
async def mfa_enroll(client: Client, caller: Principal = permits(AuthClient.mfa_enroll)) -> dict[str, Any]:
    return await client.mfa_enroll(caller, caller.subject)


@router.post("/mfa/confirm", summary="Finish enrolment with a current code; returns recovery codes")
async def mfa_confirm(body: CodeIn, client: Client,
                      caller: Principal = permits(AuthClient.mfa_confirm)) -> dict[str, Any]:
    return await client.mfa_confirm(caller, caller.subject, body.code)


@router.post("/introspect", summary="RFC 7662 token introspection (sees revoked sessions at once)")
async def introspect(body: IntrospectIn, client: Client,
                     caller: Principal = permits(AuthClient.introspect)) -> dict[str, Any]:
    return await client.introspect(caller, body.token)


# -- users ----------------------------------------------------------------------------------------
@router.post("/users", status_code=201, summary="Create a user")
async def create_user(body: UserIn, client: Client,
                      caller: Principal = permits(AuthClient.create_user)) -> dict[str, Any]:
    return await client.create_user(caller, body.username, body.password, tenant=body.tenant, email=body.email,
                                    display_name=body.display_name, roles=body.roles)


@router.get("/users", summary="List users (of every tenant the caller may list)")
async def list_users(client: Client, tenant: Annotated[str | None, Query(max_length=63)] = None,
                     after: Annotated[str, Query(max_length=256)] = "",
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     caller: Principal = permits(AuthClient.list_users)) -> list[dict[str, Any]]:
    return await client.list_users(caller, tenant, after, limit)


@router.get("/users/{user_id}", summary="One user")
async def get_user(user_id: str, client: Client, caller: Principal = permits(AuthClient.get_user)) -> dict[str, Any]:
    return await client.get_user(caller, user_id)


@router.patch("/users/{user_id}", summary="Change roles, enable/disable, unlock, profile fields")
async def update_user(user_id: str, body: UserPatch, client: Client,
                      caller: Principal = permits(AuthClient.update_user)) -> dict[str, Any]:
    return await client.update_user(caller, user_id, **body.model_dump(exclude_none=True))


@router.delete("/users/{user_id}", status_code=204, summary="Delete a user and all their sessions")
async def delete_user(user_id: str, client: Client, caller: Principal = permits(AuthClient.delete_user)) -> Response:
    await client.delete_user(caller, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/password", status_code=204, summary="Set a password (ends every session)")
async def set_password(user_id: str, body: PasswordIn, client: Client,
                       caller: Principal = permits(AuthClient.set_password)) -> Response:
    await client.set_password(caller, user_id, body.new_password, current_password=body.current_password)
    return Response(status_code=204)


@router.get("/users/{user_id}/sessions", summary="A user's open sessions")
async def user_sessions(user_id: str, client: Client,
                        caller: Principal = permits(AuthClient.sessions)) -> list[dict[str, Any]]:
    return await client.sessions(caller, user_id)


@router.delete("/users/{user_id}/sessions", summary="End every session of a user")
async def revoke_user_sessions(user_id: str, client: Client,
                               caller: Principal = permits(AuthClient.revoke_all)) -> dict[str, int]:
    return {"revoked": await client.revoke_all(caller, user_id)}


@router.delete("/users/{user_id}/mfa", status_code=204, summary="Turn MFA off (your own needs a code)")
async def mfa_disable(user_id: str, body: CodeOptionalIn, client: Client,
                      caller: Principal = permits(AuthClient.mfa_disable)) -> Response:
    await client.mfa_disable(caller, user_id, body.code)
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
async def create_client(body: ClientIn, client: Client,
                        caller: Principal = permits(AuthClient.create_client)) -> dict[str, Any]:
    return await client.create_client(caller, body.name, body.roles, tenant=body.tenant)


@router.get("/clients", summary="List machine clients")
async def list_clients(client: Client, tenant: Annotated[str | None, Query(max_length=63)] = None,
                       caller: Principal = permits(AuthClient.list_clients)) -> list[dict[str, Any]]:
    return await client.list_clients(caller, tenant)


@router.get("/clients/{client_id}", summary="One machine client")
async def get_client(client_id: str, client: Client,
                     caller: Principal = permits(AuthClient.get_client)) -> dict[str, Any]:
    return await client.get_client(caller, client_id)


@router.patch("/clients/{client_id}", summary="Change a client's roles or disable it")
async def update_client(client_id: str, body: ClientPatch, client: Client,
                        caller: Principal = permits(AuthClient.update_client)) -> dict[str, Any]:
    return await client.update_client(caller, client_id, **body.model_dump(exclude_none=True))


@router.post("/clients/{client_id}/secret", summary="Rotate a client's secret (the old one stops at once)")
async def rotate_client_secret(client_id: str, client: Client,
                               caller: Principal = permits(AuthClient.rotate_client_secret)) -> dict[str, Any]:
    return await client.rotate_client_secret(caller, client_id)


@router.delete("/clients/{client_id}", status_code=204, summary="Delete a machine client")
async def delete_client(client_id: str, client: Client,
                        caller: Principal = permits(AuthClient.delete_client)) -> Response:
    await client.delete_client(caller, client_id)
    return Response(status_code=204)


@router.post("/token", summary="OAuth 2.0 token endpoint (RFC 6749): client_credentials, password, refresh_token",
             responses={400: {"description": "OAuth error (`error` member) as problem+json"}})
async def token(request: Request, client: Client, caller: Principal = permits(AuthClient.client_token)
                ) -> JSONResponse:
    """Form-encoded (or JSON) grant. Errors are problem+json that also carry RFC 6749 5.2's
    ``error`` and ``error_description`` members, with its statuses (400, and 401 for a client)."""
    try:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:  # before reading it
            raise InvalidTokenRequest(f"the request body is larger than {MAX_BODY} bytes")
        grant = grant_request(request.headers, await request.body())
        if grant.type != "client_credentials" and (grant.client_id or grant.client_secret):
            await client.authenticate_client(caller, grant.client_id, grant.client_secret)
        if grant.type == "client_credentials":
            out = await client.client_token(caller, grant.client_id, grant.client_secret)
        elif grant.type == "password":
            out = await client.login(caller, grant.username, grant.password, tenant=grant.tenant, **_origin(request))
            if out.get("mfa_required"):
                raise InvalidCredentials("this user has MFA on: log in with POST /v1/auth/login and /login/mfa")
        else:
            out = await client.refresh(caller, grant.refresh_token)
    except AriaError as exc:
        cause = getattr(exc, "cause", None)
        return oauth_problem(cause if isinstance(cause, AriaError) else exc, request.url.path)
    body = {k: out[k] for k in ("access_token", "token_type", "expires_in", "refresh_token") if k in out}
    return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})


# The parts' routes, added last (their routers carry the full /v1/auth prefix): added as routes, not
# include_router, so the gateway's prefix test and the route list stay flat.
from aria_actors.auth import (  # noqa: E402  (why: the parts' routers are added after this module's own)
    grants_api,
    passkeys_api,
    peers_api,
    provider_api,
    relying_api,
    revocation_api,
)

for _part in (provider_api, relying_api, passkeys_api, grants_api, peers_api, revocation_api):
    router.routes.extend(_part.router.routes)
