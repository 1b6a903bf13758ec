"""``aria.monitor``: every service's metrics, PromQL over their history, alerts (``/v1/monitor``)."""

from __future__ import annotations

from typing import Any

import aria_actors.monitor.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route


class MonitorAPI(Section):
    @route("GET", "/v1/monitor/metrics")
    def metrics(self) -> bytes:
        """Every service's metrics in one Prometheus exposition."""
        return Req(raw=True)

    @route("GET", "/v1/monitor/targets")
    def targets(self) -> dict[str, Any]:
        """Each service's last metrics read: up, seconds, error."""
        return Req()

    @route("GET", "/v1/monitor/query")
    def query(self, query: str, time: float | None = None) -> dict[str, Any]:
        """A PromQL instant query: ``{"status", "data": {"resultType", "result"}}`` as Prometheus answers."""
        return Req(params={"query": query, "time": time})

    @route("GET", "/v1/monitor/query_range")
    def query_range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        """A PromQL range query: ``{"status", "data"}`` with a matrix."""
        return Req(params={"query": query, "start": start, "end": end, "step": step})

    @route("GET", "/v1/monitor/alerts")
    def alerts(self) -> list[dict[str, Any]]:
        """Pending, firing and recently resolved alerts."""
        return Req()

    @route("GET", "/v1/monitor/rules")
    def rules(self) -> list[dict[str, Any]]:
        """Rule groups with each rule's last evaluation."""
        return Req()

    @route("GET", "/v1/monitor/prometheus-config")
    def prometheus_config(self) -> bytes:
        """A prometheus.yml scraping this Aria."""
        return Req(raw=True)

    @route("GET", "/v1/monitor/health/history")
    def health_history(self, service: str | None = None, window_s: float = 3600) -> dict[str, Any]:
        """Each service's status over the last ``window_s`` seconds: transitions, seconds per status,
        up share, restarts, scrape availability (``{"at", "window_s", "services": [...]}``)."""
        return Req(params={"service": service, "window_s": window_s})

    @route("GET", "/v1/monitor/dependencies")
    def dependencies(self) -> dict[str, Any]:
        """The live dependency graph: nodes, edges (ok/down), blast radius, what explains each degraded service."""
        return Req()

    @route("GET", "/v1/monitor/costs")
    def costs(self, window_s: float = 3600) -> dict[str, Any]:
        """Each service's CPU (cores) and memory over the last ``window_s`` against its reservation and
        the node, with over-reserved, under-reserved and idle findings."""
        return Req(params={"window_s": window_s})

    @route("GET", "/v1/monitor/capacity")
    def capacity(self, horizon_s: float = 86400, window_s: float = 3600) -> dict[str, Any]:
        """Linear fits of each service's memory, total memory and CPU, the history's series and each
        queue's backlog: slope per hour, value at now + ``horizon_s``, seconds to the limit."""
        return Req(params={"horizon_s": horizon_s, "window_s": window_s})

    @route("GET", "/v1/monitor/performance")
    def performance(self, window_s: float = 300) -> dict[str, Any]:
        """Per gateway route and RPC method over the last ``window_s``: rate, error ratio, p50/p90/p99
        (seconds, from the histogram buckets); per service: CPU (cores) and resident memory."""
        return Req(params={"window_s": window_s})

    @route("GET", "/v1/monitor/bottlenecks")
    def bottlenecks(self, window_s: float = 300, limit: int = 10) -> dict[str, Any]:
        """Where the time of the last ``window_s`` went: methods and routes by time spent (with their
        share), services by CPU, the slowest methods by p99; ``limit`` rows each."""
        return Req(params={"window_s": window_s, "limit": limit})

    @route("GET", "/v1/monitor/dashboards")
    def dashboards(self) -> list[dict[str, Any]]:
        """The built-in dashboards and their panels (name, title, unit, PromQL)."""
        return Req()

    @route("GET", "/v1/monitor/dashboards/{name}")
    def dashboard(self, name: str, window: str = "1h", source: str = "auto") -> dict[str, Any]:
        """Each panel's series over ``window`` (``15m``, ``6h``, ``7d`` or seconds); ``source`` in the
        answer says whether memory or PostgreSQL's rollups drew it (``auto``, ``memory``, ``postgres``)."""
        return Req(path={"name": name}, params={"window": window, "source": source})

    @route("GET", "/v1/monitor/dashboards/{name}/grafana")
    def grafana_dashboard(self, name: str) -> dict[str, Any]:
        """The dashboard as Grafana JSON (import it, or provision it from a file)."""
        return Req(path={"name": name})

    @route("GET", "/v1/monitor/usage")
    def usage(self, days: int = 7, tenant: str | None = None, service: str | None = None) -> dict[str, Any]:
        """Calls and errors per UTC day, tenant, service and method, and active users per day and tenant."""
        return Req(params={"days": days, "tenant": tenant, "service": service})

    @route("GET", "/v1/monitor/business")
    def business(self, days: int = 30, tenant: str | None = None) -> dict[str, Any]:
        """Characters created, plans made, jobs run and models trained per UTC day and tenant."""
        return Req(params={"days": days, "tenant": tenant})
