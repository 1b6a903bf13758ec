"""aria_monitor: Prometheus metrics and system observability.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.monitor.spec import SPEC
from aria_actors.runtime.service import UnbuiltService


class MonitorService(UnbuiltService):
    SPEC = SPEC
