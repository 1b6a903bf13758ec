"""How the gateway finds services: the boot actor's status plus one client per service.

:class:`ServiceDirectory` is the gateway's only view of the system, so the FastAPI app is tested
in-process against a real supervisor (``LocalDirectory``) and runs against Ray (``RayDirectory``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from aria_actors.coordinate.breaker import CircuitBreaker
from aria_actors.runtime.errors import AriaError, NotFound, ServiceUnavailable
from aria_actors.runtime.registry import spec_by_name
from aria_actors.runtime.service import ServiceClient

log = logging.getLogger("aria.gateway")
REPLICAS_TTL_S = 5.0  # how long a replica count of a deployment is reused


class ServiceDirectory(Protocol):
    async def status(self) -> dict[str, Any]: ...
    async def service(self, name: str) -> dict[str, Any]: ...
    def client(self, name: str) -> ServiceClient | None: ...


def is_service_fault(exc: BaseException) -> bool:
    """Whether a failed call says the service is unavailable: down, restarting or timed out.

    Only those open the breaker, whose job is to answer fast while a service cannot answer at
    all. A 4xx (bad input, denied, not found) is the caller's problem; a 500 raised by a handler
    is a bug the service answered with, logged where it happened, and it shows the service is up.
    Counting either would let one client, by sending what triggers it, cut the service off for
    every other client. A cancelled call (the client went away) says nothing about the service.
    """
    if not isinstance(exc, Exception):
        return False
    cause = getattr(exc, "cause", None)  # an error raised inside a Ray actor arrives wrapped
    if isinstance(cause, AriaError):
        exc = cause
    return isinstance(exc, AriaError) and exc.status in (502, 503, 504)


class GuardedClient:
    """A service client behind a circuit breaker: service faults open it, caller errors don't."""

    def __init__(self, inner: ServiceClient, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.name = inner.name
        self.breaker = breaker

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return await self.breaker.call(
            lambda: self.inner.call(method, *args, **kwargs),
            # A cancelled call (the client went away) says nothing about the service.
            is_failure=is_service_fault,
        )


class RayDirectory:
    """The boot actor and service actors of a running Aria, reached through Ray."""

    def __init__(self, namespace: str, call_timeout_s: float) -> None:
        self.namespace = namespace
        self.call_timeout_s = call_timeout_s
        self.breakers: dict[str, CircuitBreaker] = {}
        self._clients: dict[str, GuardedClient] = {}

    def _boot(self) -> Any:
        import ray  # ray: the gateway app imports this module in-process without Ray; only RayDirectory needs it

        from aria_actors.runtime.boot import BOOT_ACTOR

        try:
            return ray.get_actor(BOOT_ACTOR, namespace=self.namespace)
        except ValueError:
            raise ServiceUnavailable("the boot actor aria_boot is not running; run `aria up`") from None

    async def status(self) -> dict[str, Any]:
        return await self._ask_boot("status")

    async def service(self, name: str) -> dict[str, Any]:
        return await self._ask_boot("service", name)

    async def _ask_boot(self, method: str, *args: Any) -> Any:
        import ray  # ray: only RayDirectory needs it (see _boot)

        try:
            return await asyncio.wait_for(getattr(self._boot(), method).remote(*args), self.call_timeout_s)
        except TimeoutError:
            raise ServiceUnavailable(f"the boot actor did not answer within {self.call_timeout_s:.0f}s") from None
        except ray.exceptions.RayActorError:
            raise ServiceUnavailable("the boot actor is restarting; retry shortly") from None

    async def replicas(self, name: str) -> int | None:
        """Running replicas of the Serve application ``name`` (a deployment-kind service); None
        when Serve does not know it or does not answer within the call timeout."""
        def _count() -> int | None:
            from ray import serve  # heavy: ray.serve; the gateway runs inside Serve, so it is loaded there

            app = serve.status().applications.get(name)
            if app is None:
                return None
            return sum(int(n) for d in app.deployments.values()
                       for state, n in d.replica_states.items() if str(getattr(state, "value", state)) == "RUNNING")

        # A public route asks for this: one count per application every few seconds, shared by the
        # requests meanwhile, so a flood costs the Serve controller nothing more.
        cache = self.__dict__.setdefault("_replicas", {})
        now = time.monotonic()
        hit = cache.get(name)
        if hit is not None and now - hit[0] < REPLICAS_TTL_S:
            return await asyncio.shield(hit[1])

        async def fetch() -> int | None:
            try:
                return await asyncio.wait_for(asyncio.to_thread(_count), self.call_timeout_s)
            except Exception as exc:  # Serve's controller busy or gone: the count is unknown, not an error
                log.debug("replicas of %s unknown: %s", name, exc)
                return None

        task = asyncio.ensure_future(fetch())
        cache[name] = (now, task)
        return await asyncio.shield(task)

    def timeout_of(self, name: str) -> float:
        """The service's own call timeout when its spec sets one, else the setting."""
        try:
            own = spec_by_name(name).call_timeout_s
        except NotFound:
            own = None
        return own or self.call_timeout_s

    def client(self, name: str) -> GuardedClient:
        if name not in self._clients:
            # ray: runtime.shell imports Ray; only RayDirectory needs it
            from aria_actors.runtime.shell import RayServiceClient

            breaker = self.breakers.setdefault(name, CircuitBreaker(name))
            self._clients[name] = GuardedClient(
                RayServiceClient(name, self.namespace, self.timeout_of(name)), breaker
            )
        return self._clients[name]
