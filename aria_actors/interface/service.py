"""aria_interface: Web UI, REST, WebSocket, WebRTC signalling.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.interface.spec import SPEC
from aria_actors.runtime.service import UnbuiltService


class InterfaceService(UnbuiltService):
    SPEC = SPEC
