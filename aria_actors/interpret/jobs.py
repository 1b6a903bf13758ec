"""aria_interpret's aria_queue workers, where the queue looks for them (``aria_actors.<service>.jobs``).

The worker ``aria_interpret.train`` lives in :mod:`aria_actors.interpret.training`; importing this
module registers it.
"""

from __future__ import annotations

from aria_actors.interpret.training import train_job

__all__ = ["train_job"]
