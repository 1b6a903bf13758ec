"""What a service declares about itself, and what its health probe answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Status(StrEnum):
    """Service lifecycle, as the boot actor sees it.

    ::

        (registered) --start--> starting --ok--> ready <--> degraded
                                   |               |           |
                                   +--raise--> failed <--health fails / actor dies--+
                                                   |    (restart with backoff -> starting)
        ready / degraded / failed --stop--> stopped
        not_implemented: the service runs and answers health but its features are not built
    """

    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"
    FAILED = "failed"
    STOPPED = "stopped"
    NOT_IMPLEMENTED = "not_implemented"

    @property
    def is_up(self) -> bool:
        """Up enough for dependents to start on top of it."""
        return self in (Status.READY, Status.DEGRADED, Status.NOT_IMPLEMENTED)


Kind = Literal["actor", "deployment"]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service's contract with the runtime: identity, place in the boot order, resources."""

    name: str
    layer: int
    depends_on: tuple[str, ...] = ()
    kind: Kind = "actor"
    num_cpus: float = 0.0
    num_gpus: float = 0.0
    capabilities: tuple[str, ...] = ()
    # The seed's feature list for this service; `missing` is what is not built yet.
    features: tuple[str, ...] = ()
    description: str = ""
    # "module:Class" of the Service implementation, imported only inside the service's own process.
    entrypoint: str = ""
    # How long the gateway waits on one call to it; None: the `call_timeout_s` setting. For a
    # service whose first call may have to load something large (a model).
    call_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.layer <= 5:
            raise ValueError(f"{self.name}: layer must be 1-5, got {self.layer}")
        if self.name in self.depends_on:
            raise ValueError(f"{self.name} depends on itself")

    @property
    def missing(self) -> tuple[str, ...]:
        done = set(self.capabilities)
        return tuple(f for f in self.features if f not in done)


@dataclass(slots=True)
class Health:
    """A service's answer to a health probe; `details` holds what the probe measured."""

    status: Status
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    checked_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "message": self.message,
            "details": self.details,
            "checked_at": self.checked_at,
        }
