"""The spec of aria_workflow: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_workflow",
    layer=4,
    depends_on=('aria_security', 'aria_data', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
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
