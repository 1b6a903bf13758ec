"""The spec of aria_engine: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_engine",
    layer=3,
    depends_on=('aria_security', 'aria_data', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    # Built means reachable (a route, the CLI: tests/unit/test_reachability.py).
    capabilities=(
        'htn-gtpyhop',
        'action-costs',
        'predicates',
        'goap',
        'behavior-trees',
        'multi-character',
        'conflict-resolution',
        'plan-repair',
        'plan-learning',
        'decision-state',
    ),
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
    # Above the longest plan budget (max_seconds, 30 s by default): a plan that runs out of budget
    # answers 422 budget-exhausted itself, and a gateway timeout (a 503 that counts toward the
    # breaker) is kept for an engine that does not answer at all.
    call_timeout_s=90.0,
)
