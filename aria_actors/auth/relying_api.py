"""REST routes of aria_auth's relying part, included into :mod:`aria_actors.auth.api` (``/v1/auth``).

Public (no bearer token: the provider's answer is the credential)::

    GET /v1/auth/sso/providers               the names of the outside providers
    GET /v1/auth/sso/{provider}/login        302 to the provider (sets the login's browser cookie)
    GET /v1/auth/sso/{provider}/callback     the provider's redirect back -> Aria tokens (JSON)

A user's session (or ``auth:user:read`` / ``auth:user:write`` for others)::

    GET    /v1/auth/sso/links                the caller's links to outside identities
    DELETE /v1/auth/sso/links/{link_id}      remove one
    GET    /v1/auth/users/{user_id}/sso/links   a user's links (administrators)

Guarantees and caveats
----------------------
- The login cookie is ``HttpOnly``, ``SameSite=Lax`` (the provider's redirect back is a top-level
  GET, which carries it), limited to this provider's callback path, ``Secure`` when
  ``sso_redirect_base`` is https, and lives as long as the login's state. The callback clears it.
- The callback answers the tokens as JSON with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from aria_actors.auth.client import AuthClient
from aria_actors.auth.relying import cookie_name
from aria_actors.runtime.http import permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _origin(request: Request) -> dict[str, str | None]:
    return {"user_agent": request.headers.get("user-agent"),
            "address": request.client.host if request.client else None}


@router.get("/sso/providers", summary="The outside OpenID providers one may log in through")
async def sso_providers(client: Client, caller: Principal = permits(AuthClient.sso_providers)) -> list[str]:
    return await client.sso_providers(caller)


@router.get("/sso/links", summary="The caller's links to outside identities")
async def my_sso_links(client: Client, caller: Principal = permits(AuthClient.my_sso_links)) -> list[dict[str, Any]]:
    return await client.my_sso_links(caller)


@router.delete("/sso/links/{link_id}", status_code=204, summary="Remove a link to an outside identity")
async def sso_unlink(link_id: str, client: Client, caller: Principal = permits(AuthClient.sso_unlink)) -> Response:
    await client.sso_unlink(caller, link_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/sso/links", summary="A user's links to outside identities")
async def sso_links(user_id: str, client: Client,
                    caller: Principal = permits(AuthClient.sso_links)) -> list[dict[str, Any]]:
    return await client.sso_links(caller, user_id)


@router.get("/sso/{provider}/login", status_code=302, summary="Log in through an outside OpenID provider",
            response_class=RedirectResponse)
async def sso_login(provider: str, request: Request, client: Client,
                    caller: Principal = permits(AuthClient.sso_begin)) -> RedirectResponse:
    begun = await client.sso_begin(caller, provider)
    response = RedirectResponse(begun["url"], status_code=302, headers=NO_STORE)
    cookie = begun.get("cookie")
    if cookie:
        response.set_cookie(cookie["name"], cookie["value"], max_age=int(begun["expires_in"]), path=cookie["path"],
                            secure=bool(cookie["secure"]), httponly=True, samesite="lax")
    return response


@router.get("/sso/{provider}/callback", summary="The provider's redirect back: Aria tokens for the login")
async def sso_callback(provider: str, request: Request, client: Client,
                       state: Annotated[str, Query(min_length=1, max_length=256)],
                       code: Annotated[str | None, Query(max_length=2048)] = None,
                       error: Annotated[str | None, Query(max_length=256)] = None,
                       caller: Principal = permits(AuthClient.sso_complete)) -> JSONResponse:
    name = cookie_name(state)
    tokens = await client.sso_complete(caller, provider, state, code, error=error,
                                       binding=request.cookies.get(name), **_origin(request))
    response = JSONResponse(tokens, headers=NO_STORE)
    response.delete_cookie(name, path=f"/v1/auth/sso/{provider}/callback")
    return response
