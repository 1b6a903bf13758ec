r"""The HTN/HGN planner: GTPyhop's depth-first refinement, iterative, with budgets and costs.

Search (same answers as GTPyhop's ``recursive_dfs`` and ``iterative_dfs_backtracking``)::

    todo = [t1, t2, ...]                       plan = []
    loop:
      todo empty ------------------------------> plan found (cost mode: record, prune, go on)
      head is an action ---- applies ---------> plan += [head] (unless it changed nothing)
                        \--- not applicable ---> backtrack
      head is a task / unigoal / multigoal
           unigoal already true --------------> drop it
           push a choice point, try its methods in declaration order:
             first method returning a list ---> todo = subtasks (+ verification) + rest
             none left ------------------------> backtrack
      backtrack: resume the newest choice point at its next method; none left -> no plan

The todo list and the plan are persistent linked lists, so a choice point costs O(1) to keep and
backtracking needs no undo; states are copied on access (see :mod:`aria_actors.engine.state`).
Methods are evaluated lazily, one at a time (as ``recursive_dfs`` does); ``strategy="dfs_eager"``
evaluates every method of a choice point up front, as GTPyhop's ``iterative_dfs_backtracking``
does (same plans for pure methods; a method that raises or keeps state shows the difference).

Guarantees and caveats:
    - No recursion: plan depth is limited by memory only.
    - ``strategy="greedy"`` commits to the first applicable method (GTPyhop's ``iterative_greedy``).
    - The cyclic garbage collector is paused while a search runs (process-wide, as ``gc`` is):
      reference cycles created by domain code are only reclaimed after the search.
    - Budgets are checked per node (time every 256 nodes); exhaustion returns
      ``status="budget_exhausted"``, never a partial plan presented as a plan.
    - Domain code that raises propagates unchanged; contract violations raise typed errors
      from :mod:`aria_actors.engine.errors` naming the method/action and the item.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aria_actors.engine.domain import Domain, goals_not_achieved
from aria_actors.engine.errors import (
    ActionReturnError,
    DomainCodeError,
    GoalNotAchievedError,
    MethodReturnError,
    UnknownItemError,
)
from aria_actors.engine.state import State, _Forked, changed, method_view, release_orbits
from aria_actors.runtime.errors import AriaError

Strategy = Literal["dfs", "dfs_eager", "greedy"]
Status = Literal["found", "no_plan", "budget_exhausted"]

_TASK, _UNIGOAL, _MULTIGOAL = 1, 2, 3
_OUT = object()  # expand(): no method left (None is a legitimate empty todo list)


@dataclass(frozen=True, slots=True)
class Budget:
    """Per-plan limits. ``None`` means unlimited."""

    max_nodes: int | None = None
    max_seconds: float | None = None


@dataclass(slots=True)
class TreeNode:
    """One node of the decomposition tree: a task/goal refined by ``method``, or an action."""

    item: Any
    kind: str
    method: str | None
    parent: TreeNode | None
    children: list[TreeNode] = field(default_factory=list)
    start: int = -1   # first plan index below this node
    end: int = -1     # one past the last plan index below this node

    def path(self) -> list[TreeNode]:
        out, node = [], self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]


@dataclass(slots=True)
class PlanResult:
    status: Status
    plan: list[Any] | None
    nodes: int
    elapsed_s: float
    message: str = ""
    cost: float | None = None
    optimal: bool | None = None
    solutions: int = 0
    # Plan index -> action node; roots are the top-level todo items that produced actions.
    action_nodes: list[TreeNode] | None = None
    roots: list[TreeNode] | None = None

    def __bool__(self) -> bool:
        return self.status == "found"


class _Verify:
    """Todo marker: check that ``method`` achieved ``goal`` (GTPyhop's _verify_g/_verify_mg)."""

    __slots__ = ("goal", "method")

    def __init__(self, method: str, goal: Any) -> None:
        self.method = method
        self.goal = goal

    def check(self, state: State) -> None:
        goal = self.goal
        if type(goal) is tuple or type(goal) is list:
            var, arg, val = goal
            have = state.peek(var) if isinstance(state, State) else getattr(state, var)
            if have.get(arg) != val:
                raise GoalNotAchievedError(
                    f"method {self.method} did not achieve goal {var}[{arg!r}] = {val!r}",
                    method=self.method, goal=[var, repr(arg), repr(val)],
                )
        elif goals_not_achieved(state, goal):
            raise GoalNotAchievedError(
                f"method {self.method} did not achieve multigoal {goal.__name__}",
                method=self.method, goal=goal.__name__,
            )


def _unknown(domain: Domain, item: Any) -> UnknownItemError:
    if isinstance(item, (tuple, list)) and item:
        return UnknownItemError(
            f"{item!r} is not an action, task or goal of domain {domain.__name__!r}: nothing named "
            f"{item[0]!r} is declared (declare_actions / declare_task_methods / declare_unigoal_methods)",
            item=repr(item), name=str(item[0]), domain=domain.__name__,
        )
    return UnknownItemError(
        f"{item!r} is not a todo item: expected a Multigoal or a non-empty tuple whose first "
        f"element names an action, task or goal variable; got {type(item).__name__}",
        item=repr(item), domain=domain.__name__,
    )


def _missing_var(state: State, goal: tuple[Any, ...]) -> UnknownItemError:
    return UnknownItemError(
        f"goal {goal!r} is about state variable {goal[0]!r}, which state {state.__name__!r} does "
        f"not have; initialise it before planning (state.{goal[0]} = {{}})",
        item=repr(goal), name=str(goal[0]),
    )


def _key(item: Any) -> Any:
    return tuple(item) if type(item) is list else item


def find_plan(
    domain: Domain,
    state: State,
    todo: list[Any],
    *,
    strategy: Strategy = "dfs",
    verify_goals: bool = True,
    budget: Budget | None = None,
    record_tree: bool = False,
    blacklist_actions: frozenset[Any] | set[Any] = frozenset(),
    blacklist_methods: frozenset[tuple[str, Any]] | set[tuple[str, Any]] = frozenset(),
    optimise_cost: bool = False,
    forbid: Callable[[int, Any], bool] | None = None,
    method_order: Callable[[Any, State, list[Any]], list[Any]] | None = None,
) -> PlanResult:
    """Plan ``todo`` from ``state`` in ``domain``.

    ``optimise_cost`` turns the search into branch and bound over method choices: it keeps
    searching after the first plan, pruning partial plans that cost at least the best found,
    and reports ``optimal=True`` only when the whole space was explored within the budget.
    ``forbid(step, action)`` vetoes an action at a plan position (used for resource reservations).
    ``method_order(item, state, methods)`` reorders the methods tried for an item (used by the
    method-choice cache of :mod:`aria_actors.engine.learning`); plans may then differ from GTPyhop's.
    """
    # A search allocates millions of short-lived, acyclic objects (todo cells, state forks, set
    # copies) that reference counting frees; the cyclic GC only rescans them. It is paused for
    # the search and resumed after, only if it was on (another thread's search may have paused it).
    gc_was_on = gc.isenabled()
    if gc_was_on:
        gc.disable()
    try:
        return _search(domain, state, todo, strategy, verify_goals, budget, record_tree,
                       blacklist_actions, blacklist_methods, optimise_cost, forbid, method_order)
    except AriaError:
        raise
    except Exception as exc:
        # Actions and methods are the domain's code run on the caller's state and todo list: what
        # they raise says the input does not fit the domain (a 4xx), not that the engine broke.
        # Caught here, once, so the search's hot loop carries no handler.
        raise DomainCodeError(f"{type(exc).__name__} in the domain's code: {exc}"[:500],
                              domain=getattr(domain, "name", ""), error=type(exc).__name__) from exc
    finally:
        release_orbits()  # cached set orders are per search; also after a domain's exception
        if gc_was_on:
            gc.enable()


def _search(
    domain: Domain,
    state: State,
    todo: list[Any],
    strategy: Strategy,
    verify_goals: bool,
    budget: Budget | None,
    record_tree: bool,
    blacklist_actions: frozenset[Any] | set[Any],
    blacklist_methods: frozenset[tuple[str, Any]] | set[tuple[str, Any]],
    optimise_cost: bool,
    forbid: Callable[[int, Any], bool] | None,
    method_order: Callable[[Any, State, list[Any]], list[Any]] | None,
) -> PlanResult:
    t0 = time.perf_counter()
    actions = domain._action_dict
    tasks = domain._task_method_dict
    unigoals = domain._unigoal_method_dict
    multigoal_methods = domain._multigoal_method_list
    greedy = strategy == "greedy"
    eager = strategy == "dfs_eager"
    max_nodes = budget.max_nodes if budget and budget.max_nodes is not None else sys.maxsize
    deadline = t0 + budget.max_seconds if budget and budget.max_seconds is not None else None
    check_black = bool(blacklist_actions) or bool(blacklist_methods)
    cost_of = domain.cost

    # todo cell: (item, parent TreeNode | None, next cell | None)
    # plan cell: (item, TreeNode | None, previous cell | None)
    todo_cell: Any = None
    for item in reversed(todo):
        todo_cell = (item, None, todo_cell)
    plan_cell: Any = None
    plen = 0
    g = 0.0
    stack: list[list[Any]] = []
    nodes = 0
    best_plan: Any = None
    best_cost: float | None = None
    solutions = 0
    exhausted = False
    verified: dict[int, tuple[Any, State]] = {}  # id(multigoal) -> it and the state it last held in

    def expand(cp: list[Any]) -> Any:
        """Resume choice point ``cp`` at its next method; the new todo cell, or _OUT."""
        st, item, parent, rest, _plan, _g, methods, idx, kind, _plen = cp
        n = len(methods)
        if not eager:
            st = method_view(st)
        while idx < n:
            m = methods[idx]
            idx += 1
            if eager:
                m, subs = m
            else:
                subs = _apply(m, kind, st, item)
                if subs is None:
                    continue
            if check_black and (m.__name__, _key(item)) in blacklist_methods:
                continue
            cp[7] = idx
            node = None
            if record_tree:
                node = TreeNode(item, ("task", "unigoal", "multigoal")[kind - 1], m.__name__, parent)
            cell = rest
            if kind != _TASK and verify_goals:
                cell = (_Verify(m.__name__, item), node, cell)
            for sub in reversed(subs):
                cell = (sub, node, cell)
            return cell
        cp[7] = idx
        return _OUT

    while True:
        # ---- advance along the current branch until it ends or fails -------------------------
        failed = False
        while todo_cell is not None:
            nodes += 1
            if nodes >= max_nodes or (deadline is not None and not nodes & 255
                                      and time.perf_counter() > deadline):
                exhausted = True
                break
            item, parent, rest = todo_cell
            ti = type(item)
            if ti is tuple or ti is list:
                if not item:
                    raise _unknown(domain, item)
                name = item[0]
                act = actions.get(name)
                if act is not None:
                    if check_black and _key(item) in blacklist_actions:
                        failed = True
                        break
                    if forbid is not None and forbid(plen, item):
                        failed = True
                        break
                    ts = type(state)
                    new = state._fork(state.__name__) if ts is _Forked or ts is State else state.copy()
                    res = act(new, *item[1:])
                    if isinstance(res, State):
                        if optimise_cost:
                            g += cost_of(method_view(state), item)
                            if best_cost is not None and g >= best_cost:
                                failed = True
                                break
                        if changed(res, state):
                            plan_cell = (item, TreeNode(item, "action", None, parent) if record_tree
                                         else None, plan_cell)
                            plen += 1
                        if type(res) is _Forked:
                            res._borrow = True  # from here on only methods and forks read it
                        state = res
                        todo_cell = rest
                        continue
                    if res is False or res is None:
                        failed = True
                        break
                    raise ActionReturnError(
                        f"action {name} returned {type(res).__name__} {res!r:.200}; actions must "
                        "return the state they were given or False",
                        action=name, item=repr(item), returned=type(res).__name__,
                    )
                methods = tasks.get(name)
                if methods is not None:
                    kind = _TASK
                else:
                    methods = unigoals.get(name)
                    if methods is None:
                        raise _unknown(domain, item)
                    have = state.peek(name) if isinstance(state, State) else getattr(state, name, None)
                    if have is None or not hasattr(have, "get"):
                        raise _missing_var(state, item)
                    if have.get(item[1]) == item[2]:
                        todo_cell = rest
                        continue
                    kind = _UNIGOAL
            elif ti is _Verify:
                goal = item.goal
                if type(goal) is tuple or type(goal) is list:
                    item.check(state)
                elif (seen := verified.get(id(goal))) is None or seen[0] is not goal or seen[1] is not state:
                    # Nested multigoal methods (m_split_multigoal, blocks' m_moveblocks) leave one
                    # verification per level, checked in a row against the same final state.
                    # (Keyed by id: a multigoal need not be hashable; the pair keeps both alive.)
                    item.check(state)
                    verified[id(goal)] = (goal, state)
                todo_cell = rest
                continue
            elif ti.__name__ == "Multigoal":
                methods = multigoal_methods
                kind = _MULTIGOAL
            else:
                raise _unknown(domain, item)
            if method_order is not None:
                methods = method_order(item, method_view(state), methods)
            if eager:
                methods = _evaluate_all(methods, kind, method_view(state), item)
            cp = [state, item, parent, rest, plan_cell, g, methods, 0, kind, plen]
            nxt = expand(cp)
            if nxt is _OUT:
                failed = True
                break
            if not greedy:
                stack.append(cp)
            todo_cell = nxt

        if exhausted:
            break
        if not failed:
            solutions += 1
            if not optimise_cost:
                best_plan = plan_cell
                break
            if best_cost is None or g < best_cost:
                best_cost, best_plan = g, plan_cell
        # ---- backtrack to the newest choice point with a method left ---------------------------
        resumed = False
        while stack:
            cp = stack[-1]
            nxt = expand(cp)
            if nxt is not _OUT:
                state, plan_cell, g, plen = cp[0], cp[4], cp[5], cp[9]
                todo_cell = nxt
                resumed = True
                break
            stack.pop()
        if not resumed:
            break

    elapsed = time.perf_counter() - t0
    found = solutions > 0
    if not found:
        if exhausted:
            return PlanResult("budget_exhausted", None, nodes, elapsed,
                              f"budget exhausted after {nodes} nodes and {elapsed:.3f} s without a plan")
        return PlanResult("no_plan", None, nodes, elapsed, "no plan: every method choice was tried")
    items: list[Any] = []
    action_nodes: list[TreeNode] = []
    cell = best_plan
    while cell is not None:
        items.append(cell[0])
        if record_tree:
            action_nodes.append(cell[1])
        cell = cell[2]
    items.reverse()
    result = PlanResult("found", items, nodes, elapsed, "plan found", solutions=solutions)
    if optimise_cost:
        result.cost = best_cost
        result.optimal = not exhausted
        result.message = ("cheapest plan (optimality proved)" if not exhausted
                          else "best plan found before the budget ran out (optimality not proved)")
    if record_tree:
        action_nodes.reverse()
        result.action_nodes = action_nodes
        result.roots = _link_tree(action_nodes)
    return result


def _evaluate_all(methods: list[Any], kind: int, state: Any, item: Any) -> list[tuple[Any, Any]]:
    """Every method's answer for ``item``, in order (GTPyhop's iterative_dfs_backtracking refines a
    choice point by calling all its methods before exploring the first continuation)."""
    out = []
    for m in methods:
        subs = _apply(m, kind, state, item)
        if subs is not None:
            out.append((m, subs[:]))  # GTPyhop copies it at once (subtasks + todo_list)
    return out


def _apply(m: Any, kind: int, state: Any, item: Any) -> list[Any] | None:
    """Method ``m``'s todo list for ``item``, or None when it does not apply."""
    if kind == _TASK:
        subs = m(state, *item[1:])
    elif kind == _UNIGOAL:
        subs = m(state, item[1], item[2])
    else:
        subs = m(state, item)
    if subs is False or subs is None:
        return None
    if type(subs) is not list:
        raise MethodReturnError(
            f"method {m.__name__} returned {type(subs).__name__} {subs!r:.200} for {item!r}; "
            "methods must return a list (or False/None when not applicable)",
            method=m.__name__, item=repr(item), returned=type(subs).__name__,
        )
    return subs


def _link_tree(action_nodes: list[TreeNode]) -> list[TreeNode]:
    """Fill children and plan-index spans from the actions' parent chains; return the roots."""
    roots: list[TreeNode] = []
    seen: set[int] = set()
    for i, leaf in enumerate(action_nodes):
        node: TreeNode | None = leaf
        child: TreeNode | None = None
        while node is not None:
            if node.start < 0:
                node.start = i
            node.end = i + 1
            if child is not None and id(child) not in seen:
                node.children.append(child)
                seen.add(id(child))
            if node.parent is None and id(node) not in seen:
                roots.append(node)
                seen.add(id(node))
            child = node
            node = node.parent
    return roots
