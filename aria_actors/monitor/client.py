"""Typed client of aria_monitor: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(MonitorClient)``, ``Depends(service_client(MonitorClient))`` or
``bind(MonitorClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py monitor
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_monitor")
class MonitorClient:
    @rpc("monitor:alerts:read", scope="any", feature="alerting")
    async def alerts(self, caller: Principal) -> list[dict[str, Any]]:
        """Pending and firing alerts, and those resolved in the last 15 minutes."""

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def prometheus_config(self, caller: Principal) -> str:
        """A prometheus.yml that scrapes this Aria through its gateway (the token is read from a file..."""

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def query(self, caller: Principal, expr: str, at: float | None = None) -> dict[str, Any]:
        """A PromQL instant query over the kept history (Prometheus's ``/api/v1/query`` answer)."""

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def query_range(
        self,
        caller: Principal,
        expr: str,
        start: float,
        end: float,
        step: float,
    ) -> dict[str, Any]:
        """A PromQL range query: the expression at every ``step`` from ``start`` to ``end``."""

    @rpc("monitor:alerts:read", scope="any", feature="alerting")
    async def rules(self, caller: Principal) -> list[dict[str, Any]]:
        """The rule groups and each rule's last evaluation: health, error, series returned."""

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def scrape(self, caller: Principal) -> str:
        """Every service's metrics in one Prometheus exposition (text format 0.0.4)."""

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def targets(self, caller: Principal) -> dict[str, Any]:
        """Each service's last metrics read: up, seconds, and why it failed."""
