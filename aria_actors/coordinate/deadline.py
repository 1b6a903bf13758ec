"""How long the gateway lets a request run before it answers 504 instead.

::

    /v1/<service>/...  ->  max(request_timeout_s, that service's call timeout + GRACE_S)
    anything else      ->  request_timeout_s

Guarantees and caveats
----------------------
- A route of a service whose calls may take longer than ``request_timeout_s`` (a model to load:
  aria_engine, aria_interpret, aria_shape) gets that call timeout plus ``GRACE_S``: the service
  call's own timeout answers first (a 503 naming the method), the deadline is the backstop for
  what no call timeout bounds (a stuck dependency of the route, the JWKS fetch, a slow body).
- The deadline is looked up by the path's second segment, whatever the version (``/v2/engine``
  gets aria_engine's deadline too); one dict lookup per request.
- :class:`DeadlineWatch` cancels a request's task once its deadline passed, checking every
  ``tick_s`` (a tenth of the shortest deadline, at most a second): a request is cut between its
  deadline and one tick later. Answering 504 (unless the response started) and leaving streams and
  WebSockets alone is :class:`aria_actors.coordinate.observe.ObserveRequests`'s job.
- Not ``asyncio.timeout`` per request: that costs a timer handle pushed on and cancelled off the
  event loop's heap for every request (15 us a request through the whole app, measured, 6% of a
  trivial GET); here a request costs a set insert and removal, and one timer runs per tick while
  requests are in flight.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable

from aria_actors.runtime.errors import AriaError

GRACE_S = 5.0


class GatewayTimeout(AriaError):
    """The request got no response within the gateway's deadline and was cancelled; retry, or
    raise ``ARIA_COORDINATE_REQUEST_TIMEOUT_S`` if the work legitimately takes longer."""

    type = "gateway-timeout"
    status = 504
    title = "Gateway timeout"


class Deadlines:
    """The deadline of each request path (see the module docstring)."""

    def __init__(self, default_s: float, by_segment: dict[str, float] | None = None) -> None:
        self.default_s = default_s
        self.by_segment = by_segment or {}

    @classmethod
    def for_services(cls, default_s: float, modules: Iterable[str],
                     call_timeout_of: Callable[[str], float | None]) -> Deadlines:
        """``modules``: the mounted service modules (``"engine"``); ``call_timeout_of``: the
        gateway's timeout for one call to ``aria_<module>`` (None: unknown)."""
        by_segment = {}
        for module in modules:
            call = call_timeout_of(f"aria_{module}")
            if call is not None and call + GRACE_S > default_s:
                by_segment[module] = call + GRACE_S
        return cls(default_s, by_segment)

    def for_path(self, path: str) -> float:
        if not self.by_segment:
            return self.default_s
        parts = path.split("/", 3)  # ["", "v1", "engine", "rest"]
        return self.by_segment.get(parts[2], self.default_s) if len(parts) > 2 else self.default_s


class Watched:
    """One request's deadline: ``at`` (loop time; inf once its response started) and whether it expired."""

    __slots__ = ("at", "expired", "task")

    def __init__(self, at: float, task: asyncio.Task[object]) -> None:
        self.at = at
        self.task = task
        self.expired = False


class DeadlineWatch:
    """Cancels the task of each watched request whose deadline passed (see the module docstring).

    One sweep timer per event loop, armed while that loop has requests in flight (tests run apps
    on several loops; the gateway has one).
    """

    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self._watched: dict[asyncio.AbstractEventLoop, set[Watched]] = {}

    @classmethod
    def for_deadlines(cls, deadlines: Deadlines) -> DeadlineWatch:
        return cls(tick_s=max(0.001, min(1.0, deadlines.default_s / 10)))

    def watch(self, seconds: float) -> Watched:
        """Watch the current task: it is cancelled once ``seconds`` passed (unless ``extend``ed)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None  # an ASGI app is always called from a task
        entry = Watched(loop.time() + seconds, task)
        watched = self._watched.get(loop)
        if watched is None:
            watched = self._watched[loop] = set()
            loop.call_later(self.tick_s, self._sweep, loop)
        watched.add(entry)
        return entry

    @staticmethod
    def extend(entry: Watched, seconds: float) -> None:
        """Move the deadline to ``seconds`` from now (math.inf: never)."""
        entry.at = entry.task.get_loop().time() + seconds if seconds != math.inf else math.inf

    def release(self, entry: Watched) -> None:
        watched = self._watched.get(entry.task.get_loop())
        if watched is not None:
            watched.discard(entry)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        watched = self._watched.get(loop, set())
        now = loop.time()
        for entry in watched:
            if not entry.expired and now >= entry.at:
                entry.expired = True
                entry.task.cancel()  # lands inside the app's await: the entry is released right after it
        if watched:
            loop.call_later(self.tick_s, self._sweep, loop)
        else:
            self._watched.pop(loop, None)
