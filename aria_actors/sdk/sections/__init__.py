"""The SDK's typed section per built service: ``AriaClient(...).<service>.<method>(...)``."""

from __future__ import annotations

from aria_actors.sdk.section import Section
from aria_actors.sdk.sections.auth import AuthAPI
from aria_actors.sdk.sections.data import DataAPI
from aria_actors.sdk.sections.debugger import DebuggerAPI
from aria_actors.sdk.sections.engine import EngineAPI
from aria_actors.sdk.sections.interface import InterfaceAPI
from aria_actors.sdk.sections.interpret import InterpretAPI
from aria_actors.sdk.sections.monitor import MonitorAPI
from aria_actors.sdk.sections.queue import QueueAPI
from aria_actors.sdk.sections.security import SecurityAPI
from aria_actors.sdk.sections.shape import ShapeAPI
from aria_actors.sdk.sections.storage import StorageAPI
from aria_actors.sdk.sections.tune import TuneAPI
from aria_actors.sdk.sections.workflow import WorkflowAPI

SECTIONS: dict[str, type[Section]] = {
    "security": SecurityAPI,
    "data": DataAPI,
    "auth": AuthAPI,
    "storage": StorageAPI,
    "queue": QueueAPI,
    "shape": ShapeAPI,
    "engine": EngineAPI,
    "interpret": InterpretAPI,
    "workflow": WorkflowAPI,
    "interface": InterfaceAPI,
    "monitor": MonitorAPI,
    "debugger": DebuggerAPI,
    "tune": TuneAPI,
}

__all__ = ["SECTIONS", "AuthAPI", "DataAPI", "DebuggerAPI", "EngineAPI", "InterfaceAPI", "InterpretAPI", "MonitorAPI",
           "QueueAPI", "SecurityAPI",
           "ShapeAPI", "StorageAPI", "TuneAPI", "WorkflowAPI"]
