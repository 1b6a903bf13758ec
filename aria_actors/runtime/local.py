"""Local mode: call a service in-process with the semantics of a remote call.

Arguments and results go through pickle, as they would through Ray, so a test that passes here
does not depend on sharing objects by reference. Used by unit tests and by ``aria`` tools that run
a service without Ray.
"""

from __future__ import annotations

import inspect
import pickle
from typing import Any

from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.service import Service


def public_methods(service: Service) -> set[str]:
    """Methods a client may call: public coroutine or plain methods of the service."""
    return {
        name for name, member in inspect.getmembers(type(service))
        if not name.startswith("_") and callable(member)
    }


async def invoke(service: Service, method: str, args: tuple, kwargs: dict) -> Any:
    """Call ``service.method(*args, **kwargs)``, awaiting it if it is a coroutine."""
    if method.startswith("_") or method not in public_methods(service):
        raise NotFound(f"{service.spec.name} has no method {method!r}", method=method)
    result = getattr(service, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class LocalClient:
    """A :class:`~aria_actors.runtime.service.ServiceClient` over an in-process service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = service.spec.name

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        result = await invoke(self.service, method, args, kwargs)
        return pickle.loads(pickle.dumps(result))
