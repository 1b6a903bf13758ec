"""``aria.interface``: the real-time channel's topics and the API documentation (``/v1/interface``).

The channel itself is a WebSocket (``/v1/interface/ws``, see ``aria.interface.topics()`` for its
protocol); ``aria interface watch TOPIC`` is a client of it.
"""

from __future__ import annotations

from typing import Any

import aria_actors.interface.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route


class InterfaceAPI(Section):
    @route("GET", "/v1/interface/topics")
    def topics(self) -> dict[str, Any]:
        """The topics the WebSocket channel serves (event and snapshot shapes) and its protocol."""
        return Req()

    @route("GET", "/v1/interface/docs")
    def docs(self) -> dict[str, Any]:
        """Every service's OpenAPI document (a link each) and the generated role/permission table."""
        return Req()

    @route("GET", "/v1/interface/docs/{service}")
    def openapi(self, service: str) -> dict[str, Any]:
        """One service's OpenAPI document (``aria_workflow`` or ``workflow``)."""
        return Req(path={"service": service})

    @route("GET", "/v1/interface/ui")
    def ui(self) -> dict[str, Any]:
        """The web UI's manifest: its page, views, and the REST routes and topics each view uses."""
        return Req()

    @route("GET", "/v1/interface/limits")
    def limits(self) -> dict[str, Any]:
        """Your rate limits in force at the gateway and what is left of each window now."""
        return Req()
