"""A planning domain: actions, commands, task/unigoal/multigoal methods, costs, derived predicates.

Unlike GTPyhop, nothing here touches a module-global "current domain": every declaration is a
method of the :class:`Domain` it changes, and the planner takes the domain as an argument. The
GTPyhop-style module functions live in :mod:`aria_actors.engine.pyhop`.

Guarantees and caveats:
    - Declaring the same function twice for one task/goal is a no-op, as in GTPyhop.
    - Lookups follow GTPyhop's order: a todo item's name is an action first, then a task, then a
      unigoal's state variable.
    - A domain is mutable while it is being declared; planning while another thread declares on
      the same domain is not supported (declare first, then plan from as many threads as you like).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import eq as _eq
from typing import Any

from aria_actors.engine.state import Multigoal, State

Action = Callable[..., Any]
Method = Callable[..., Any]
Cost = float | Callable[..., float]


class Domain:
    """Actions, commands and methods of one planning-and-acting domain."""

    def __init__(self, domain_name: str) -> None:
        self.__name__ = domain_name
        self._action_dict: dict[str, Action] = {}
        self._command_dict: dict[str, Action] = {}
        self._task_method_dict: dict[str, list[Method]] = {}
        self._unigoal_method_dict: dict[str, list[Method]] = {}
        self._multigoal_method_list: list[Method] = []
        self.action_costs: dict[str, Cost] = {}
        self.predicates: dict[str, Callable[..., bool]] = {}

    @property
    def name(self) -> str:
        return self.__name__

    def __str__(self) -> str:
        return f"<Domain {self.__name__}>"

    __repr__ = __str__

    # -- declarations ---------------------------------------------------------------------------
    def declare_actions(self, *actions: Action) -> dict[str, Action]:
        self._action_dict.update({a.__name__: a for a in actions})
        return self._action_dict

    def declare_commands(self, *commands: Action) -> dict[str, Action]:
        self._command_dict.update({c.__name__: c for c in commands})
        return self._command_dict

    def declare_task_methods(self, task_name: str, *methods: Method) -> dict[str, list[Method]]:
        known = self._task_method_dict.setdefault(task_name, [])
        known.extend(m for m in methods if m not in known)
        return self._task_method_dict

    def declare_unigoal_methods(self, state_var_name: str, *methods: Method) -> dict[str, list[Method]]:
        known = self._unigoal_method_dict.setdefault(state_var_name, [])
        known.extend(m for m in methods if m not in known)
        return self._unigoal_method_dict

    def declare_multigoal_methods(self, *methods: Method) -> list[Method]:
        self._multigoal_method_list.extend(m for m in methods if m not in self._multigoal_method_list)
        return self._multigoal_method_list

    def declare_costs(self, **costs: Cost) -> dict[str, Cost]:
        """Action costs by action name: a number or ``fn(state, *args) -> number``; default 1."""
        self.action_costs.update(costs)
        return self.action_costs

    def declare_predicates(self, *predicates: Callable[..., bool]) -> dict[str, Callable[..., bool]]:
        """Derived predicates: ``fn(state, *args) -> bool`` rules evaluated over a state."""
        self.predicates.update({p.__name__: p for p in predicates})
        return self.predicates

    # -- queries --------------------------------------------------------------------------------
    def holds(self, state: State, predicate: str, *args: Any) -> bool:
        """Evaluate a derived predicate; unknown names raise KeyError naming the predicate."""
        try:
            fn = self.predicates[predicate]
        except KeyError:
            raise KeyError(f"domain {self.__name__!r} declares no predicate {predicate!r}") from None
        return bool(fn(state, *args))

    def cost(self, state: State, action: tuple[Any, ...]) -> float:
        c = self.action_costs.get(action[0], 1.0)
        return float(c(state, *action[1:]) if callable(c) else c)

    def kind_of(self, item: Any) -> str | None:
        """'action' | 'task' | 'unigoal' | 'multigoal', or None when nothing matches."""
        if type(item).__name__ == "Multigoal":
            return "multigoal"
        if isinstance(item, (tuple, list)) and item:
            name = item[0]
            if name in self._action_dict:
                return "action"
            if name in self._task_method_dict:
                return "task"
            if name in self._unigoal_method_dict:
                return "unigoal"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.__name__,
            "actions": sorted(self._action_dict),
            "commands": sorted(self._command_dict),
            "tasks": {t: [m.__name__ for m in ms] for t, ms in self._task_method_dict.items()},
            "unigoals": {g: [m.__name__ for m in ms] for g, ms in self._unigoal_method_dict.items()},
            "multigoal_methods": [m.__name__ for m in self._multigoal_method_list],
            "predicates": sorted(self.predicates),
        }

    def display(self) -> None:
        d = self.describe()
        print(f"\nDomain name: {d['name']}")
        print("-- Actions:", ", ".join(d["actions"]) or "none")
        print("-- Commands:", ", ".join(d["commands"]) or "none")
        for t, ms in d["tasks"].items():
            print(f"-- Task {t}: {', '.join(ms)}")
        for g, ms in d["unigoals"].items():
            print(f"-- Unigoal {g}: {', '.join(ms)}")
        print("-- Multigoal methods:", ", ".join(d["multigoal_methods"]) or "none")


def goals_not_achieved(state: State, multigoal: Multigoal) -> dict[str, dict[Any, Any]]:
    """The goals of ``multigoal`` that do not hold in ``state`` (GTPyhop's _goals_not_achieved)."""
    unachieved: dict[str, dict[Any, Any]] = {}
    for name, wanted in vars(multigoal).items():
        if name == "__name__":
            continue
        have = state.peek(name) if isinstance(state, State) else getattr(state, name, None)
        if type(have) is dict and type(wanted) is dict and all(map(_eq, map(have.get, wanted), wanted.values())):
            # Every goal holds: GTPyhop's ``bindings.get(arg) == val`` in one C-level pass (not an
            # items view: its identity shortcut would call a NaN goal achieved).
            continue
        if have is None:
            raise KeyError(
                f"multigoal {multigoal.__name__!r} is about state variable {name!r}, which state "
                f"{state.__name__!r} does not have; initialise it (state.{name} = {{}})"
            )
        for arg, val in wanted.items():
            if not have.get(arg) == val:  # noqa: SIM201 (GTPyhop tests ==; != may differ)
                unachieved.setdefault(name, {})[arg] = val
    return unachieved


def m_split_multigoal(state: State, multigoal: Multigoal) -> list[Any]:
    """GTPyhop's built-in multigoal method: achieve each unachieved goal, then re-check all."""
    goal_dict = goals_not_achieved(state, multigoal)
    goal_list: list[Any] = [(var, arg, val) for var, args in goal_dict.items() for arg, val in args.items()]
    if goal_list:
        return [*goal_list, multigoal]
    return goal_list
