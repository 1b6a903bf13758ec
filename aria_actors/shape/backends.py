"""Which generation backend a process uses: :class:`~aria_actors.shape.inference.LocalBackend` or
:class:`~aria_actors.shape.serve_backend.ServeBackend`.

Its own module because it knows both: ``inference`` (the backend contract and the in-process
backend) must not import ``serve_backend``, which builds on it.

Guarantees and caveats
----------------------
- :func:`make_backend` picks Serve only where asked to, or (``inference="auto"``) where ray is
  already imported and this process is a Ray actor; ``serve_backend`` imports ray itself only
  when it deploys.
"""

from __future__ import annotations

from typing import Any

from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.inference import Backend, LocalBackend, in_ray_actor
from aria_actors.shape.serve_backend import ServeBackend


def make_backend(config: ShapeConfig, settings: Any) -> Backend:
    """The backend ``config.inference`` asks for (``auto``: Serve inside a Ray actor)."""
    use_serve = config.inference == "serve" or (config.inference == "auto" and in_ray_actor())
    if use_serve:
        return ServeBackend(config, settings)
    return LocalBackend()
