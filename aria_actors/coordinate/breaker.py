"""A circuit breaker per downstream service, so a dead service costs callers nothing but a fast 503.

::

    closed --N failures in a row--> open --cooldown elapsed--> half_open
      ^                               ^                           |
      +---------- success ------------+------- failure -----------+

Guarantees and caveats: counts consecutive failures only (no sliding window); in half-open one
trial call is let through at a time, others fail fast until it settles.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aria_actors.runtime.errors import ServiceUnavailable

T = TypeVar("T")


class CircuitOpen(ServiceUnavailable):
    """The service failed repeatedly and calls to it are paused; retry after ``retry_after_s``."""

    type = "circuit-open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    cooldown_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    state: str = "closed"
    failures: int = 0
    opened_at: float = 0.0
    trial_running: bool = False
    counters: dict[str, int] = field(default_factory=lambda: {"calls": 0, "failures": 0, "rejected": 0})

    def _admit(self) -> None:
        if self.state == "open":
            if self.clock() - self.opened_at >= self.cooldown_s:
                self.state = "half_open"
            else:
                self.counters["rejected"] += 1
                wait = self.cooldown_s - (self.clock() - self.opened_at)
                raise CircuitOpen(f"{self.name} is failing; calls paused for {wait:.1f}s more",
                                  service=self.name, retry_after_s=round(wait, 2))
        if self.state == "half_open":
            if self.trial_running:
                self.counters["rejected"] += 1
                raise CircuitOpen(f"{self.name} is being probed; retry shortly", service=self.name,
                                  retry_after_s=self.cooldown_s)
            self.trial_running = True

    async def call(self, fn: Callable[[], Awaitable[T]], is_failure: Callable[[BaseException], bool]) -> T:
        self._admit()
        self.counters["calls"] += 1
        try:
            result = await fn()
        except BaseException as exc:
            self.trial_running = False
            if is_failure(exc):
                self._failed()
            raise
        self.trial_running = False
        self.state, self.failures = "closed", 0
        return result

    def _failed(self) -> None:
        self.counters["failures"] += 1
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self.state, self.opened_at = "open", self.clock()

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state, "failures_in_row": self.failures, **self.counters}
