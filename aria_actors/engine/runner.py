"""One planning request, as the service and the planner actors run it (Ray-free).

Guarantees and caveats:
    - A request names a registered domain; its state travels pickled between actors, so it is
      checked first and a variable that cannot be pickled raises
      :class:`StateNotSerialisableError` naming it.
    - Results are plain dicts (JSON-ready): status, plan, nodes, elapsed_s, message, cost, optimal.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine.errors import EngineError, StateNotSerialisableError
from aria_actors.engine.planner import Budget, PlanResult, find_plan
from aria_actors.engine.registry import DomainRegistry
from aria_actors.engine.state import State
from aria_actors.runtime.errors import AriaError


@dataclass
class PlanRequest:
    domain: str
    state: State | None = None
    todo: list[Any] | None = None
    problem: str | None = None          # a named problem of the domain instead of state + todo
    strategy: str = "dfs"
    max_nodes: int | None = None
    max_seconds: float | None = None
    optimise_cost: bool = False
    verify_goals: bool = True
    character: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def ensure_serialisable(state: State, todo: list[Any] | None = None) -> None:
    """Raise StateNotSerialisableError naming the first variable (or todo item) pickle refuses."""
    try:
        pickle.dumps((state, todo))
        return
    except Exception as exc:  # pickle raises many types; each is reported with the culprit
        reason = f"{type(exc).__name__}: {exc}"
    for name, value in state.view().items():
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise StateNotSerialisableError(
                f"state variable {name!r} of state {state.__name__!r} cannot be pickled "
                f"({type(exc).__name__}: {exc}); keep state variables to plain data",
                variable=name, state=state.__name__, reason=str(exc)) from None
    for i, item in enumerate(todo or []):
        try:
            pickle.dumps(item)
        except Exception as exc:
            raise StateNotSerialisableError(
                f"todo item {i} ({item!r:.80}) cannot be pickled ({type(exc).__name__}: {exc})",
                item=i, reason=str(exc)) from None
    raise StateNotSerialisableError(f"state {state.__name__!r} cannot be pickled ({reason})",
                                    state=state.__name__, reason=reason)


def result_dict(result: PlanResult, request: PlanRequest | None = None) -> dict[str, Any]:
    return {
        "status": result.status,
        "plan": [list(step) for step in result.plan] if result.plan is not None else None,
        "nodes": result.nodes,
        "elapsed_s": result.elapsed_s,
        "message": result.message,
        "cost": result.cost,
        "optimal": result.optimal,
        "character": request.character if request else None,
    }


def run_request(registry: DomainRegistry, request: PlanRequest) -> dict[str, Any]:
    domain = registry.get(request.domain)
    if request.problem is not None:
        state, todo = registry.problem(request.domain, request.problem)
    else:
        if request.state is None or request.todo is None:
            raise EngineError("a plan request needs either a problem id or a state and a todo list",
                              domain=request.domain)
        state, todo = request.state, request.todo
    if request.strategy not in ("dfs", "greedy"):
        raise EngineError(f"unknown strategy {request.strategy!r}; use 'dfs' or 'greedy'",
                          strategy=request.strategy)
    budget = Budget(request.max_nodes, request.max_seconds)
    result = find_plan(domain, state, todo, strategy=request.strategy,  # type: ignore[arg-type]
                       budget=budget, optimise_cost=request.optimise_cost,
                       verify_goals=request.verify_goals)
    return result_dict(result, request)


def _error_dict(exc: Exception, request: PlanRequest) -> dict[str, Any]:
    if isinstance(exc, AriaError):
        problem = exc.problem()
    else:
        problem = {"type": "internal", "title": type(exc).__name__, "status": 500, "detail": str(exc)}
    return {"status": "error", "plan": None, "error": problem, "character": request.character}


class PlannerActor:
    """The body of one planner actor (also usable in-process)."""

    def __init__(self, specs: Mapping[str, str]) -> None:
        self.registry = DomainRegistry(specs)
        self.served = 0

    def plan(self, request: PlanRequest) -> dict[str, Any]:
        self.served += 1
        try:
            return run_request(self.registry, request)
        except Exception as exc:
            return _error_dict(exc, request)

    def plan_batch(self, requests: Sequence[PlanRequest]) -> list[dict[str, Any]]:
        return [self.plan(r) for r in requests]

    def ping(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "served": self.served, "domains": self.registry.names()}
