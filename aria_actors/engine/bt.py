"""Behavior trees: tick-based composites, decorators, conditions and actions over a blackboard.

Why not ``py_trees``: it keeps every blackboard in one process-global store
(``py_trees.blackboard.Blackboard.storage``), while a planner actor here ticks the trees of many
characters at once, each with its own blackboard; it is also not a dependency of the project.
The node set and semantics follow py_trees (SUCCESS/FAILURE/RUNNING, memoryful sequence and
selector, parallel with success-on-all/one policies, inverter/repeat/retry/timeout decorators).

Node status per tick::

    RUNNING --tick--> RUNNING | SUCCESS | FAILURE        (SUCCESS/FAILURE end the node; the next
                                                          tick starts it afresh via reset())

:class:`RunPlan` runs an HTN plan one step per tick and repairs it when a step fails.

Guarantees and caveats:
    - Ticking is synchronous and single-threaded per tree; a blackboard is a plain dict owned by
      its tree, so trees of different characters share nothing.
    - :class:`Timeout` reads an injectable clock (``time.monotonic`` by default), so tests do not
      sleep.
"""

from __future__ import annotations

import collections.abc as cabc
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.repair import Execute, repair_plan, simulate
from aria_actors.engine.state import State

Blackboard = dict[str, Any]


class Status(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    RUNNING = "running"


class Node:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.status: Status | None = None

    def tick(self, bb: Blackboard) -> Status:
        self.status = self.update(bb)
        if self.status is not Status.RUNNING:
            self.reset()
        return self.status

    def update(self, bb: Blackboard) -> Status:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget progress; called when the node ends or its parent interrupts it."""


def _status(value: Status | bool | None) -> Status:
    if isinstance(value, Status):
        return value
    return Status.SUCCESS if value else Status.FAILURE


class Condition(Node):
    def __init__(self, fn: Callable[[Blackboard], bool], name: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", None))
        self.fn = fn

    def update(self, bb: Blackboard) -> Status:
        return Status.SUCCESS if self.fn(bb) else Status.FAILURE


class Action(Node):
    """Calls ``fn(bb)`` each tick; it returns a Status, or a bool for success/failure."""

    def __init__(self, fn: Callable[[Blackboard], Status | bool | None], name: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", None))
        self.fn = fn

    def update(self, bb: Blackboard) -> Status:
        return _status(self.fn(bb))


class Composite(Node):
    def __init__(self, children: cabc.Sequence[Node], name: str | None = None) -> None:
        super().__init__(name)
        self.children = list(children)
        self.index = 0

    def reset(self) -> None:
        self.index = 0
        for c in self.children:
            c.reset()


class Sequence(Composite):
    """Ticks children in order; fails on the first failure; remembers the running child."""

    def update(self, bb: Blackboard) -> Status:
        while self.index < len(self.children):
            s = self.children[self.index].tick(bb)
            if s is not Status.SUCCESS:
                return s
            self.index += 1
        return Status.SUCCESS


class Selector(Composite):
    """Ticks children in order; succeeds on the first success; remembers the running child."""

    def update(self, bb: Blackboard) -> Status:
        while self.index < len(self.children):
            s = self.children[self.index].tick(bb)
            if s is not Status.FAILURE:
                return s
            self.index += 1
        return Status.FAILURE


class Parallel(Composite):
    """Ticks every unfinished child each tick. policy 'all': success when all succeed, failure
    on the first failure; policy 'one': success on the first success, failure when all fail."""

    def __init__(self, children: cabc.Sequence[Node], policy: str = "all", name: str | None = None) -> None:
        super().__init__(children, name)
        if policy not in ("all", "one"):
            raise ValueError(f"Parallel policy must be 'all' or 'one', got {policy!r}")
        self.policy = policy
        self.done: dict[int, Status] = {}

    def update(self, bb: Blackboard) -> Status:
        for i, c in enumerate(self.children):
            if i not in self.done:
                s = c.tick(bb)
                if s is not Status.RUNNING:
                    self.done[i] = s
        results = list(self.done.values())
        if self.policy == "all":
            if Status.FAILURE in results:
                return Status.FAILURE
            return Status.SUCCESS if len(results) == len(self.children) else Status.RUNNING
        if Status.SUCCESS in results:
            return Status.SUCCESS
        return Status.FAILURE if len(results) == len(self.children) else Status.RUNNING

    def reset(self) -> None:
        super().reset()
        self.done = {}


class Decorator(Node):
    def __init__(self, child: Node, name: str | None = None) -> None:
        super().__init__(name)
        self.child = child

    def reset(self) -> None:
        self.child.reset()


class Inverter(Decorator):
    def update(self, bb: Blackboard) -> Status:
        s = self.child.tick(bb)
        if s is Status.RUNNING:
            return s
        return Status.FAILURE if s is Status.SUCCESS else Status.SUCCESS


class Repeat(Decorator):
    """Runs the child to success ``times`` times (one run per tick at most); fails if it fails."""

    def __init__(self, child: Node, times: int, name: str | None = None) -> None:
        super().__init__(child, name)
        self.times = times
        self.count = 0

    def update(self, bb: Blackboard) -> Status:
        s = self.child.tick(bb)
        if s is not Status.SUCCESS:
            return s
        self.count += 1
        return Status.SUCCESS if self.count >= self.times else Status.RUNNING

    def reset(self) -> None:
        super().reset()
        self.count = 0


class Retry(Decorator):
    """Re-runs a failing child up to ``attempts`` times in all (one attempt per tick)."""

    def __init__(self, child: Node, attempts: int, name: str | None = None) -> None:
        super().__init__(child, name)
        self.attempts = attempts
        self.failures = 0

    def update(self, bb: Blackboard) -> Status:
        s = self.child.tick(bb)
        if s is not Status.FAILURE:
            return s
        self.failures += 1
        return Status.FAILURE if self.failures >= self.attempts else Status.RUNNING

    def reset(self) -> None:
        super().reset()
        self.failures = 0


class Timeout(Decorator):
    """Fails (and resets the child) when the child is still running ``seconds`` after it started."""

    def __init__(self, child: Node, seconds: float, clock: Callable[[], float] = time.monotonic,
                 name: str | None = None) -> None:
        super().__init__(child, name)
        self.seconds = seconds
        self.clock = clock
        self.started: float | None = None

    def update(self, bb: Blackboard) -> Status:
        now = self.clock()
        if self.started is None:
            self.started = now
        s = self.child.tick(bb)
        if s is Status.RUNNING and now - self.started >= self.seconds:
            self.child.reset()
            return Status.FAILURE
        return s

    def reset(self) -> None:
        super().reset()
        self.started = None


class RunPlan(Node):
    """Plans ``todo`` from ``bb[state_key]`` on its first tick, then executes one step per tick.

    ``execute(step, state)`` returns the observed state or None on failure; a failed step is
    repaired (see :mod:`aria_actors.engine.repair`) and the node keeps running; it fails when
    no plan or repair exists. The current state is written back to ``bb[state_key]``, the
    executed steps are appended to ``bb[log_key]`` and each repair's plan index to
    ``bb[log_key + "_repairs"]``. ``budget`` bounds each search; ``deadline`` (an instant of
    ``clock``, shared by every RunPlan of a tree) bounds them all together: each search gets the
    time left right before it starts, so many leaves ticked in one call cannot each spend the
    whole budget. With no time left the node stays RUNNING without searching (its owner stops).
    """

    def __init__(self, domain: Domain, todo: list[Any], execute: Execute, state_key: str = "state",
                 log_key: str = "executed", name: str | None = None, budget: Budget | None = None,
                 deadline: float | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(name)
        self.domain, self.todo, self.execute = domain, todo, execute
        self.state_key, self.log_key = state_key, log_key
        self.budget, self.deadline, self.clock = budget, deadline, clock
        self.reset()

    def _out_of_time(self) -> bool:
        return self.deadline is not None and self.deadline - self.clock() <= 0

    def _search_budget(self) -> Budget | None:
        """``budget`` with its time cut to what is left before ``deadline`` (call after
        ``_out_of_time``: with a deadline, there is time left)."""
        if self.deadline is None:
            return self.budget
        left = self.deadline - self.clock()
        base = self.budget or Budget()
        return Budget(base.max_nodes, left if base.max_seconds is None else min(base.max_seconds, left))

    def reset(self) -> None:
        self.plan: list[Any] | None = None
        self.nodes: list[Any] = []
        self.i = 0

    def update(self, bb: Blackboard) -> Status:
        state: State = bb[self.state_key]
        if self.plan is None:
            if self._out_of_time():
                return Status.RUNNING
            r = find_plan(self.domain, state, self.todo, record_tree=True, budget=self._search_budget())
            if not r:
                return Status.RUNNING if self._out_of_time() else Status.FAILURE
            self.plan, self.nodes = r.plan, r.action_nodes or []
        if self.i >= len(self.plan):
            return Status.SUCCESS
        step = self.plan[self.i]
        observed = self.execute(step, state.copy())
        if isinstance(observed, State):
            bb[self.state_key] = observed
            bb.setdefault(self.log_key, []).append(step)
            self.i += 1
            _, bad = simulate(self.domain, observed, self.plan[self.i:])
            if bad is None:
                return Status.SUCCESS if self.i >= len(self.plan) else Status.RUNNING
            state, index = observed, self.i + bad
            state, _ = simulate(self.domain, observed, self.plan[self.i:index])
        else:
            index = self.i
        if self._out_of_time():
            # No time to repair: the step failed (or the rest no longer applies) and stays to do.
            return Status.RUNNING
        fixed = repair_plan(self.domain, self.plan, self.nodes, index, state, self.todo,
                            budget=self._search_budget())
        if fixed is None:
            return Status.RUNNING if self._out_of_time() else Status.FAILURE
        bb.setdefault(self.log_key + "_repairs", []).append(index)
        self.plan, self.nodes = fixed.new_plan, fixed.action_nodes
        return Status.RUNNING
