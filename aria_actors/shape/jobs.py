"""aria_shape's aria_queue workers, where the queue looks for them (``aria_actors.<service>.jobs``).

The worker ``aria_shape.train`` and the training job it runs live in
:mod:`aria_actors.shape.training.job`; importing this module registers it.
"""

from __future__ import annotations

from aria_actors.shape.training.job import train_job

__all__ = ["train_job"]
