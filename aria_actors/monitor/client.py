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

    @rpc("monitor:metrics:read", scope="any", feature="bottlenecks")
    async def bottlenecks(self, caller: Principal, window_s: float = 300, limit: int = 10) -> dict[str, Any]:
        """Where the time goes: methods and routes by time spent, services by CPU, the slowest methods."""

    @rpc("monitor:usage:read", feature="business-metrics")
    async def business(self, caller: Principal, days: int = 30, tenant: str | None = None) -> dict[str, Any]:
        """Characters created, plans made, jobs run and models trained per UTC day and tenant."""

    @rpc("monitor:metrics:read", scope="any", feature="capacity-planning")
    async def capacity(
        self,
        caller: Principal,
        horizon_s: float = 86400.0,
        window_s: float = 3600.0,
    ) -> dict[str, Any]:
        """Straight-line projections of each service's memory, Aria's memory and CPU, the history's..."""

    @rpc("monitor:metrics:read", scope="any", feature="cost-insights")
    async def costs(self, caller: Principal, window_s: float = 3600.0) -> dict[str, Any]:
        """Each service's CPU and memory over the window against its reservation and the node, with..."""

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def dashboard(
        self,
        caller: Principal,
        name: str,
        window: str = '1h',
        source: str = 'auto',
    ) -> dict[str, Any]:
        """Each panel's series over the window: from memory for the recent range, PostgreSQL's rollups..."""

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def dashboards(self, caller: Principal) -> list[dict[str, Any]]:
        """The built-in dashboards and their panels (name, title, unit, PromQL)."""

    @rpc("monitor:metrics:read", scope="any", feature="dependency-health")
    async def dependencies(self, caller: Principal) -> dict[str, Any]:
        """The live dependency graph: every service's status, the edges' state, and what each service..."""

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def grafana_dashboard(self, caller: Principal, name: str) -> dict[str, Any]:
        """The dashboard as Grafana JSON (timeseries panels with PromQL targets on a Prometheus..."""

    @rpc("monitor:metrics:read", scope="any", feature="system-health")
    async def health_history(
        self,
        caller: Principal,
        service: str | None = None,
        window_s: float = 3600,
    ) -> dict[str, Any]:
        """Each service's status over the last ``window_s``: transitions, seconds per status, up share,..."""

    @rpc("monitor:metrics:read", scope="any", feature="performance")
    async def performance(self, caller: Principal, window_s: float = 300) -> dict[str, Any]:
        """Per route and RPC method: rate, error ratio, p50/p90/p99; per service: CPU and memory."""

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

    @rpc("monitor:usage:read", feature="usage-analytics")
    async def usage(
        self,
        caller: Principal,
        days: int = 7,
        tenant: str | None = None,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Calls and errors per UTC day, tenant, service and method, and active users per day and tenant."""
