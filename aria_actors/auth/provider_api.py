"""REST routes of aria_auth's OpenID provider, included into :mod:`aria_actors.auth.api` (``/v1/auth``).

The issuer is ``<public URL>/v1/auth/oidc``; under it: ``/.well-known/openid-configuration``,
``/jwks``, ``/authorize`` (GET or POST; HTML login, MFA and consent forms under
``/authorize/{login,mfa,consent}``), ``/token``, ``/userinfo``, ``/logout`` (and its confirmation
form, ``/logout/confirm``), and the administrators' ``/clients``.

Guarantees and caveats
----------------------
- Form and query parameters are parsed here, bounded (:mod:`aria_actors.auth.provider_wire`), and
  passed to the service, which decides everything; the routes only render its answer: an HTML
  page with strict security headers, a redirect (303 after a POST, 302 after a GET), JSON.
- Token-endpoint and userinfo errors are problem+json that also carry RFC 6749 5.2's ``error`` and
  ``error_description`` (and ``WWW-Authenticate`` for a client or token failure), ``no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.auth import provider_pages as pages
from aria_actors.auth import provider_wire as wire
from aria_actors.auth.client import AuthClient
from aria_actors.auth.provider_errors import OidcError, OidcInvalidRequest
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import PROBLEM_JSON, permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    redirect_uris: list[Annotated[str, Field(max_length=wire.MAX_URI_CHARS)]] = Field(
        min_length=1, max_length=wire.MAX_REDIRECT_URIS)
    post_logout_redirect_uris: list[Annotated[str, Field(max_length=wire.MAX_URI_CHARS)]] = Field(
        default_factory=list, max_length=wire.MAX_REDIRECT_URIS)
    scopes: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=lambda: list(wire.SCOPES), min_length=1, max_length=len(wire.SCOPES))
    public: bool = Field(False, description="A public client (no secret; PKCE only), e.g. a SPA or native app.")
    trusted: bool = Field(False, description="First-party: its users see no consent page.")
    tenant: str = Field("", max_length=63)


def _origin(request: Request) -> dict[str, str | None]:
    return {"user_agent": request.headers.get("user-agent"),
            "address": request.client.host if request.client else None}


async def _form(request: Request) -> dict[str, str]:
    if int(request.headers.get("content-length") or 0) > wire.MAX_BODY:  # before reading it
        raise OidcInvalidRequest(f"the request body is larger than {wire.MAX_BODY} bytes")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OidcInvalidRequest("send the parameters as application/x-www-form-urlencoded")
    return wire.form(await request.body())


def _oauth_problem(exc: AriaError, request: Request, *, bearer: bool = False) -> JSONResponse:
    error = exc.fields.get("error") or getattr(exc, "oauth_error", None) or (
        "server_error" if exc.status >= 500 else "invalid_request")
    doc = {**exc.problem(instance=request.url.path), "error": error, "error_description": exc.message}
    headers = dict(NO_STORE)
    if error == "invalid_client":
        headers["www-authenticate"] = 'Basic realm="aria"'
    elif bearer:
        headers["www-authenticate"] = f'Bearer error="{error}"'
    return JSONResponse(doc, status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)


def _answer(out: dict[str, Any], *, after_post: bool, set_cookie: bool = False) -> Response:
    """The service's answer as a browser response: a redirect or one of the pages."""
    if "redirect" in out:
        response = RedirectResponse(out["redirect"], status_code=303 if after_post else 302)
        response.headers.update(pages.headers())
        return response
    page = out.get("page")
    status = int(out.get("status") or 200)
    if page == "login":
        return pages.respond(pages.login(out, out.get("error")), out, status, set_cookie=set_cookie)
    if page == "mfa":
        return pages.respond(pages.mfa(out, out.get("error")), out, status)
    if page == "consent":
        return pages.respond(pages.consent(out), out, status)
    if page == "logout":
        return pages.respond(pages.logout(out), out, status, set_cookie=True)
    return pages.respond(pages.logged_out())


def _csrf_cookie(request: Request, form: dict[str, str]) -> str | None:
    name = pages.cookie_name(form.get("request", ""))
    return request.cookies.get(name) if name else None


# -- discovery ------------------------------------------------------------------------------------
@router.get("/oidc/.well-known/openid-configuration", summary="OpenID Provider metadata (OIDC Discovery)")
async def oidc_configuration(client: Client, caller: Principal = permits(AuthClient.oidc_configuration)
                             ) -> dict[str, Any]:
    return await client.oidc_configuration(caller)


@router.get("/oidc/jwks", summary="The public keys that verify the provider's ID tokens")
async def oidc_jwks(client: Client, caller: Principal = permits(AuthClient.oidc_jwks)) -> dict[str, Any]:
    return await client.oidc_jwks(caller)


# -- the browser's pages --------------------------------------------------------------------------
@router.get("/oidc/authorize", summary="Authorization endpoint: code + PKCE (S256); an HTML login page",
            response_class=Response)
async def oidc_authorize(request: Request, client: Client,
                         caller: Principal = permits(AuthClient.oidc_authorize)) -> Response:
    params = wire.params(request.query_params.multi_items())
    return _answer(await client.oidc_authorize(caller, params), after_post=False, set_cookie=True)


@router.post("/oidc/authorize", summary="Authorization endpoint, parameters posted as a form",
             response_class=Response)
async def oidc_authorize_post(request: Request, client: Client,
                              caller: Principal = permits(AuthClient.oidc_authorize)) -> Response:
    return _answer(await client.oidc_authorize(caller, await _form(request)), after_post=True, set_cookie=True)


@router.post("/oidc/authorize/login", summary="The login form (username, password) of an authorization request",
             response_class=Response)
async def oidc_login(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_login)
                     ) -> Response:
    form = await _form(request)
    out = await client.oidc_login(caller, form.get("request", ""), form.get("csrf", ""), _csrf_cookie(request, form),
                                  form.get("username", ""), form.get("password", ""), **_origin(request))
    return _answer(out, after_post=True)


@router.post("/oidc/authorize/mfa", summary="The MFA form (challenge, code) of an authorization request",
             response_class=Response)
async def oidc_login_mfa(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_login_mfa)
                         ) -> Response:
    form = await _form(request)
    out = await client.oidc_login_mfa(caller, form.get("request", ""), form.get("csrf", ""),
                                      _csrf_cookie(request, form), form.get("challenge", ""), form.get("code", ""),
                                      **_origin(request))
    return _answer(out, after_post=True)


@router.post("/oidc/authorize/consent", summary="The consent form (decision=allow|deny) of an authorization request",
             response_class=Response)
async def oidc_consent(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_consent)
                       ) -> Response:
    form = await _form(request)
    decision = form.get("decision")
    if decision not in ("allow", "deny"):
        raise OidcInvalidRequest("decision must be allow or deny")
    out = await client.oidc_consent(caller, form.get("request", ""), form.get("csrf", ""),
                                    _csrf_cookie(request, form), decision == "allow")
    return _answer(out, after_post=True)


# -- token, userinfo, logout ----------------------------------------------------------------------
@router.post("/oidc/token", summary="Token endpoint: authorization_code (+ code_verifier), refresh_token",
             responses={400: {"description": "OAuth error (`error` member) as problem+json"}})
async def oidc_token(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_token)
                     ) -> JSONResponse:
    try:
        basic = wire.basic_credentials(request.headers.get("authorization", ""))
        out = await client.oidc_token(caller, await _form(request), list(basic) if basic else None)
    except AriaError as exc:
        cause = getattr(exc, "cause", None)
        return _oauth_problem(cause if isinstance(cause, AriaError) else exc, request)
    return JSONResponse(out, headers=NO_STORE)


async def _userinfo(request: Request, client: AuthClient, caller: Principal) -> JSONResponse:
    try:
        out = await client.oidc_userinfo(caller)
    except OidcError as exc:
        return _oauth_problem(exc, request, bearer=True)
    return JSONResponse(out, headers=NO_STORE)


@router.get("/oidc/userinfo", summary="UserInfo endpoint: the access token's user, claims by scope")
async def oidc_userinfo(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_userinfo)
                        ) -> JSONResponse:
    return await _userinfo(request, client, caller)


@router.post("/oidc/userinfo", summary="UserInfo endpoint (POST)")
async def oidc_userinfo_post(request: Request, client: Client,
                             caller: Principal = permits(AuthClient.oidc_userinfo)) -> JSONResponse:
    return await _userinfo(request, client, caller)


@router.get("/oidc/logout", summary="RP-initiated logout (id_token_hint, post_logout_redirect_uri, state)",
            response_class=Response)
async def oidc_logout(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_logout)
                      ) -> Response:
    params = wire.params(request.query_params.multi_items())
    return _answer(await client.oidc_logout(caller, params), after_post=False)


@router.post("/oidc/logout", summary="RP-initiated logout, parameters posted as a form", response_class=Response)
async def oidc_logout_post(request: Request, client: Client, caller: Principal = permits(AuthClient.oidc_logout)
                           ) -> Response:
    return _answer(await client.oidc_logout(caller, await _form(request)), after_post=True)


@router.post("/oidc/logout/confirm", summary="The logout confirmation form of an RP-initiated logout",
             response_class=Response)
async def oidc_logout_confirm(request: Request, client: Client,
                              caller: Principal = permits(AuthClient.oidc_logout_confirm)) -> Response:
    form = await _form(request)
    out = await client.oidc_logout_confirm(caller, form.get("request", ""), form.get("csrf", ""),
                                           _csrf_cookie(request, form))
    return _answer(out, after_post=True)


# -- clients (administrators) ---------------------------------------------------------------------
@router.post("/oidc/clients", status_code=201, summary="Register an OpenID client (its secret is shown once)")
async def oidc_create_client(body: ClientIn, client: Client,
                             caller: Principal = permits(AuthClient.oidc_create_client)) -> dict[str, Any]:
    return await client.oidc_create_client(
        caller, body.name, body.redirect_uris, post_logout_redirect_uris=body.post_logout_redirect_uris,
        scopes=body.scopes, public=body.public, trusted=body.trusted, tenant=body.tenant)


@router.get("/oidc/clients", summary="List OpenID clients")
async def oidc_list_clients(client: Client, tenant: Annotated[str | None, Query(max_length=63)] = None,
                            caller: Principal = permits(AuthClient.oidc_list_clients)) -> list[dict[str, Any]]:
    return await client.oidc_list_clients(caller, tenant)


@router.delete("/oidc/clients/{client_id}", status_code=204, summary="Remove an OpenID client")
async def oidc_delete_client(client_id: str, client: Client,
                             caller: Principal = permits(AuthClient.oidc_delete_client)) -> Response:
    await client.oidc_delete_client(caller, client_id)
    return Response(status_code=204)
