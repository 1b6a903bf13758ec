"""Registered planning domains, by name: the only domains the service and the pool will plan in.

A domain is Python code, so it is registered by the operator at startup from a *spec*, never
received over the network:

    python:<module>:<attr>        a Domain, or a callable returning one (e.g. a factory)
    gtpyhop-file:<path>           an unmodified GTPyhop domain file or package (see compat)
    gtpyhop-example:<name>        one of GTPyhop's bundled examples or IPC-2020 domains

A module may also offer named problems: ``problems`` (dict id -> (state, todo), or a callable
returning it) or, for GTPyhop's IPC packages, ``get_problems()``.

Guarantees and caveats:
    - Unknown names raise :class:`UnknownDomainError` listing the registered names.
    - Specs load lazily, once per registry (per process), on first use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aria_actors.engine import gtpyhop_suite as suite
from aria_actors.engine.compat import load_gtpyhop
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import EngineError, UnknownDomainError
from aria_actors.engine.state import State

Problem = tuple[State, list[Any]]


class UnknownProblemError(EngineError):
    """The domain has no problem with this id; list the domain's problems and use one of them."""

    type = "engine-unknown-problem"
    status = 404
    title = "Unknown problem"


def _load(spec: str) -> tuple[Domain, Callable[[], dict[str, Problem]]]:
    kind, _, rest = spec.partition(":")
    if kind == "python":
        modname, _, attr = rest.partition(":")
        module = importlib.import_module(modname)
        obj = getattr(module, attr)
        domain = obj if isinstance(obj, Domain) else obj()
        raw = getattr(module, "problems", {})
        return domain, (lambda: dict(raw() if callable(raw) else raw))
    if kind in ("gtpyhop-file", "gtpyhop-example"):
        if kind == "gtpyhop-example":
            module = suite.aria_module(rest)
        else:
            with suite.quiet():
                module = load_gtpyhop(rest)
        domain = getattr(module, "the_domain", None)
        if not isinstance(domain, Domain):
            domain = next((v for v in vars(module).values() if isinstance(v, Domain)), None)
        if domain is None:
            raise EngineError(f"{spec} defines no Domain", spec=spec)
        if kind == "gtpyhop-example" and rest in suite.IPC_DOMAINS:
            def ipc() -> dict[str, Problem]:
                out = {}
                for pid in suite.ipc_problem_ids(rest):
                    _, state, todo = suite.ipc_problem(rest, pid, "aria")
                    out[pid] = (state, todo)
                return out
            return domain, ipc
        return domain, lambda: {}
    raise EngineError(f"unknown domain spec kind {kind!r} in {spec!r}; use python:, gtpyhop-file: "
                      "or gtpyhop-example:", spec=spec)


class DomainRegistry:
    def __init__(self, specs: Mapping[str, str] | None = None) -> None:
        self._specs: dict[str, str] = dict(specs or {})
        self._loaded: dict[str, tuple[Domain, Callable[[], dict[str, Problem]]]] = {}
        self._problems: dict[str, dict[str, Problem]] = {}
        self._lock = threading.Lock()

    @property
    def specs(self) -> dict[str, str]:
        return dict(self._specs)

    def register(self, name: str, spec: str | Domain,
                 problems: Mapping[str, Problem] | None = None) -> None:
        with self._lock:
            if isinstance(spec, Domain):
                self._loaded[name] = (spec, lambda: dict(problems or {}))
                self._specs[name] = f"object:{spec.__name__}"
            else:
                self._specs[name] = spec
                self._loaded.pop(name, None)
            self._problems.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def _entry(self, name: str) -> tuple[Domain, Callable[[], dict[str, Problem]]]:
        if name not in self._specs:
            raise UnknownDomainError(f"no domain named {name!r} is registered; registered: "
                                     f"{', '.join(self.names()) or 'none'}", domain=name,
                                     registered=self.names())
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _load(self._specs[name])
            return self._loaded[name]

    def get(self, name: str) -> Domain:
        return self._entry(name)[0]

    def problems(self, name: str) -> dict[str, Problem]:
        _domain, load = self._entry(name)
        with self._lock:
            if name not in self._problems:
                self._problems[name] = load()
            return self._problems[name]

    def problem(self, name: str, problem_id: str) -> Problem:
        problems = self.problems(name)
        if problem_id not in problems:
            raise UnknownProblemError(f"domain {name!r} has no problem {problem_id!r}",
                                      domain=name, problem=problem_id)
        return problems[problem_id]

    def describe(self, name: str) -> dict[str, Any]:
        info = self.get(name).describe()
        info["registered_as"] = name
        info["problems"] = sorted(self.problems(name))
        return info
