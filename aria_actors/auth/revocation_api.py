"""REST routes of aria_auth's revocation part, included into :mod:`aria_actors.auth.api` (``/v1/auth``).

``GET /v1/auth/revocations?cursor=...``: the revocation feed each gateway replica polls (it calls
the method directly; the route is for operators and tools that mirror it). Who may read it
(``auth:session:read`` across tenants) is decided inside the service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from aria_actors.auth.client import AuthClient
from aria_actors.runtime.http import permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]


@router.get("/revocations", tags=["auth"],
            summary="Sessions ended, clients disabled, lockouts since a cursor (the gateway's feed)")
async def revocations(client: Client, cursor: Annotated[str | None, Query(max_length=100)] = None,
                      caller: Principal = permits(AuthClient.revocations)) -> dict[str, Any]:
    return await client.revocations(caller, cursor)
