"""REST routes of aria_auth's passkeys part, included into :mod:`aria_actors.auth.api` (``/v1/auth``).

    POST   /v1/auth/passkeys/register/options   start registering one's own passkey
    POST   /v1/auth/passkeys/register           finish it (the browser's credential JSON)
    GET    /v1/auth/passkeys                    one's own passkeys
    PATCH  /v1/auth/passkeys/{id}               rename, second factor on/off
    DELETE /v1/auth/passkeys/{id}               remove one's own
    GET    /v1/auth/users/{user_id}/passkeys            a user's (auth:user:read)
    DELETE /v1/auth/users/{user_id}/passkeys/{id}       remove a user's (auth:user:write)
    POST   /v1/auth/passkeys/login/options      public: start a passwordless login
    POST   /v1/auth/passkeys/login              public: finish it -> tokens
    POST   /v1/auth/login/passkey               public: MFA step with a passkey -> tokens

Guarantees and caveats
----------------------
- Bodies are bounded before the service sees them: every base64url field of a credential has a
  size limit and unknown fields are refused (422); the service checks again, whatever the door.
- Who may act on which user's passkeys is decided in the service (:mod:`aria_actors.auth.passkeys`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.auth.client import AuthClient
from aria_actors.auth.passkeys import LABEL_MAX, LIMITS
from aria_actors.runtime.http import permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
B64 = r"^[A-Za-z0-9_-]*={0,2}$"


def _b64(field: str, *, optional: bool = False) -> Any:
    return Field(None if optional else ..., min_length=1, max_length=LIMITS[field], pattern=B64)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttestationResponse(Body):
    """An attestation response; field names are WebAuthn's own (camelCase)."""

    clientDataJSON: str = _b64("clientDataJSON")
    attestationObject: str = _b64("attestationObject")
    authenticatorData: str | None = _b64("authenticatorData", optional=True)
    publicKey: str | None = _b64("publicKey", optional=True)
    publicKeyAlgorithm: int | None = None
    transports: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=8)


class AssertionResponse(Body):
    clientDataJSON: str = _b64("clientDataJSON")
    authenticatorData: str = _b64("authenticatorData")
    signature: str = _b64("signature")
    userHandle: str | None = _b64("userHandle", optional=True)


class Credential(Body):
    """A PublicKeyCredential as ``credential.toJSON()`` gives it (base64url fields)."""

    id: str = _b64("id")
    rawId: str = _b64("rawId")
    type: Literal["public-key"]
    authenticatorAttachment: Literal["platform", "cross-platform"] | None = None
    clientExtensionResults: dict[str, Any] = Field(default_factory=dict, max_length=16)


class RegistrationCredential(Credential):
    response: AttestationResponse


class AssertionCredential(Credential):
    response: AssertionResponse


Ceremony = Annotated[str, Field(min_length=1, max_length=256)]
Label = Annotated[str, Field(min_length=1, max_length=LABEL_MAX)]


class RegisterIn(Body):
    ceremony: Ceremony
    credential: RegistrationCredential
    label: Label = "passkey"
    second_factor: bool = Field(True, description="Ask for this passkey after a password login.")


class PasskeyPatch(Body):
    label: Label | None = None
    second_factor: bool | None = None


class LoginOptionsIn(Body):
    username: str | None = Field(None, min_length=1, max_length=64,
                                 description="Omit to let the browser offer the passkeys it holds.")
    tenant: str = Field("", max_length=63)


class PasskeyLoginIn(Body):
    ceremony: Ceremony
    credential: AssertionCredential


class MfaPasskeyIn(Body):
    challenge: str = Field(min_length=1, max_length=256, description="The challenge POST /v1/auth/login gave.")
    credential: AssertionCredential


def _origin(request: Request) -> dict[str, str | None]:
    return {"user_agent": request.headers.get("user-agent"),
            "address": request.client.host if request.client else None}


def _json(credential: Credential) -> dict[str, Any]:
    return credential.model_dump(exclude_none=True)


# -- one's own passkeys (a user's session token) --------------------------------------------------
@router.post("/passkeys/register/options", summary="Start registering a passkey: options for credentials.create()")
async def register_options(client: Client, caller: Principal = permits(AuthClient.passkey_register_options)
                           ) -> dict[str, Any]:
    return await client.passkey_register_options(caller, caller.subject)


@router.post("/passkeys/register", status_code=201, summary="Finish registering a passkey")
async def register(body: RegisterIn, client: Client, caller: Principal = permits(AuthClient.passkey_register)
                   ) -> dict[str, Any]:
    return await client.passkey_register(caller, caller.subject, body.ceremony, _json(body.credential),
                                         label=body.label, second_factor=body.second_factor)


@router.get("/passkeys", summary="The caller's passkeys")
async def my_passkeys(client: Client, caller: Principal = permits(AuthClient.passkeys)) -> list[dict[str, Any]]:
    return await client.passkeys(caller, caller.subject)


@router.patch("/passkeys/{passkey_id}", summary="Rename one of the caller's passkeys or change its second-factor role")
async def update_passkey(passkey_id: str, body: PasskeyPatch, client: Client,
                         caller: Principal = permits(AuthClient.passkey_update)) -> dict[str, Any]:
    return await client.passkey_update(caller, caller.subject, passkey_id, **body.model_dump(exclude_none=True))


@router.delete("/passkeys/{passkey_id}", status_code=204, summary="Remove one of the caller's passkeys")
async def revoke_passkey(passkey_id: str, client: Client,
                         caller: Principal = permits(AuthClient.passkey_revoke)) -> Response:
    await client.passkey_revoke(caller, caller.subject, passkey_id)
    return Response(status_code=204)


# -- a user's passkeys (administrators) -----------------------------------------------------------
@router.get("/users/{user_id}/passkeys", summary="A user's passkeys")
async def user_passkeys(user_id: str, client: Client,
                        caller: Principal = permits(AuthClient.passkeys)) -> list[dict[str, Any]]:
    return await client.passkeys(caller, user_id)


@router.delete("/users/{user_id}/passkeys/{passkey_id}", status_code=204, summary="Remove a user's passkey")
async def revoke_user_passkey(user_id: str, passkey_id: str, client: Client,
                              caller: Principal = permits(AuthClient.passkey_revoke)) -> Response:
    await client.passkey_revoke(caller, user_id, passkey_id)
    return Response(status_code=204)


# -- public: passwordless login and the MFA step --------------------------------------------------
@router.post("/passkeys/login/options", summary="Start a passwordless login: options for credentials.get()")
async def login_options(body: LoginOptionsIn, client: Client,
                        caller: Principal = permits(AuthClient.passkey_login_options)) -> dict[str, Any]:
    return await client.passkey_login_options(caller, body.username, tenant=body.tenant)


@router.post("/passkeys/login", summary="Finish a passwordless login: tokens")
async def passkey_login(body: PasskeyLoginIn, request: Request, client: Client,
                        caller: Principal = permits(AuthClient.passkey_login)) -> dict[str, Any]:
    return await client.passkey_login(caller, body.ceremony, _json(body.credential), **_origin(request))


@router.post("/login/passkey", summary="Second login step: challenge + passkey assertion -> tokens")
async def login_passkey(body: MfaPasskeyIn, request: Request, client: Client,
                        caller: Principal = permits(AuthClient.login_passkey)) -> dict[str, Any]:
    return await client.login_passkey(caller, body.challenge, _json(body.credential), **_origin(request))
