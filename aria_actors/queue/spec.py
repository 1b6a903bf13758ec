"""The spec of aria_queue: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

FEATURES = (
    "jobs",
    "priorities",
    "retries",
    "dead-letter",
    "cron",
    "queue-scaling",
    "job-metrics",
    "queue-health",
    "cross-service-jobs",
)

SPEC = ServiceSpec(
    name="aria_queue",
    layer=2,
    depends_on=('aria_data', 'aria_security'),
    kind="actor",
    num_cpus=0.0,
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="Durable jobs with Oban's semantics on Postgres",
    entrypoint="aria_actors.queue.service:QueueService",
)
