"""aria_queue: Durable jobs with Oban's semantics on Postgres.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_queue",
    layer=2,
    depends_on=('aria_data', 'aria_security'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'jobs',
        'priorities',
        'retries',
        'dead-letter',
        'cron',
        'queue-scaling',
        'job-metrics',
        'queue-health',
        'cross-service-jobs',
    ),
    description="Durable jobs with Oban's semantics on Postgres",
    entrypoint="aria_actors.queue.service:QueueService",
)


class QueueService(UnbuiltService):
    SPEC = SPEC
