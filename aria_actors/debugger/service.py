"""aria_debugger: Runtime inspection and tracing.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.debugger.spec import SPEC
from aria_actors.runtime.service import UnbuiltService


class DebuggerService(UnbuiltService):
    SPEC = SPEC
