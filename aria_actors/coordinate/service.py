"""aria_coordinate: HTTP gateway, discovery, circuit breakers.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_coordinate",
    layer=5,
    depends_on=('aria_security', 'aria_auth'),
    kind="deployment",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'service-discovery',
        'health-monitoring',
        'load-balancing',
        'circuit-breakers',
        'graceful-degradation',
        'routing',
        'api-versioning',
        'cors',
        'request-logging',
    ),
    description="HTTP gateway, discovery, circuit breakers",
    entrypoint="aria_actors.coordinate.service:CoordinateService",
)


class CoordinateService(UnbuiltService):
    SPEC = SPEC
