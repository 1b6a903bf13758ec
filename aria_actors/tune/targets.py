"""The model services aria_tune calls for a caller (architecture trials, A/B tests): their typed
clients by service name, imported on first use (aria_tune's modules import none of theirs)."""

from __future__ import annotations

import importlib
from typing import Any

CLIENTS = {"aria_interpret": "aria_actors.interpret.client:InterpretClient",
           "aria_shape": "aria_actors.shape.client:ShapeClient"}


def client_class(service: str) -> Any:
    """The typed client class of ``service`` (one of :data:`CLIENTS`)."""
    module, attr = CLIENTS[service].split(":")
    return getattr(importlib.import_module(module), attr)
