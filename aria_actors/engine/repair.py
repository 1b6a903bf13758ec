"""Plan repair (IPyHOP's approach) and acting with a simulator or real callbacks.

Acting loop (``act``), drawn as a state machine::

    plan (with decomposition tree)
      |
      v
    execute step i --ok, observed == predicted--> i += 1 --(i == len)--> done
      |  \\--ok, observed diverges--> simulate rest --fails at j--> repair(j) --+
      |                                           \\--still valid--> i += 1     |
      \\--command fails--> repair(i) --repaired--> continue at i <-------------+
                              \\--no repair--> replan from scratch (run_lazy_lookahead)
                                                 \\--tries exhausted / no plan--> failed

Repair of the step at index ``j``: take the lowest tree node above it (the task or goal whose
method produced it), re-refine that node's item from the current state with the failed action
instance blacklisted, and keep the rest of the old plan (what follows the node's subtree) if it
still applies after the new subtree; otherwise climb to the parent node and try again, up to the
top-level todo items. So a repaired plan differs from the old one only below the repaired node.

Guarantees and caveats:
    - Executed steps are never undone; repair only changes steps not yet executed.
    - The blacklist holds the failed action instance (name and arguments) for the repair at hand
      only; a full replan (the fallback) starts without it, as GTPyhop's run_lazy_lookahead does.
    - ``execute`` callbacks receive a copy of the state and return the observed state, or
      None/False when the command failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.planner import Budget, PlanResult, TreeNode, _key, _link_tree, find_plan
from aria_actors.engine.state import State

Execute = Callable[[tuple[Any, ...], State], "State | bool | None"]


@dataclass
class Repair:
    index: int                  # plan index of the failed step
    node: TreeNode | None       # the node re-refined (None: the top-level todo list)
    old_plan: list[Any]
    new_plan: list[Any]
    action_nodes: list[TreeNode]


@dataclass
class ActingResult:
    status: str                 # "done" | "failed"
    state: State
    executed: list[Any]
    plans: list[list[Any]] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    replans: int = 0
    message: str = ""

    def __bool__(self) -> bool:
        return self.status == "done"


def simulate(domain: Domain, state: State, steps: list[Any]) -> tuple[State, int | None]:
    """Apply action models; return the final state and the index of the first failing step."""
    for i, step in enumerate(steps):
        fn = domain._action_dict.get(step[0])
        new = fn(state.copy(), *step[1:]) if fn else None
        if not isinstance(new, State):
            return state, i
        state = new
    return state, None


def _relink(action_nodes: list[TreeNode]) -> list[TreeNode]:
    for leaf in action_nodes:
        node: TreeNode | None = leaf
        while node is not None:
            node.start = node.end = -1
            node.children = []
            node = node.parent
    return _link_tree(action_nodes)


def repair_plan(domain: Domain, plan: list[Any], action_nodes: list[TreeNode], index: int,
                state: State, todo: list[Any], *, verify_goals: bool = True,
                budget: Budget | None = None) -> Repair | None:
    """Repair ``plan`` whose step ``index`` cannot run from ``state`` (see the module docstring)."""
    failed = plan[index]
    blacklist = {_key(failed)}
    node = action_nodes[index].parent
    while True:
        if node is None:
            # Top level: re-plan the todo items from the one whose subtree holds the failure.
            root = action_nodes[index]
            while root.parent is not None:
                root = root.parent
            start = next((j for j, item in enumerate(todo) if item is root.item), 0)
            sub = find_plan(domain, state, list(todo[start:]), verify_goals=verify_goals, budget=budget,
                            record_tree=True, blacklist_actions=blacklist)
            if not sub:
                return None
            assert sub.plan is not None and sub.action_nodes is not None
            new_nodes = action_nodes[:index] + sub.action_nodes
            _relink(new_nodes)
            return Repair(index, None, plan, plan[:index] + sub.plan, new_nodes)
        sub = find_plan(domain, state, [node.item], verify_goals=verify_goals, budget=budget,
                        record_tree=True, blacklist_actions=blacklist)
        if sub:
            assert sub.plan is not None and sub.action_nodes is not None and sub.roots is not None
            suffix = plan[node.end:]
            after, _ = simulate(domain, state, sub.plan)
            _, bad = simulate(domain, after, suffix)
            if bad is None:
                for top in sub.roots:
                    top.parent = node.parent  # the new refinement takes the old node's place
                new_nodes = action_nodes[:index] + sub.action_nodes + action_nodes[node.end:]
                _relink(new_nodes)
                return Repair(index, node, plan, plan[:index] + sub.plan + suffix, new_nodes)
        node = node.parent


def _default_execute(domain: Domain) -> Execute:
    def execute(step: tuple[Any, ...], state: State) -> State | bool | None:
        fn = domain._command_dict.get("c_" + step[0]) or domain._action_dict.get(step[0])
        return fn(state, *step[1:]) if fn else None
    return execute


def act(domain: Domain, state: State, todo: list[Any], *, execute: Execute | None = None,
        max_tries: int = 10, repair: bool = True, verify_goals: bool = True,
        budget: Budget | None = None) -> ActingResult:
    """Plan, then execute step by step, repairing (or re-planning) when the world disagrees."""
    run = execute or _default_execute(domain)
    out = ActingResult("failed", state, [])
    result: PlanResult = find_plan(domain, state, todo, verify_goals=verify_goals, budget=budget,
                                   record_tree=True)
    if not result:
        out.message = f"no plan: {result.message}"
        return out
    assert result.plan is not None and result.action_nodes is not None
    plan, nodes = result.plan, result.action_nodes
    out.plans.append(list(plan))
    i = 0
    failures = 0
    while True:
        broken: int | None = None
        while i < len(plan):
            step = plan[i]
            observed = run(step, state.copy())
            if not isinstance(observed, State):
                broken = i
                break
            predicted, _ = simulate(domain, state, [step])
            state = observed
            out.executed.append(step)
            i += 1
            if observed != predicted:
                _, bad = simulate(domain, state, plan[i:])
                if bad is not None:
                    at_state, _ = simulate(domain, state, plan[i:i + bad])
                    fixed = repair_plan(domain, plan, nodes, i + bad, at_state, todo,
                                        verify_goals=verify_goals, budget=budget) if repair else None
                    if fixed is None:
                        broken = i
                        break
                    out.repairs.append(fixed)
                    plan, nodes = fixed.new_plan, fixed.action_nodes
                    out.plans.append(list(plan))
        out.state = state
        if broken is None:
            out.status = "done"
            out.message = "all steps executed"
            return out
        failures += 1
        if failures > max_tries:
            out.message = f"gave up after {max_tries} failed steps"
            return out
        if repair:
            fixed = repair_plan(domain, plan, nodes, broken, state, todo, verify_goals=verify_goals,
                                budget=budget)
            if fixed is not None:
                out.repairs.append(fixed)
                plan, nodes = fixed.new_plan, fixed.action_nodes
                out.plans.append(list(plan))
                i = broken  # the executed prefix is unchanged by construction
                continue
        out.replans += 1
        result = find_plan(domain, state, todo, verify_goals=verify_goals, budget=budget, record_tree=True)
        if not result:
            out.message = f"no plan from the current state: {result.message}"
            return out
        assert result.plan is not None and result.action_nodes is not None
        plan, nodes = result.plan, result.action_nodes
        out.plans.append(list(plan))
        i = 0
