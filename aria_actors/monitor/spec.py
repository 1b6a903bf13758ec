"""The spec of aria_monitor: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_monitor",
    layer=5,
    depends_on=('aria_security', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(
        'prometheus',
        'alerting',
        'system-health',
        'dependency-health',
        'cost-insights',
        'capacity-planning',
        'performance',
        'bottlenecks',
        'dashboard',
        'business-metrics',
        'usage-analytics',
    ),
    features=(
        'prometheus',
        'dashboard',
        'performance',
        'business-metrics',
        'alerting',
        'usage-analytics',
        'cost-insights',
        'system-health',
        'dependency-health',
        'bottlenecks',
        'capacity-planning',
    ),
    description="Prometheus metrics and system observability",
    entrypoint="aria_actors.monitor.service:MonitorService",
)
