"""What a workflow document may name: service methods (with their parameters), queue workers and
registered Python steps; and the lookups and argument checks that
:func:`aria_actors.workflow.document.validate` makes against it (each refusal names the place).

::

    typed clients (aria_actors.<svc>.client)  --Catalog.from_registry-->  Catalog
        ShapeClient.complete(self, caller, prompts: list[str], *, seed: int | None = None)
        -> services["aria_shape"]["complete"] = Signature(params={prompts: required, array;
                                                                  seed: optional, integer|null})

Guarantees and caveats:
- Read from the typed clients, never from a service's implementation: building the catalog
  imports no service and starts nothing (the same declarations the gateway and the queue read).
- A parameter's JSON types come from its annotation (``int`` -> integer, ``float`` -> number or
  integer, ``list[...]`` -> array, ``X | None`` adds null); an annotation with no JSON meaning
  (``bytes``, ``Any``, an unknown class) is "any": validation refuses only what is surely wrong.
- ``caller`` (and ``self``) are never document parameters: the engine supplies the run's starter.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.registry import SERVICE_MODULES, client_class
from aria_actors.runtime.rpc import client_methods
from aria_actors.workflow.errors import InvalidDefinition

HIDDEN = ("self", "caller")
_OBJECT = (dict, Mapping)
_ARRAY = (list, tuple, set, frozenset, Sequence, Set)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter a document passes by name: its annotation as written, its JSON types (None:
    any) and whether it must be given."""

    name: str
    annotation: str
    types: frozenset[str] | None
    required: bool


@dataclass(frozen=True, slots=True)
class Signature:
    """What a callable takes and gives, as a document sees it. ``open``: it takes ``**kwargs``;
    ``job``: a declared RPC method that a queue job may call (``service:<svc>.<method>``)."""

    name: str
    params: Mapping[str, Param]
    returns: frozenset[str] | None = None
    open: bool = False
    job: bool = False

    @classmethod
    def of(cls, fn: Callable[..., Any], *, hidden: Iterable[str] = HIDDEN) -> Signature:
        skip = set(hidden)
        sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # an annotation that does not resolve here: every type is "any"
            hints = {}
        params: dict[str, Param] = {}
        for p in sig.parameters.values():
            if p.name in skip or p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            written = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)
            params[p.name] = Param(p.name, "any" if p.annotation is inspect.Parameter.empty else written,
                                   json_types(hints.get(p.name, Any)), p.default is inspect.Parameter.empty)
        spec = getattr(fn, "__aria_rpc__", None)
        return cls(getattr(fn, "__name__", "?"), params, json_types(hints.get("return", Any)),
                   open=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()),
                   job=bool(getattr(spec, "job", False)))

    def describe(self) -> dict[str, Any]:
        return {"params": {p.name: {"type": p.annotation, "required": p.required} for p in self.params.values()},
                "returns": sorted(self.returns) if self.returns is not None else "any", "job": self.job}


def json_types(tp: Any) -> frozenset[str] | None:
    """The JSON types a value of annotation ``tp`` may have; None when any (or unknown)."""
    if tp is Any or tp is inspect.Parameter.empty or isinstance(tp, typing.TypeVar):
        return None
    if tp is None or tp is type(None):
        return frozenset({"null"})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return json_types(args[0])
    if origin in (typing.Union, types.UnionType):
        parts = [json_types(a) for a in args]
        return None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
    if origin is typing.Literal:
        return frozenset().union(*(json_types(type(a)) or frozenset() for a in args)) or None
    base = origin or tp
    if not isinstance(base, type):
        return None
    if issubclass(base, enum.Enum):
        return frozenset().union(*(json_types(type(m.value)) or frozenset() for m in base)) or None
    if issubclass(base, bool):
        return frozenset({"boolean"})
    if issubclass(base, int):
        return frozenset({"integer"})
    if issubclass(base, float):
        return frozenset({"number", "integer"})
    if issubclass(base, str):
        return frozenset({"string"})
    if issubclass(base, _OBJECT) or typing.is_typeddict(base) or hasattr(base, "model_fields"):
        return frozenset({"object"})
    if issubclass(base, (bytes, bytearray)):
        return None  # how bytes travel in JSON is the transport's business
    if issubclass(base, _ARRAY):
        return frozenset({"array"})
    return None


def refuse(where: str, problem: str, message: str) -> InvalidDefinition:
    """The error of a document's problem ``problem`` at ``where`` (``steps[3].call.args.prompt``)."""
    return InvalidDefinition(f"{where}: {message}" if where else message, where=where, problem=problem)


def few(names: Iterable[str], limit: int = 12) -> str:
    """Some names, for a message that says what exists."""
    shown = sorted(names)
    return ", ".join(shown[:limit]) + (f" (and {len(shown) - limit} more)" if len(shown) > limit else "") or "none"


def show(types: frozenset[str]) -> str:
    return " or ".join(sorted(types))


def check_args(sig: Signature, args: Mapping[str, Any], where: str,
               types_of: Callable[[Any], frozenset[str] | None]) -> None:
    """Refuse unknown and missing arguments, and values whose JSON types (``types_of``: None when
    unknown) cannot fit the parameter's annotation."""
    for name, value in args.items():
        param = sig.params.get(name)
        if param is None:
            if sig.open:
                continue
            raise refuse(f"{where}.{name}", "unknown-argument",
                         f"{sig.name} takes no argument {name!r}; it takes {few(sig.params)}")
        got = types_of(value)
        if got is not None and param.types is not None and not got & param.types:
            raise refuse(f"{where}.{name}", "type-mismatch",
                         f"{name} is {param.annotation}, but the value is {show(got)}")
    missing = [p.name for p in sig.params.values() if p.required and p.name not in args]
    if missing:
        raise refuse(where, "missing-argument", f"{sig.name} needs {', '.join(missing)}")


@dataclass(frozen=True)
class Catalog:
    """Services -> methods -> :class:`Signature`, queue worker names, Python step names (with
    their signature when known). Tests build one by hand or with :meth:`from_clients`."""

    services: Mapping[str, Mapping[str, Signature]] = field(default_factory=dict)
    workers: frozenset[str] = frozenset()
    python_steps: Mapping[str, Signature | None] = field(default_factory=dict)

    @classmethod
    def from_clients(cls, clients: Mapping[str, type], *, workers: Iterable[str] = (),
                     python_steps: Mapping[str, Callable[..., Any]] | Iterable[str] = ()) -> Catalog:
        """A catalog of ``{"aria_x": ClientClass}``: every public method of each class."""
        services = {name: {m: Signature.of(getattr(client, m)) for m in sorted(client_methods(client))}
                    for name, client in clients.items()}
        if isinstance(python_steps, Mapping):
            steps: dict[str, Signature | None] = {n: Signature.of(fn, hidden=()) for n, fn in python_steps.items()}
        else:
            steps = dict.fromkeys(python_steps)
        return cls(services, frozenset(workers), steps)

    @classmethod
    def from_registry(cls, *, workers: Iterable[str] = (),
                      python_steps: Mapping[str, Callable[..., Any]] | Iterable[str] = ()) -> Catalog:
        """The catalog of every service that has a typed client (aria_actors.runtime.registry)."""
        clients = {}
        for module in SERVICE_MODULES:
            client = client_class(f"aria_{module}")
            if client is not None and module != "workflow":  # a run never calls aria_workflow itself
                clients[f"aria_{module}"] = client
        return cls.from_clients(clients, workers=workers, python_steps=python_steps)

    def method(self, service: str, method: str, where: str) -> Signature:
        """``service.method``, or the InvalidDefinition naming ``where.service``/``where.method``."""
        methods = self.services.get(service)
        if methods is None:
            raise refuse(f"{where}.service", "unknown-service",
                         f"no service {service!r} with methods; known: {few(self.services)}")
        sig = methods.get(method)
        if sig is None:
            raise refuse(f"{where}.method", "unknown-method",
                         f"{service} has no method {method!r}; it has {few(methods)}")
        return sig

    def worker(self, name: str, where: str) -> Signature | None:
        """A queue worker: None for a registered one (free arguments), the method's signature for
        ``service:aria_x.method`` (declared with ``job=True``)."""
        if name.startswith("service:"):
            service, _, method = name.removeprefix("service:").partition(".")
            sig = self.services.get(service, {}).get(method)
            if sig is None or not sig.job:
                raise refuse(where, "unknown-worker",
                             f"{name!r} is not a method declared for jobs (@rpc(..., job=True))")
            return sig
        if name not in self.workers:
            raise refuse(where, "unknown-worker", f"no queue worker {name!r}; known: {few(self.workers)}")
        return None

    def python_step(self, name: str, where: str) -> Signature | None:
        if name not in self.python_steps:
            raise refuse(where, "unknown-python-step", f"no Python step {name!r}; registered: {few(self.python_steps)}")
        return self.python_steps[name]

    def describe(self) -> dict[str, Any]:
        """The catalog as JSON (what an editor of documents offers)."""
        return {"services": {s: {m: sig.describe() for m, sig in methods.items()}
                             for s, methods in self.services.items()},
                "workers": sorted(self.workers),
                "python_steps": {n: sig.describe() if sig is not None else None
                                 for n, sig in self.python_steps.items()}}
