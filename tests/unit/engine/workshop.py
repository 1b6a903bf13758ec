"""A workshop domain where characters share a few tools: the coordination tests' fixture."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.state import State

TOOLS = ("hammer", "saw", "drill")


def use(s: State, who: str, tool: str) -> State:
    s.done[who] = (*s.done.get(who, ()), tool)
    return s


def finish(s: State, who: str, item: str) -> State:
    s.made[who] = item
    return s


def _m_with(first: str, second: str) -> Any:
    def method(s: State, who: str, item: str) -> list[Any]:
        return [("use", who, first), ("use", who, second), ("finish", who, item)]
    method.__name__ = f"m_{first}_{second}"
    return method


def make_domain() -> Domain:
    d = Domain("workshop")
    d.declare_actions(use, finish)
    d.declare_task_methods("craft", _m_with("hammer", "saw"), _m_with("saw", "drill"),
                           _m_with("drill", "hammer"))
    return d


def resources(step: tuple[Any, ...]) -> Iterable[str]:
    return (step[2],) if step[0] == "use" else ()


def character_state(who: str) -> State:
    return State(f"{who}_state", done={}, made={})
