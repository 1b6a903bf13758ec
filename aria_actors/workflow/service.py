"""aria_workflow: SOPs: versioned workflows with parallel and conditional steps.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.workflow.spec import SPEC


class WorkflowService(UnbuiltService):
    SPEC = SPEC
