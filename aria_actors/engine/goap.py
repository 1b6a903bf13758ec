"""Goal-oriented action planning (F.E.A.R.-style GOAP): A* over declarative actions.

A fact is a GTPyhop state-variable binding ``(var, key) -> value`` (``state.var[key] == value``),
so GOAP plans start from the same :class:`~aria_actors.engine.state.State` the HTN planner uses,
and :func:`apply_plan` writes the effects back into a State copy. Goals are fact dicts or a
:class:`~aria_actors.engine.state.Multigoal`.

Guarantees and caveats:
    - A* with an admissible heuristic (unmet goal facts divided by the most effects any action
      has, times the cheapest action cost): the plan returned is a cheapest one.
    - Actions are declarative (precondition and effect facts), as in GOAP; procedural domains
      belong to the HTN planner.
    - ``max_nodes`` (expanded and pushed nodes), ``max_cells`` (what they hold) and ``max_seconds``
      bound the search; exhaustion is reported as ``budget_exhausted``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine.state import Multigoal, State

Fact = tuple[str, Any]
MAX_CELLS = 2_000_000  # facts + path steps held by pushed nodes (~100 bytes each: ~200 MB at most)


@dataclass(frozen=True)
class GoapAction:
    name: str
    preconditions: Mapping[Fact, Any] = field(default_factory=dict)
    effects: Mapping[Fact, Any] = field(default_factory=dict)
    cost: float = 1.0

    def __post_init__(self) -> None:
        if self.cost <= 0:
            raise ValueError(f"GOAP action {self.name!r} must have a positive cost, got {self.cost}")
        if not self.effects:
            raise ValueError(f"GOAP action {self.name!r} has no effects")


@dataclass
class GoapResult:
    status: str                 # "found" | "no_plan" | "budget_exhausted"
    plan: list[str] | None
    cost: float | None
    nodes: int
    elapsed_s: float

    def __bool__(self) -> bool:
        return self.status == "found"


def _goal_facts(goal: Mapping[Fact, Any] | Multigoal) -> dict[Fact, Any]:
    if isinstance(goal, Multigoal):
        return {(var, key): val for var, args in goal.goals().items() for key, val in args.items()}
    return dict(goal)


def _lookup(state: State, overlay: Mapping[Fact, Any], fact: Fact) -> Any:
    if fact in overlay:
        return overlay[fact]
    var = state.peek(fact[0])
    return var.get(fact[1]) if var is not None else None


def plan(state: State, goal: Mapping[Fact, Any] | Multigoal, actions: Iterable[GoapAction], *,
         max_nodes: int = 100_000, max_seconds: float | None = None,
         max_cells: int = MAX_CELLS) -> GoapResult:
    """The cheapest sequence of actions (names) that makes every goal fact true.

    ``max_seconds`` bounds the search's time as ``max_nodes`` bounds its nodes (a service call
    must end); ``max_nodes`` also bounds the nodes pushed on the frontier (one expansion pushes
    up to one node per action, so counting expansions alone let memory grow by that factor), and
    ``max_cells`` the facts and path steps those nodes hold. Running out of any is
    ``budget_exhausted``.
    """
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else t0 + max_seconds
    acts = list(actions)
    goals = _goal_facts(goal)
    if not acts:
        ok = all(_lookup(state, {}, f) == v for f, v in goals.items())
        return GoapResult("found" if ok else "no_plan", [] if ok else None, 0.0 if ok else None, 0, 0.0)
    min_cost = min(a.cost for a in acts)
    max_effects = max(len(a.effects) for a in acts)

    def h(overlay: Mapping[Fact, Any]) -> float:
        unmet = sum(1 for f, v in goals.items() if _lookup(state, overlay, f) != v)
        return math.ceil(unmet / max_effects) * min_cost

    tie = itertools.count()
    start: frozenset[tuple[Fact, Any]] = frozenset()
    frontier: list[tuple[float, int, float, frozenset[tuple[Fact, Any]], tuple[str, ...]]] = [
        (h({}), next(tie), 0.0, start, ())]
    best_g: dict[frozenset[tuple[Fact, Any]], float] = {start: 0.0}
    nodes = 0
    pushed = 1  # nodes ever pushed: what the frontier and best_g hold is bounded by it
    cells = 0   # facts and path steps those nodes store: bounds memory when nodes are wide
    while frontier:
        _f, _t, g, key, path = heapq.heappop(frontier)
        if g > best_g.get(key, math.inf):
            continue
        overlay = dict(key)
        if all(_lookup(state, overlay, f) == v for f, v in goals.items()):
            return GoapResult("found", list(path), g, nodes, time.perf_counter() - t0)
        nodes += 1
        if (nodes >= max_nodes or pushed >= max_nodes or cells >= max_cells
                or (deadline is not None and time.perf_counter() > deadline)):
            return GoapResult("budget_exhausted", None, None, nodes, time.perf_counter() - t0)
        for a in acts:
            if deadline is not None and time.perf_counter() > deadline:  # one expansion may be long
                return GoapResult("budget_exhausted", None, None, nodes, time.perf_counter() - t0)
            if any(_lookup(state, overlay, f) != v for f, v in a.preconditions.items()):
                continue
            nxt = dict(overlay)
            for f, v in a.effects.items():
                if _lookup(state, {}, f) == v:
                    nxt.pop(f, None)  # back to the initial value: keep the key canonical
                else:
                    nxt[f] = v
            nkey = frozenset(nxt.items())
            ng = g + a.cost
            if ng < best_g.get(nkey, math.inf):
                best_g[nkey] = ng
                heapq.heappush(frontier, (ng + h(nxt), next(tie), ng, nkey, (*path, a.name)))
                pushed += 1
                cells += len(nkey) + len(path) + 1
    return GoapResult("no_plan", None, None, nodes, time.perf_counter() - t0)


def apply_plan(state: State, steps: Iterable[str], actions: Iterable[GoapAction]) -> State:
    """A copy of ``state`` with the steps' effects applied; raises ValueError on an unmet precondition."""
    by_name = {a.name: a for a in actions}
    out = state.copy()
    for name in steps:
        a = by_name[name]
        for (var, key), val in a.preconditions.items():
            have = getattr(out, var, {}).get(key)
            if have != val:
                raise ValueError(f"{name}: precondition {var}[{key!r}] == {val!r} does not hold ({have!r})")
        for (var, key), val in a.effects.items():
            if not hasattr(out, var):
                setattr(out, var, {})
            getattr(out, var)[key] = val
    return out
