"""aria_interface: the real-time WebSocket channel (topics, presence and WebRTC signalling), the
web UI's manifest, the caller's rate-limit budget and the API documentation.

::

    gateway process (aria_coordinate)                 this service (a Serve deployment)
      /v1/interface/ws  (api.py: auth, frames)        topics()      the topic catalogue + protocol
        └─ Hub (hub.py) ── sources (topics.py)        docs_index()  OpenAPI per service + role table
             poll aria_workflow / aria_queue /        openapi(svc)  one service's OpenAPI document
             aria_shape / the directory, as the       ui()          the web UI's views, routes, topics
             subscriber, through the gateway's        limits()      the rate limits configured for the
             clients                                                caller's roles
      /v1/interface/limits (api.py): the gateway's
        limiter: the caller's own windows, live

Guarantees and caveats
----------------------
- The WebSocket channel lives in the gateway process (a connection is held there; a hop to this
  deployment per frame would buy nothing): this service answers what the channel and the UI
  read, and its health says whether the documentation could be built.
- ``topics``, ``docs_index`` and ``openapi`` admit any authenticated caller: what they tell is
  the declared surface (already public as ``/openapi.json``) and the topic list; whether a
  caller may read a topic is decided per subscription by the topic's own service.
- ``ui`` and ``limits`` admit any authenticated caller too: the manifest names public routes,
  and ``limits`` tells only the rules for the caller's own roles. The live budget (what is left
  of each window) is known only in the gateway process, where ``GET /v1/interface/limits`` reads
  the limiter; called here (by another service, a job) ``limits`` tells the configured rules.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aria_actors.coordinate.ratelimit import RateLimiter
from aria_actors.interface import docs as api_docs
from aria_actors.interface import presence, signalling
from aria_actors.interface.limits import rules_view
from aria_actors.interface.protocol import describe
from aria_actors.interface.spec import SPEC
from aria_actors.interface.topics import catalogue
from aria_actors.interface.ui.manifest import FEATURES as UI_FEATURES
from aria_actors.interface.ui.manifest import manifest
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status

log = logging.getLogger("aria.interface")


class InterfaceService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self._docs: api_docs.DocsIndex | None = None
        self._problem: str | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        # Building the OpenAPI and the role table imports every router: off the event loop.
        try:
            self._docs = await asyncio.to_thread(api_docs.build)
            self._problem = None
        except Exception as exc:  # the channel still works; health says the docs do not
            log.exception("cannot build the API documentation")
            # the type only: health is public (GET /v1/services), an exception's text may carry paths
            self._problem = f"API documentation unavailable ({type(exc).__name__}; see the service log)"
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        details: dict[str, Any] = {"topics": [t["pattern"] for t in catalogue()], "missing": list(self.spec.missing),
                                   "capabilities": list(self.spec.capabilities)}
        if self._docs is None:
            return Health(Status.DEGRADED, self._problem or "API documentation not built", details)
        details["docs"] = {"services": len(self._docs.services),
                           "operations": sum(s["operations"] for s in self._docs.services),
                           "permission_rows": len(self._docs.permissions["doors"])}
        return Health(Status.READY, f"{len(details['topics'])} topics, API docs of {len(self._docs.services)} "
                                    f"services; {len(self.spec.missing)} seed features not built", details)

    async def stop(self) -> None:
        self._started = False

    def _built(self) -> api_docs.DocsIndex:
        if self._docs is None:
            raise ServiceUnavailable(self._problem or "API documentation not built yet", service=SPEC.name)
        return self._docs

    # -- surface ---------------------------------------------------------------------------------
    @rpc(None, features=("websocket", "webrtc", "collaboration"))
    async def topics(self, caller: Principal) -> dict[str, Any]:
        """What the WebSocket channel may subscribe (with each topic's event and snapshot shape), its
        protocol, its WebRTC signalling (rooms joined with an aria_auth peer grant) and presence
        (who else has a character open: ``here``/``gone`` on ``presence:character:<id>``)."""
        return {**describe(), "topics": catalogue(), "webrtc": signalling.describe(),
                "presence": presence.describe()}

    @rpc(None, features=UI_FEATURES)
    async def ui(self, caller: Principal) -> dict[str, Any]:
        """The web UI's manifest: its page, its views, and for each view the REST routes and live topics
        it uses (the public API only, as the logged-in user)."""
        return manifest()

    @rpc(None, feature="rate-limiting")
    async def limits(self, caller: Principal) -> dict[str, Any]:
        """The gateway's rate limits configured for the caller's roles (``GET /v1/interface/limits``
        answers from the gateway's limiter itself, with what is left of each window now)."""
        limiter = RateLimiter.from_settings(self.settings.coordinate)
        return {"enabled": bool(self.settings.coordinate.ratelimit_enabled), "subject": caller.subject,
                **rules_view(limiter.rules, caller), "routes": [],
                "note": "configured rules only; the gateway's GET /v1/interface/limits adds the live windows"}

    @rpc(None, feature="api-docs")
    async def docs_index(self, caller: Principal) -> dict[str, Any]:
        """Every service's OpenAPI (links to one document each) and the generated role/permission table."""
        return self._built().index()

    @rpc(None, feature="api-docs")
    async def openapi(self, caller: Principal, service: str) -> dict[str, Any]:
        """One service's OpenAPI document (its paths and the schemas they use)."""
        if not isinstance(service, str) or not 1 <= len(service) <= 64:
            raise BadRequest("service must be a service name such as aria_workflow", field="service")
        return self._built().openapi(service)
