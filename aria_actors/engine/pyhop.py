"""GTPyhop's public API over Aria's planner: ``from aria_actors.engine import pyhop as gtpyhop``.

A GTPyhop domain file runs unchanged against this module: ``Domain(...)``, ``State``,
``Multigoal``, the ``declare_*`` functions, ``find_plan``, ``run_lazy_lookahead``,
``set_recursive_planning``, ``set_verify_goals``, ``PlannerSession``... The "current domain",
verbosity, strategy and goal verification are kept per context (``contextvars``: per thread and
per asyncio task) with a process-wide fallback, so concurrent planners do not see each other's
settings once they set their own.

Guarantees and caveats:
    - A context's own ``set_current_domain``/``Domain(...)`` wins over anything another thread
      does later; a context that never set one sees the last domain set anywhere (GTPyhop's
      single-threaded behaviour, so "import the domain, then plan in a worker thread" works).
    - The default strategy is GTPyhop's default, ``iterative_greedy``; ``recursive_dfs`` maps to
      Aria's iterative depth-first search (methods tried one at a time, no recursion limit), and
      ``iterative_dfs_backtracking`` to the same search with every method of a choice point
      evaluated up front, as GTPyhop's does (``dfs_eager``).
    - Domain code's exceptions reach the caller unchanged, as in GTPyhop (the service wraps them).
    - ``PlannerSession`` answers with GTPyhop's result fields and error wording, and its
      ``run_lazy_lookahead`` keeps GTPyhop's session semantics (commands looked up by the action's
      own name; a failed plan ends the loop successfully); every example package GTPyhop ships is
      compared scenario by scenario in ``tests/unit/engine/test_gtpyhop_packages.py``.
    - ``verbose`` >= 1 prints GTPyhop's ``FP>`` lines; the per-node traces of levels 2-3 are not
      reproduced.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy as _copy
import sys
import time
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine import planner as _planner
from aria_actors.engine.domain import Domain as _CoreDomain
from aria_actors.engine.domain import goals_not_achieved as _goals_not_achieved
from aria_actors.engine.domain import m_split_multigoal
from aria_actors.engine.errors import DomainCodeError as _DomainCodeError
from aria_actors.engine.state import Multigoal, State, print_object

__all__ = [
    "Domain",
    "ExecutionResult",
    "Multigoal",
    "PlanResult",
    "PlannerSession",
    "PlanningTimeoutError",
    "State",
    "declare_actions",
    "declare_commands",
    "declare_methods",
    "declare_multigoal_methods",
    "declare_operators",
    "declare_task_methods",
    "declare_unigoal_methods",
    "find_domain_by_name",
    "find_plan",
    "get_current_domain",
    "get_recursive_planning",
    "get_type",
    "get_verbose_level",
    "get_verify_goals",
    "is_domain_created",
    "m_split_multigoal",
    "print_actions",
    "print_commands",
    "print_domain",
    "print_domain_names",
    "print_methods",
    "print_multigoal",
    "print_operators",
    "print_state",
    "pyhop",
    "reset_planning_strategy",
    "run_lazy_lookahead",
    "set_current_domain",
    "set_recursive_planning",
    "set_verbose_level",
    "set_verify_goals",
    "validate_plan_from_goal",
]

_UNSET: Any = object()
_defaults: dict[str, Any] = {"domain": None, "verbose": 1, "strategy": "iterative_greedy", "verify": True}
_vars: dict[str, contextvars.ContextVar[Any]] = {
    k: contextvars.ContextVar(f"aria_pyhop_{k}", default=_UNSET) for k in _defaults
}
_STRATEGIES = {"recursive_dfs": "dfs", "iterative_dfs_backtracking": "dfs_eager",
               "iterative_greedy": "greedy", "iterative_irrevocable_commitment": "greedy"}
_domains: list[Domain] = []


def _get(key: str) -> Any:
    value = _vars[key].get()
    return _defaults[key] if value is _UNSET else value


def _set(key: str, value: Any) -> Any:
    previous = _get(key)
    _vars[key].set(value)
    _defaults[key] = value
    return previous


class Domain(_CoreDomain):
    """A domain that, as in GTPyhop, becomes the current domain when created."""

    def __init__(self, domain_name: str) -> None:
        super().__init__(domain_name)
        _domains.append(self)
        _set("domain", self)

    def copy(self, new_name: str | None = None) -> Domain:
        the_copy = _copy.deepcopy(self)
        the_copy.__name__ = new_name or f"{self.__name__}_copy"
        _domains.append(the_copy)
        return the_copy


# -- current domain and settings ----------------------------------------------------------------
def set_current_domain(domain: _CoreDomain) -> None:
    if not isinstance(domain, _CoreDomain):
        raise TypeError("The provided argument is not a Domain instance.")
    _set("domain", domain)


def get_current_domain() -> _CoreDomain | None:
    return _get("domain")


def _domain() -> _CoreDomain:
    d = _get("domain")
    if d is None:
        raise Exception("cannot declare or plan until a domain has been created.")
    return d


def find_domain_by_name(domain_name: str) -> Domain | None:
    return next((d for d in _domains if d.__name__ == domain_name), None)


def is_domain_created(domain_name: str) -> bool:
    return find_domain_by_name(domain_name) is not None


def set_verbose_level(level: int) -> None:
    if level < 0 or level > 3:
        raise ValueError("Verbose level must be between 0 and 3.")
    _set("verbose", level)
    print(f"Verbose level set to {level}.")


def get_verbose_level() -> int:
    return _get("verbose")


def set_verify_goals(value: bool) -> bool:
    return _set("verify", bool(value))


def get_verify_goals() -> bool:
    return _get("verify")


def set_recursive_planning(strategy: bool | str, verbose_output: bool = False) -> None:
    if isinstance(strategy, bool):
        name = "recursive_dfs" if strategy else "iterative_greedy"
    elif isinstance(strategy, str):
        if strategy not in _STRATEGIES:
            raise ValueError(f"Unknown strategy '{strategy}'. Valid strategies: {', '.join(_STRATEGIES)}")
        name = strategy
    else:
        raise TypeError(f"strategy must be bool or str, got {type(strategy).__name__}")
    _set("strategy", name)
    if verbose_output:
        print(f"Using {name} seek_plan.")


def get_recursive_planning() -> bool:
    if _get("strategy") is None:
        raise Exception("No planning strategy has been set. Use set_recursive_planning(...) to set it.")
    return _get("strategy") == "recursive_dfs"


def reset_planning_strategy() -> None:
    _set("strategy", None)


# -- declarations on the current domain ---------------------------------------------------------
def declare_actions(*actions: Any) -> dict[str, Any]:
    return _domain().declare_actions(*actions)


def declare_operators(*actions: Any) -> dict[str, Any]:
    return declare_actions(*actions)


def declare_commands(*commands: Any) -> dict[str, Any]:
    return _domain().declare_commands(*commands)


def declare_task_methods(task_name: str, *methods: Any) -> dict[str, list[Any]]:
    return _domain().declare_task_methods(task_name, *methods)


def declare_methods(task: str, *methods: Any) -> dict[str, list[Any]]:
    return declare_task_methods(task, *methods)


def declare_unigoal_methods(state_var_name: str, *methods: Any) -> dict[str, list[Any]]:
    return _domain().declare_unigoal_methods(state_var_name, *methods)


def declare_multigoal_methods(*methods: Any) -> list[Any]:
    return _domain().declare_multigoal_methods(*methods)


# -- printing -----------------------------------------------------------------------------------
print_state = print_object
print_multigoal = print_object


def get_type(obj: Any) -> str:
    return type(obj).__name__


def print_domain(domain: _CoreDomain | None = None) -> None:
    (domain or _domain()).display()


def print_actions(domain: _CoreDomain | None = None) -> None:
    print("-- Actions:", ", ".join((domain or _domain())._action_dict))


def print_operators(domain: _CoreDomain | None = None) -> None:
    print_actions(domain)


def print_commands(domain: _CoreDomain | None = None) -> None:
    print("-- Commands:", ", ".join((domain or _domain())._command_dict))


def print_methods(domain: _CoreDomain | None = None) -> None:
    (domain or _domain()).display()


def print_domain_names() -> None:
    print("-- Domain names:", ", ".join(d.__name__ for d in _domains) or "none")


# -- planning and acting ------------------------------------------------------------------------
def _strategy() -> str:
    name = _get("strategy")
    if name is None:
        raise Exception("No planning strategy has been set. Use set_recursive_planning(...) to set it.")
    return _STRATEGIES[name]


def find_plan(state: State, todo_list: list[Any]) -> list[Any] | bool:
    """GTPyhop's find_plan: the plan, or False."""
    return _find_plan(state, todo_list)


def _find_plan(state: State, todo_list: list[Any]) -> list[Any] | bool:
    verbose = _get("verbose")
    if verbose >= 1:
        print(f"FP> find_plan, verbose={verbose}:")
        print(f"    state = {state.__name__}\n    todo_list = {todo_list}")
    try:
        result = _planner.find_plan(_domain(), state, todo_list, strategy=_strategy(),  # type: ignore[arg-type]
                                    verify_goals=_get("verify"))
    except _DomainCodeError as exc:
        # GTPyhop lets the domain's own exception through; the service's 422 wrapper is not part
        # of its API.
        if exc.__cause__ is not None:
            raise exc.__cause__ from None
        raise
    plan: list[Any] | bool = result.plan if result else False
    if verbose >= 1:
        print(f"FP> result = {plan}\n")
    return plan


def pyhop(state: State, todo_list: list[Any]) -> list[Any] | bool:
    return _find_plan(state, todo_list)


def run_lazy_lookahead(state: State, todo_list: list[Any], max_tries: int = 10) -> State:
    """GTPyhop's run_lazy_lookahead: plan, run commands (c_<action> or the action), replan on failure."""
    verbose = _get("verbose")
    domain = _domain()
    for tries in range(1, max_tries + 1):
        plan = _find_plan(state, todo_list)
        if plan is False or plan is None:
            raise Exception("run_lazy_lookahead: find_plan has failed")
        if plan == []:
            if verbose >= 1:
                print(f"RLL> Empty plan => success after {tries} calls to find_plan.")
            return state
        for action in plan:  # type: ignore[union-attr]
            command = domain._command_dict.get("c_" + action[0]) or domain._action_dict.get(action[0])
            new_state = command(state.copy(), *action[1:])
            if not isinstance(new_state, State):
                if verbose >= 1:
                    print(f"RLL> WARNING: command c_{action[0]} failed; will call find_plan.")
                break
            state = new_state
    if verbose >= 1:
        print("RLL> Too many tries, giving up.")
    return state


def validate_plan_from_goal(initial_state: State, plan: list[Any], key_string: str = "",
                            goal_dict: dict[str, Any] | None = None) -> bool:
    domain = _domain()
    state = initial_state.copy()
    for action in plan:
        fn = domain._action_dict.get(action[0])
        if fn is None:
            return False
        state = fn(state.copy(), *action[1:])
        if not isinstance(state, State):
            return False
    if not key_string or not goal_dict:
        return True
    have = state.peek(key_string) or {}
    return all(have.get(a) == v for a, v in goal_dict.get(key_string, {}).items())


# -- sessions -----------------------------------------------------------------------------------
class PlanningTimeoutError(Exception):
    pass


@dataclass
class PlanResult:
    success: bool
    plan: list[Any] | None = None
    error: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    trace: Any = None

    def __post_init__(self) -> None:
        if self.plan is None:
            self.plan = []
        if not self.stats:
            self.stats = {"duration_ms": 0, "expansions": 0}

    def __bool__(self) -> bool:
        return self.success


@dataclass
class ExecutionResult:
    success: bool
    final_state: State | None = None
    executed_actions: list[Any] = field(default_factory=list)
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    tries_used: int = 0

    def __bool__(self) -> bool:
        return self.success


class PlannerSession:
    """GTPyhop's isolated planning session; its settings apply inside ``isolated_execution()``."""

    def __init__(self, session_id: str | None = None, *, domain: _CoreDomain | None = None,
                 verbose: int = 0, recursive: bool = False, strategy: str | None = None,
                 verify_goals: bool | None = None, **_ignored: Any) -> None:
        self.session_id = session_id or f"session_{uuid.uuid4().hex[:8]}"
        self.domain = domain
        self.verbose = verbose
        self.verify_goals = verify_goals
        self._strategy = strategy or ("recursive_dfs" if recursive else "iterative_greedy")
        if self._strategy not in _STRATEGIES:
            raise ValueError(f"Unknown strategy '{self._strategy}'")

    def __enter__(self) -> PlannerSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @contextlib.contextmanager
    def isolated_execution(self, **_ignored: Any) -> Iterator[PlannerSession]:
        """Module-level calls inside the block (``gtpyhop.run_lazy_lookahead``...) see this
        session's domain, strategy, verbosity and verification; in this context only."""
        tokens = [_vars["strategy"].set(self._strategy), _vars["verbose"].set(self.verbose)]
        if self.domain is not None:
            tokens.append(_vars["domain"].set(self.domain))
        if self.verify_goals is not None:
            tokens.append(_vars["verify"].set(self.verify_goals))
        try:
            yield self
        finally:
            for token in reversed(tokens):
                token.var.reset(token)

    def find_plan(self, state: State, todo_list: list[Any], *, timeout_ms: int | None = None,
                  max_expansions: int | None = None, **_ignored: Any) -> PlanResult:
        """GTPyhop's session find_plan: never raises; ``error`` is GTPyhop's own wording
        ("No plan found", "Planning timeout: ...", "Planning error: ..."). Unlike GTPyhop,
        ``max_expansions`` is enforced (GTPyhop warns that it ignores it)."""
        domain = self.domain or _domain()
        budget = _planner.Budget(max_expansions, timeout_ms / 1000 if timeout_ms else None)
        verify = _get("verify") if self.verify_goals is None else self.verify_goals
        t0 = time.perf_counter()
        stats: dict[str, Any] = {"duration_ms": 0, "expansions": 0, "strategy": self._strategy}
        try:
            r = _planner.find_plan(domain, state, todo_list, strategy=_STRATEGIES[self._strategy],  # type: ignore[arg-type]
                                   verify_goals=verify, budget=budget)
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc, _DomainCodeError) and exc.__cause__ else exc
            return PlanResult(False, None, f"Planning error: {cause}", stats=stats, session_id=self.session_id)
        stats.update(duration_ms=int((time.perf_counter() - t0) * 1000), expansions=r.nodes)
        if r.status == "budget_exhausted":
            if timeout_ms and not (max_expansions and r.nodes >= max_expansions):
                error = f"Planning timeout: Planning timed out after {timeout_ms}ms"
            else:
                error = f"Planning error: {r.message}"
            return PlanResult(False, None, error, stats=stats, session_id=self.session_id)
        if not r:
            return PlanResult(False, None, "No plan found", stats=stats, session_id=self.session_id)
        return PlanResult(True, r.plan, None, stats=stats, session_id=self.session_id)

    def run_lazy_lookahead(self, state: State, todo_list: list[Any], *, max_tries: int = 10,
                           timeout_ms: int | None = None, **_ignored: Any) -> ExecutionResult:
        """GTPyhop's session run_lazy_lookahead, with its semantics (which differ from the
        module-level function's): commands are looked up by the action's own name (no ``c_``
        prefix), falling back to the action; a failed find_plan or a plan whose first step
        fails ends the loop with ``success=True``; only an exception makes it fail."""
        domain = self.domain or _domain()
        t0 = time.perf_counter()
        result = ExecutionResult(False, state.copy(), session_id=self.session_id)
        deadline = t0 + timeout_ms / 1000 if timeout_ms and timeout_ms > 0 else None
        try:
            current = result.final_state.copy()  # type: ignore[union-attr]
            executed: list[Any] = []
            try_num = 0
            for try_num in range(max_tries):  # noqa: B007 (GTPyhop reports try_num + 1)
                if deadline is not None and time.perf_counter() > deadline:
                    raise PlanningTimeoutError(f"Planning timed out after {timeout_ms}ms")
                with self.isolated_execution():
                    plan = _find_plan(current, todo_list)
                if not plan or not todo_list:
                    break
                progressed = False
                for action in plan:  # type: ignore[union-attr]
                    command = domain._command_dict.get(action[0]) or domain._action_dict.get(action[0])
                    new_state = command(current.copy(), *action[1:]) if command is not None else False
                    if not new_state:
                        break
                    current = new_state
                    executed.append(action)
                    progressed = True
                if not progressed:
                    break
            result.success = True
            result.final_state = current
            result.executed_actions = executed
            result.tries_used = try_num + 1
        except PlanningTimeoutError as exc:
            result.error = f"Execution timeout: {exc}"
        except Exception as exc:
            result.error = f"Execution error: {exc}"
        result.stats = {"duration_ms": int((time.perf_counter() - t0) * 1000),
                        "tries_used": result.tries_used, "executed_actions": len(result.executed_actions),
                        "memory_mb": 0.0, "peak_memory_mb": 0.0}
        return result


# -- GTPyhop's test harness, for example files that import gtpyhop.test_harness -----------------
def _check_result(actual: Any, expected: Any) -> None:
    if actual != expected:
        raise Exception("Actual result differs from expected result.")


def _pause(do_pause: bool = True) -> None:
    if do_pause:
        input(">>> Type Enter to continue: ")


test_harness = types.SimpleNamespace(check_result=_check_result, pause=_pause)
verify_goals_checker = _goals_not_achieved  # exported for domains that inspect unachieved goals


class _PyhopModule(types.ModuleType):
    """Module attributes that GTPyhop code reads and assigns, backed by context variables."""

    current_domain = property(lambda self: _get("domain"), lambda self, d: set_current_domain(d))
    verbose = property(lambda self: _get("verbose"), lambda self, v: _set("verbose", v))
    verify_goals = property(lambda self: _get("verify"), lambda self, v: _set("verify", bool(v)))


sys.modules[__name__].__class__ = _PyhopModule
