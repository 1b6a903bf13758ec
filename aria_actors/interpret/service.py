"""aria_interpret: NLP over character text and a DIN recommender.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.interpret.spec import SPEC
from aria_actors.runtime.service import UnbuiltService


class InterpretService(UnbuiltService):
    SPEC = SPEC
