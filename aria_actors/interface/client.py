"""Typed client of aria_interface: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(InterfaceClient)``, ``Depends(service_client(InterfaceClient))`` or
``bind(InterfaceClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py interface
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_interface")
class InterfaceClient:
    @rpc(feature="api-docs")
    async def docs_index(self, caller: Principal) -> dict[str, Any]:
        """Every service's OpenAPI (links to one document each) and the generated role/permission table."""

    @rpc(feature="rate-limiting")
    async def limits(self, caller: Principal) -> dict[str, Any]:
        """The gateway's rate limits configured for the caller's roles (``GET /v1/interface/limits``..."""

    @rpc(feature="api-docs")
    async def openapi(self, caller: Principal, service: str) -> dict[str, Any]:
        """One service's OpenAPI document (its paths and the schemas they use)."""

    @rpc(features=("websocket", "webrtc", "collaboration"))
    async def topics(self, caller: Principal) -> dict[str, Any]:
        """What the WebSocket channel may subscribe (with each topic's event and snapshot shape), its..."""

    @rpc(features=("web-ui", "character-ui", "monitoring-dashboard", "collaboration", "rest"))
    async def ui(self, caller: Principal) -> dict[str, Any]:
        """The web UI's manifest: its page, its views, and for each view the REST routes and live..."""
