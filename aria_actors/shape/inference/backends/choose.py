"""Which generation backend a process uses: :class:`~aria_actors.shape.inference.backends.local.LocalBackend`
or :class:`~aria_actors.shape.inference.backends.serve.ServeBackend`.

Its own module because it knows both: the contract (:mod:`aria_actors.shape.inference.contract`)
knows neither, and each backend knows only the contract.

Guarantees and caveats
----------------------
- :func:`make_backend` picks Serve only where asked to, or (``inference="auto"``) where ray is
  already imported and this process is a Ray actor (:func:`in_ray_actor`, which imports nothing);
  the Serve backend imports ray itself only when it deploys.
"""

from __future__ import annotations

import sys
from typing import Any

from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.inference.backends.local import LocalBackend
from aria_actors.shape.inference.backends.serve import ServeBackend
from aria_actors.shape.inference.contract import Backend


def in_ray_actor() -> bool:
    """This process is a Ray actor (ray already imported and connected); imports nothing."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return False
    return ray.get_runtime_context().get_actor_id() is not None


def make_backend(config: ShapeConfig, settings: Any) -> Backend:
    """The backend ``config.inference`` asks for (``auto``: Serve inside a Ray actor)."""
    use_serve = config.inference == "serve" or (config.inference == "auto" and in_ray_actor())
    if use_serve:
        return ServeBackend(config, settings)
    return LocalBackend(config.load_retry_s)
