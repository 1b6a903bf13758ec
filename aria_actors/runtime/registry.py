"""The fourteen services, in the seed's cold-boot order."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.rpc import service_of
from aria_actors.runtime.spec import ServiceSpec

if TYPE_CHECKING:  # runtime.service imports the settings, which import every service's config
    from aria_actors.runtime.service import Service

SERVICE_MODULES: tuple[str, ...] = (
    "security", "data",
    "auth", "storage", "queue",
    "shape", "engine", "interpret",
    "workflow", "interface",
    "coordinate", "monitor", "debugger", "tune",
)


def service_submodules(name: str) -> Iterator[tuple[str, ModuleType]]:
    """``(service, aria_actors.<service>.<name>)`` for every service that has such a module.

    How the gateway finds routers (``api``) and the CLI finds command groups (``cli``); an import
    error inside an existing module is raised, not mistaken for a missing module.
    """
    for module in SERVICE_MODULES:
        qualified = f"aria_actors.{module}.{name}"
        try:
            yield module, importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise


def _spec_of(module: str) -> ServiceSpec:
    # spec.py imports only runtime.spec: reading every SPEC never loads a service's implementation.
    return importlib.import_module(f"aria_actors.{module}.spec").SPEC


def all_specs() -> tuple[ServiceSpec, ...]:
    return tuple(_spec_of(m) for m in SERVICE_MODULES)


def spec_by_name(name: str, specs: Iterable[ServiceSpec] | None = None) -> ServiceSpec:
    for spec in specs if specs is not None else all_specs():
        if spec.name == name:
            return spec
    raise NotFound(f"no service named {name!r}; `aria services` lists them", service=name)


def load_service_class(spec: ServiceSpec) -> type[Service]:
    """Import the Service class named by ``spec.entrypoint`` ("module:Class")."""
    module_name, _, attr = spec.entrypoint.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{spec.name}: entrypoint must be 'module:Class', got {spec.entrypoint!r}")
    return getattr(importlib.import_module(module_name), attr)


def client_class(service: str) -> type | None:
    """The typed client of ``service`` (``aria_actors.<svc>.client``), None for one with no surface.

    Declarations are read here, not from the service class, so the gateway, the queue and the
    permission table never import a service's implementation.
    """
    module_name = service.removeprefix("aria_")
    if module_name not in SERVICE_MODULES:
        raise NotFound(f"no service named {service!r}; `aria services` lists them", service=service)
    try:
        module = importlib.import_module(f"aria_actors.{module_name}.client")
    except ModuleNotFoundError as exc:
        if exc.name != f"aria_actors.{module_name}.client":
            raise
        return None
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "__aria_service__", None) == service:
            assert service_of(value) == service
            return value
    return None
