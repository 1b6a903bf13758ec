"""The spec of aria_workflow: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_workflow",
    layer=4,
    # The services a run may call (as its starter) are the ones declared here: Deps hands
    # aria_workflow clients of these and nothing else.
    depends_on=('aria_security', 'aria_data', 'aria_queue', 'aria_storage', 'aria_shape', 'aria_engine',
                'aria_interpret'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(
        'sop-definition',
        'execution-state',
        'dynamic-adaptation',
        'multi-service',
        'versioning-rollback',
        'parallel-steps',
        'conditional-branching',
        'error-recovery',
        'workflow-analytics',
    ),
    features=(
        'sop-definition',
        'execution-state',
        'dynamic-adaptation',
        'multi-service',
        'versioning-rollback',
        'parallel-steps',
        'conditional-branching',
        'error-recovery',
        'workflow-analytics',
    ),
    description="SOPs: versioned workflows with parallel and conditional steps",
    entrypoint="aria_actors.workflow.service:WorkflowService",
)
