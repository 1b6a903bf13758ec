"""aria_engine: HTN planning (GTPyhop model), GOAP, behavior trees, parallel planners.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_engine",
    layer=3,
    depends_on=('aria_security', 'aria_data', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'goap',
        'htn-gtpyhop',
        'behavior-trees',
        'decision-state',
        'action-costs',
        'multi-character',
        'predicates',
        'plan-repair',
        'conflict-resolution',
        'plan-learning',
    ),
    description="HTN planning (GTPyhop model), GOAP, behavior trees, parallel planners",
    entrypoint="aria_actors.engine.service:EngineService",
)


class EngineService(UnbuiltService):
    SPEC = SPEC
