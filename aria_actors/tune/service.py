"""aria_tune: Performance and hyperparameter tuning.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.tune.spec import SPEC


class TuneService(UnbuiltService):
    SPEC = SPEC
