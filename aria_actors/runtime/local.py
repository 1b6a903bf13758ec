"""Local mode: call a service in-process with the semantics of a remote call.

Arguments and results go through pickle, as they would through Ray, so a test that passes here
does not depend on sharing objects by reference. Used by unit tests and by ``aria`` tools that run
a service without Ray.
"""

from __future__ import annotations

import pickle
from typing import Any

from aria_actors.runtime.rpc import invoke
from aria_actors.runtime.service import Service


class LocalClient:
    """A :class:`~aria_actors.runtime.service.ServiceClient` over an in-process service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = service.spec.name

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        result = await invoke(self.service, method, args, kwargs)
        return pickle.loads(pickle.dumps(result))
