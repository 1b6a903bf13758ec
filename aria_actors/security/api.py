"""REST surface of aria_security under ``/v1/security``; thin: validate, call the service.

Each route fronts one RPC method (``permits(SecurityClient.x)``) and has its permission:
secrets, keys, certificates and services' OpenBao tokens are for administrators
(``security:*:*@any``); the audit trail and metrics for operators too, as are sealing and
unsealing OpenBao; a token can be minted only for yourself, never stronger than your own (the
operator's CLI mints admin tokens over Ray, not here); the role table is readable with
``security:policy:read``; the JWKS is public so anyone can verify Aria tokens.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.security.client import SecurityClient
from aria_actors.security.rbac import MAX_NAME_CHARS, MAX_ROLES

router = ServiceRouter(prefix="/v1/security", tags=["security"])
Client = Annotated[SecurityClient, Depends(service_client(SecurityClient))]
# the service checks the shape (check_path); this only bounds the size
SecretPath = Annotated[str, PathParam(min_length=1, max_length=1024)]
KeyName = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
ServiceName = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^aria_[a-z]+$")]
AuditField = Annotated[str | None, Query(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(min_length=1, max_length=256,
                                 description="Key/value pairs stored as one version.")
    cas: int | None = Field(None, ge=0, description="Write only if the current version is this.")


class VersionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    versions: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=1000)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=256, description="Your own subject.")
    claims: dict[str, Any] = Field(default_factory=dict, max_length=16,
                                   description="Only roles (a subset of yours), tenant (yours), aud.")
    ttl_s: int | None = Field(None, ge=1, description="Lifetime (capped by the server's maximum).")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=16384)


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


class PrincipalBody(BaseModel):
    """Whom to ask about: a token's claims. ``sub``, ``roles``, ``tenant`` decide; other claims
    (``iss``, ``exp``, ``sid``...) may be sent as a token has them and are ignored."""

    model_config = ConfigDict(extra="ignore")

    sub: Name
    roles: list[Name] = Field(default_factory=list, max_length=MAX_ROLES)
    tenant: Annotated[str, Field(max_length=MAX_NAME_CHARS)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > 32:
            raise ValueError("a principal has at most 32 claims")
        return data


class ResourceBody(BaseModel):
    """What the action is on: its owner's subject and tenant decide ``@own``/``@tenant``."""

    model_config = ConfigDict(extra="forbid")

    type: Name | None = None
    owner: Name | None = None
    tenant: Annotated[str, Field(max_length=MAX_NAME_CHARS)] | None = None


class AuthorizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: PrincipalBody
    action: str = Field(pattern=r"^[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+$", max_length=200)
    resource: ResourceBody = Field(default_factory=ResourceBody)


# A DNS name (labels of letters, digits and hyphens; a leading "*." for a wildcard): anything else
# is refused here rather than by OpenBao's role, so the caller learns why.
HostName = Annotated[str, Field(min_length=1, max_length=253,
                                pattern=r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                                        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]


class CertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    common_name: HostName
    alt_names: list[HostName] = Field(default_factory=list, max_length=100)
    ip_sans: list[Annotated[str, Field(min_length=1, max_length=45)]] = Field(default_factory=list,
                                                                             max_length=100)
    ttl: str = Field("72h", pattern=r"^\d{1,6}[smh]$")


@router.get("/jwks", summary="The public keys that verify Aria tokens (no token needed)")
async def jwks(client: Client, caller: Principal = permits(SecurityClient.jwks)) -> dict[str, Any]:
    return await client.jwks(caller)


@router.get("/secrets/{path:path}", summary="Read a secret (latest or a given version)")
async def get_secret(client: Client, path: SecretPath, version: int | None = Query(None, ge=1),
                     caller: Principal = permits(SecurityClient.kv_get)) -> dict[str, Any]:
    return {"path": path, "data": await client.kv_get(caller, path, version)}


@router.put("/secrets/{path:path}", summary="Write a new version of a secret")
async def put_secret(client: Client, path: SecretPath, body: SecretBody,
                     caller: Principal = permits(SecurityClient.kv_put)) -> dict[str, Any]:
    return {"path": path, "version": await client.kv_put(caller, path, body.data, cas=body.cas)}


@router.delete("/secrets/{path:path}", status_code=204, summary="Delete a secret's latest version")
async def delete_secret(client: Client, path: SecretPath,
                        caller: Principal = permits(SecurityClient.kv_delete)) -> Response:
    await client.kv_delete(caller, path)
    return Response(status_code=204)


@router.post("/undelete/{path:path}", summary="Restore deleted versions of a secret")
async def undelete_secret(client: Client, path: SecretPath, body: VersionsBody,
                          caller: Principal = permits(SecurityClient.kv_undelete)) -> dict[str, Any]:
    await client.kv_undelete(caller, path, body.versions)
    return {"path": path, "undeleted": body.versions}


@router.get("/metadata/{path:path}", summary="A secret's versions")
async def secret_versions(client: Client, path: SecretPath,
                          caller: Principal = permits(SecurityClient.kv_versions)) -> dict[str, Any]:
    return await client.kv_versions(caller, path)


@router.get("/list", summary="Secret names under a prefix")
async def list_secrets(client: Client, prefix: str = Query("", max_length=1024),
                       caller: Principal = permits(SecurityClient.kv_list)) -> dict[str, Any]:
    return {"prefix": prefix, "keys": await client.kv_list(caller, prefix)}


@router.post("/keys/{name}/rotate", summary="Rotate the JWT signing key ('jwt') or a transit key")
async def rotate_key(client: Client, name: KeyName,
                     caller: Principal = permits(SecurityClient.rotate_key)) -> dict[str, Any]:
    if name == "jwt":  # rotate_jwt_key needs the same permission
        return {"key": name, "version": await client.rotate_jwt_key(caller)}
    return {"key": name, "version": await client.rotate_key(caller, name)}


@router.post("/tokens", summary="Mint a token for yourself, at most as strong as your own")
async def issue_token(client: Client, body: TokenRequest,
                      caller: Principal = permits(SecurityClient.issue_token)) -> dict[str, Any]:
    token = await client.issue_token(caller, body.subject, body.claims, body.ttl_s)
    return {"token": token, "token_type": "Bearer"}


@router.post("/tokens/verify", summary="Verify a token and return its claims")
async def verify_token(client: Client, body: VerifyRequest,
                       caller: Principal = permits(SecurityClient.verify_token)) -> dict[str, Any]:
    return {"claims": await client.verify_token(caller, body.token)}


@router.post("/authorize", summary="Would RBAC allow this principal this action?")
async def authorize(client: Client, body: AuthorizeRequest,
                    caller: Principal = permits(SecurityClient.authorize)) -> dict[str, Any]:
    principal = body.principal.model_dump(exclude_none=True)
    resource = body.resource.model_dump(exclude_none=True)
    return {"allowed": await client.authorize(caller, principal, body.action, resource)}


@router.post("/certificates", summary="Issue a certificate from Aria's CA")
async def issue_certificate(client: Client, body: CertificateRequest,
                            caller: Principal = permits(SecurityClient.issue_certificate)) -> dict[str, Any]:
    return await client.issue_certificate(caller, body.common_name, body.alt_names, body.ip_sans, body.ttl)


@router.delete("/certificates/{serial}", summary="Revoke a certificate")
async def revoke_certificate(client: Client, serial: Annotated[str, PathParam(max_length=128)],
                             caller: Principal = permits(SecurityClient.revoke_certificate)) -> dict[str, Any]:
    return await client.revoke_certificate(caller, serial)


@router.get("/crl", summary="The certificate revocation list (PEM)")
async def crl(client: Client, caller: Principal = permits(SecurityClient.crl)) -> Response:
    return Response(await client.crl(caller), media_type="application/x-pem-file")


@router.get("/ca", summary="The CA's certificate (PEM), to verify what /certificates issued")
async def ca(client: Client, caller: Principal = permits(SecurityClient.ca_certificate)) -> Response:
    return Response(await client.ca_certificate(caller), media_type="application/x-pem-file")


@router.get("/roles", summary="The role table RBAC decides with (role -> permissions)")
async def roles(client: Client, caller: Principal = permits(SecurityClient.roles)) -> dict[str, list[str]]:
    return await client.roles(caller)


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: str = Field(min_length=1, max_length=64)
    target: str = Field("", max_length=300)
    outcome: str = Field("denied", max_length=16)
    subject: str | None = Field(None, max_length=120)


class AuditEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[AuditEvent] = Field(min_length=1, max_length=500)


@router.post("/audit", summary="Write refusals into the audit log as the caller (the actor is the caller)")
async def record_events(body: AuditEvents, client: Client,
                        caller: Principal = permits(SecurityClient.record_events)) -> dict[str, int]:
    written = await client.record_events(caller, [e.model_dump() for e in body.events])
    return {"written": written}


@router.get("/audit", summary="The newest audit records first (op=lockout: intrusion alerts)")
async def audit(client: Client, limit: int = Query(100, ge=1, le=1000), op: AuditField = None,
                actor: AuditField = None, outcome: AuditField = None,
                caller: Principal = permits(SecurityClient.audit)) -> list[dict[str, Any]]:
    return await client.audit(caller, limit, op=op, actor=actor, outcome=outcome)


@router.get("/metrics", response_class=PlainTextResponse, summary="aria_security's Prometheus metrics")
async def metrics(client: Client, caller: Principal = permits(SecurityClient.metrics_text)) -> str:
    return await client.metrics_text(caller)


@router.post("/seal", summary="Emergency: seal OpenBao (every secret call fails until unsealed)")
async def seal(client: Client, caller: Principal = permits(SecurityClient.seal)) -> dict[str, Any]:
    await client.seal(caller)
    return {"sealed": True}


@router.post("/unseal", summary="Unseal the embedded OpenBao with the key SoftHSM holds")
async def unseal(client: Client, caller: Principal = permits(SecurityClient.unseal)) -> dict[str, Any]:
    await client.unseal(caller)
    return {"sealed": False}


@router.post("/services/{service}/token",
             summary="A short-lived OpenBao token limited to one service's policy (zero trust)")
async def service_token(client: Client, service: ServiceName,
                        caller: Principal = permits(SecurityClient.service_token)) -> dict[str, Any]:
    return await client.service_token(caller, service)
