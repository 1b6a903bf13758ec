"""Graceful degradation: a service that is down costs its routes a 503 at once, not a hung request,
and the system pages answer with what they know.

::

    route of aria_x --transport("aria_x")--> Availability.client("aria_x")
        aria_x failed/stopped/starting/pending (last status read)  -> 503 service-down, Retry-After
        breaker of aria_x open (GuardedClient)                     -> 503 circuit-open, Retry-After
        else                                                       -> the call (counted in flight)

    /health, /v1/services  --read()-->  boot actor's status   (kept as the last known one)
        boot actor unreachable -> the last known status, marked stale (else 503 + Retry-After)

Guarantees and caveats
----------------------
- The per-request check reads the last status (a dict lookup); when that is older than
  ``ttl_s`` one background refresh is started and the request goes on with what is known, so
  no request ever waits on the boot actor for it.
- What is unknown is not treated as down: before the first read, for a service the status does
  not list, or once the last successful read is older than ``max_age_s`` (the boot actor has
  been unreachable that long), calls go through and the breakers decide.
- A service may come back up to ``ttl_s`` (plus one status read) before its routes notice;
  ``Retry-After`` says when to try again (``RETRY_AFTER_S`` by status, the breaker's remaining
  cooldown for an open circuit).
- The in-flight and call counts per service are this gateway replica's (``/v1/services/{name}``
  shows them under ``load_balancing``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aria_actors.coordinate.directory import ServiceDirectory
from aria_actors.runtime.errors import AriaError, ServiceUnavailable
from aria_actors.runtime.service import ServiceClient

log = logging.getLogger("aria.gateway")
NOT_UP = frozenset({"failed", "pending", "starting", "stopped"})
# How long a client should wait before retrying a service in each state: a start takes seconds,
# a failed service is restarted with backoff, a stopped one only comes back with the next boot.
RETRY_AFTER_S = {"starting": 2, "pending": 5, "failed": 5, "stopped": 30}
DEFAULT_RETRY_AFTER_S = 5


class ServiceDown(ServiceUnavailable):
    """The service is not up (failed, stopped or still starting); its routes answer 503 until it is."""

    type = "service-down"


def retry_after_s(exc: BaseException) -> int | None:
    """The ``Retry-After`` seconds of a 503 (or 429) error: its ``retry_after_s``, else a default for 503."""
    cause = getattr(exc, "cause", None)  # an error raised inside a Ray actor arrives wrapped
    if isinstance(cause, AriaError):
        exc = cause
    if not isinstance(exc, AriaError) or exc.status not in (429, 503):
        return None
    value = exc.fields.get("retry_after_s")
    if isinstance(value, int | float) and value >= 0:
        return max(1, math.ceil(value))
    return DEFAULT_RETRY_AFTER_S if exc.status == 503 else None


@dataclass(slots=True)
class Tally:
    """Calls from this gateway to one service: in flight now, and in all."""

    in_flight: int = 0
    calls: int = 0


class CountedClient:
    """A service client whose calls are counted in its :class:`Tally`."""

    def __init__(self, inner: ServiceClient, tally: Tally) -> None:
        self.inner = inner
        self.name = inner.name
        self.tally = tally

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        self.tally.in_flight += 1
        self.tally.calls += 1
        try:
            return await self.inner.call(method, *args, **kwargs)
        finally:
            self.tally.in_flight -= 1


class Availability:
    """The gateway's last view of every service's status (see the module docstring)."""

    def __init__(self, directory: ServiceDirectory, ttl_s: float = 1.0, max_age_s: float = 30.0,
                 read_timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self.ttl_s = ttl_s
        self.max_age_s = max_age_s
        self.read_timeout_s = read_timeout_s
        self.clock = clock
        self.last: dict[str, Any] | None = None  # the last status read
        self.read_at = -math.inf               # when it was read
        self.by_name: dict[str, str] = {}      # service -> status, of `last`
        self.tallies: dict[str, Tally] = {}
        self._refresh: asyncio.Task[None] | None = None  # held: a task needs a reference

    # -- the status ------------------------------------------------------------------------------
    def note(self, status: dict[str, Any]) -> None:
        self.last, self.read_at = status, self.clock()
        self.by_name = {s["name"]: s["status"] for s in status.get("services", ())}

    async def read(self) -> dict[str, Any]:
        """A fresh status from the directory (kept as the last known one); its errors propagate."""
        async with asyncio.timeout(self.read_timeout_s):  # not wait_for: a task per call (3.11)
            status = await self.directory.status()
        self.note(status)
        return status

    async def read_or_last(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A fresh status, else the last known one with ``{"age_s", "detail"}`` saying why it is stale.

        Raises when there is neither (the first read failed)."""
        try:
            return await self.read(), None
        except (AriaError, TimeoutError) as exc:
            detail = exc.message if isinstance(exc, AriaError) else f"no answer within {self.read_timeout_s:.0f}s"
            if self.last is None:
                raise ServiceUnavailable(f"service status unavailable: {detail}",
                                         retry_after_s=DEFAULT_RETRY_AFTER_S) from None
            return self.last, {"age_s": round(self.clock() - self.read_at, 3), "detail": detail}

    def down(self, name: str) -> str | None:
        """The status of ``name`` when the last read says it is not up, else None (up or unknown)."""
        age = self.clock() - self.read_at
        if age > self.ttl_s:
            self._start_refresh()
        if age > self.max_age_s:
            return None
        status = self.by_name.get(name)
        return status if status in NOT_UP else None

    def _start_refresh(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            return
        try:
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_quietly())
        except RuntimeError:  # no running loop (a synchronous caller): the next request refreshes
            self._refresh = None

    async def _refresh_quietly(self) -> None:
        try:
            await self.read()
        except Exception as exc:  # the boot actor is restarting: keep the last status until max_age_s
            log.debug("service status refresh failed: %s", exc)

    # -- the clients -----------------------------------------------------------------------------
    def client(self, name: str) -> CountedClient | None:
        """What ``app.state.clients`` answers for ``name``: a 503 at once when it is down."""
        status = self.down(name)
        if status is not None:
            raise ServiceDown(f"{name} is {status}; its routes answer again once it is up (`aria status`)",
                              service=name, service_status=status,
                              retry_after_s=RETRY_AFTER_S.get(status, DEFAULT_RETRY_AFTER_S))
        inner = self.directory.client(name)
        if inner is None:
            return None
        tally = self.tallies.setdefault(name, Tally())
        return CountedClient(inner, tally)

    def summary(self, status: dict[str, Any], breakers: dict[str, Any]) -> dict[str, Any]:
        """Which services are down and which circuits are open: the partial page's core."""
        down = [{"name": s["name"], "status": s["status"],
                 "reason": s.get("last_error") or s.get("message") or ""}
                for s in status.get("services", ()) if s.get("status") in NOT_UP]
        open_ = sorted(n for n, b in breakers.items() if getattr(b, "state", None) == "open")
        return {"down": down, "circuits_open": open_}
