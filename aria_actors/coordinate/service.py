"""aria_coordinate: the HTTP gateway (a Ray Serve application with a FastAPI ingress).

The gateway is the coordinate service's first slice: discovery (``/v1/services``), health
monitoring, routing to every service's router, circuit breakers and Prometheus metrics.
``serve_application`` is what the boot actor deploys; ``app`` is the same application for
``serve run``/``serve deploy`` with ``serve_configs/local.yaml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from aria_actors.coordinate.directory import RayDirectory
from aria_actors.coordinate.gateway import create_app
from aria_actors.coordinate.ratelimit import quota_from_settings
from aria_actors.coordinate.spec import SPEC
from aria_actors.runtime.placement import actor_options
from aria_actors.runtime.service import Service
from aria_actors.runtime.settings import AriaSettings, load_settings
from aria_actors.runtime.spec import Health, ServiceSpec, Status

STATUS_TIMEOUT_S = 0.5  # the boot actor's status, for the metrics door
STATUS_REFRESH_S = 10.0  # and how often it is asked again for it


class CoordinateService(Service):
    """The gateway's own health: can it see the boot actor, and which breakers are open."""

    SPEC = SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.directory: Any = None
        self.app: Any = None  # the gateway's FastAPI app, once built
        self._status_at = -math.inf  # when exposition() last asked the boot actor

    async def exposition(self) -> str:
        """The gateway's own series (requests, latency, each service's status, breakers), as its
        public ``/metrics`` renders them."""
        if self.app is None:
            return ""
        metrics = self.app.state.metrics
        # The status is the boot actor's, asked at most every STATUS_REFRESH_S (a Ray call costs
        # more than the rest of this render) with a bound well inside aria_monitor's scrape
        # timeout: a slow or absent boot actor leaves the last status, and the request series count.
        if time.monotonic() - self._status_at >= STATUS_REFRESH_S:
            self._status_at = time.monotonic()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STATUS_TIMEOUT_S):
                    status = await self.directory.status()
                metrics.observe_services(status, getattr(self.directory, "breakers", {}))
        return metrics.render().decode()

    async def health(self) -> Health:
        if self.directory is None:
            return Health(Status.STARTING, "gateway app not built yet")
        try:
            status = await self.directory.status()
        except Exception as exc:
            return Health(Status.DEGRADED, f"cannot read service status: {exc}")
        breakers = {n: b.snapshot() for n, b in getattr(self.directory, "breakers", {}).items()}
        open_ = sorted(n for n, b in breakers.items() if b["state"] == "open")
        return Health(
            Status.DEGRADED if open_ else Status.READY,
            f"circuits open: {', '.join(open_)}" if open_ else f"routing to {len(status['services'])} services",
            {"phase": status["phase"], "breakers": breakers, "url": self.settings.gateway_url},
        )


def _gateway_class() -> Any:
    from ray import serve  # ray: CoordinateService is Ray-free (the service contract); only the Serve glue needs Ray

    from aria_actors.runtime.shell import DeploymentShell

    class Gateway(DeploymentShell):
        def __serve_build_asgi_app__(self) -> Any:
            directory = RayDirectory(self.settings.namespace, self.settings.call_timeout_s)
            self.service.directory = directory  # type: ignore[attr-defined]
            # Serve's proxy sets X-Request-ID on every request and echoes it on the response: the
            # gateway uses that id and adds no second header.
            coordinate = self.settings.coordinate
            # leased shares from the aria_ratelimit actor only when several replicas share limits
            quota = quota_from_settings(coordinate, self.settings.namespace) if coordinate.ratelimit_shared else None
            app = create_app(directory, settings=coordinate, echo_request_id=False, quota=quota)
            self.service.app = app  # type: ignore[attr-defined]
            return app

    return serve.ingress()(Gateway)


GATEWAY_MAX_ONGOING = 2000  # requests (and WebSockets) one gateway replica takes at once


def serve_application(spec: ServiceSpec, settings: AriaSettings) -> tuple[Any, str]:
    """The gateway application and its route prefix, for the boot actor's launcher."""
    from ray import serve  # ray: as in _gateway_class

    deployment = serve.deployment(
        name="gateway", ray_actor_options=actor_options(spec, settings), num_replicas=1,
        # Serve holds a replica slot for each request for its whole life, a WebSocket included
        # (aria_interface's channel): the default of 5 would let five open sockets stall every
        # other request. The gateway is async; the channel caps its own connections below this.
        max_ongoing_requests=GATEWAY_MAX_ONGOING,
    )(_gateway_class())
    return deployment.bind(spec, settings), "/"


def build_app(args: dict[str, Any]) -> Any:
    """Application builder for ``serve run``/``serve deploy`` (args come from the config's ``args``).

    Also makes sure the boot actor exists and is booting, so a Serve config alone brings up Aria;
    the boot actor adopts this already-deployed gateway instead of deploying it again.
    """
    import ray  # ray: as in _gateway_class (runtime.boot imports Ray too)

    from aria_actors.runtime.boot import get_or_create_boot

    settings = load_settings(**args)
    if ray.is_initialized():
        get_or_create_boot(settings).up.remote()
    return serve_application(SPEC, settings)[0]
