"""REST surface of aria_security under ``/v1/security``; thin: validate, call the service.

Secrets, keys, tokens and certificates are admin-only (``security:*:*`` permission, i.e. the
``admin`` role); the JWKS is public so anyone can verify Aria tokens.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient
from aria_actors.security.middleware import require

router = APIRouter(prefix="/v1/security", tags=["security"])
Security = Depends(service_client("aria_security"))


class SecretBody(BaseModel):
    data: dict[str, Any] = Field(min_length=1, description="Key/value pairs stored as one version.")
    cas: int | None = Field(None, ge=0, description="Write only if the current version is this.")


class VersionsBody(BaseModel):
    versions: list[int] = Field(min_length=1)


class TokenRequest(BaseModel):
    subject: str = Field(min_length=1, max_length=256)
    claims: dict[str, Any] = Field(default_factory=dict)
    ttl_s: int | None = Field(None, ge=1)


class VerifyRequest(BaseModel):
    token: str = Field(min_length=1, max_length=16384)


class AuthorizeRequest(BaseModel):
    principal: dict[str, Any]
    action: str = Field(pattern=r"^[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+$")
    resource: dict[str, Any] = Field(default_factory=dict)


class CertificateRequest(BaseModel):
    common_name: str = Field(min_length=1, max_length=253)
    alt_names: list[str] = Field(default_factory=list)
    ip_sans: list[str] = Field(default_factory=list)
    ttl: str = Field("72h", pattern=r"^\d+[smh]$")


@router.get("/jwks")
async def jwks(client: ServiceClient = Security) -> dict[str, Any]:
    return await client.call("jwks")


@router.get("/secrets/{path:path}", dependencies=[Depends(require("security:secret:read"))])
async def get_secret(path: str, version: int | None = Query(None, ge=1),
                     client: ServiceClient = Security) -> dict[str, Any]:
    return {"path": path, "data": await client.call("kv_get", path, version)}


@router.put("/secrets/{path:path}", dependencies=[Depends(require("security:secret:write"))])
async def put_secret(path: str, body: SecretBody, client: ServiceClient = Security) -> dict[str, Any]:
    return {"path": path, "version": await client.call("kv_put", path, body.data, cas=body.cas)}


@router.delete("/secrets/{path:path}", status_code=204,
               dependencies=[Depends(require("security:secret:delete"))])
async def delete_secret(path: str, client: ServiceClient = Security) -> Response:
    await client.call("kv_delete", path)
    return Response(status_code=204)


@router.post("/undelete/{path:path}", dependencies=[Depends(require("security:secret:write"))])
async def undelete_secret(path: str, body: VersionsBody, client: ServiceClient = Security
                          ) -> dict[str, Any]:
    await client.call("kv_undelete", path, body.versions)
    return {"path": path, "undeleted": body.versions}


@router.get("/metadata/{path:path}", dependencies=[Depends(require("security:secret:read"))])
async def secret_versions(path: str, client: ServiceClient = Security) -> dict[str, Any]:
    return await client.call("kv_versions", path)


@router.get("/list", dependencies=[Depends(require("security:secret:list"))])
async def list_secrets(prefix: str = Query("", max_length=1024), client: ServiceClient = Security
                       ) -> dict[str, Any]:
    return {"prefix": prefix, "keys": await client.call("kv_list", prefix)}


@router.post("/keys/{name}/rotate", dependencies=[Depends(require("security:key:rotate"))])
async def rotate_key(name: str, client: ServiceClient = Security) -> dict[str, Any]:
    if name == "jwt":
        return {"key": name, "version": await client.call("rotate_jwt_key")}
    return {"key": name, "version": await client.call("rotate_key", name)}


@router.post("/tokens", dependencies=[Depends(require("security:token:issue"))])
async def issue_token(body: TokenRequest, client: ServiceClient = Security) -> dict[str, Any]:
    token = await client.call("issue_token", body.subject, body.claims, body.ttl_s)
    return {"token": token, "token_type": "Bearer"}


@router.post("/tokens/verify")
async def verify_token(body: VerifyRequest, client: ServiceClient = Security) -> dict[str, Any]:
    return {"claims": await client.call("verify_token", body.token)}


@router.post("/authorize", dependencies=[Depends(require("security:policy:read"))])
async def authorize(body: AuthorizeRequest, client: ServiceClient = Security) -> dict[str, Any]:
    allowed = await client.call("authorize", body.principal, body.action, body.resource)
    return {"allowed": allowed}


@router.post("/certificates", dependencies=[Depends(require("security:certificate:issue"))])
async def issue_certificate(body: CertificateRequest, client: ServiceClient = Security
                            ) -> dict[str, Any]:
    return await client.call("issue_certificate", body.common_name, body.alt_names, body.ip_sans,
                             body.ttl)


@router.delete("/certificates/{serial}", dependencies=[Depends(require("security:certificate:revoke"))])
async def revoke_certificate(serial: str, client: ServiceClient = Security) -> dict[str, Any]:
    return await client.call("revoke_certificate", serial)


@router.get("/crl")
async def crl(client: ServiceClient = Security) -> Response:
    return Response(await client.call("crl"), media_type="application/x-pem-file")
