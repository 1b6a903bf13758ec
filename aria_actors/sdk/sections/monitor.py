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
