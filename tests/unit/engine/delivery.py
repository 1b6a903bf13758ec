"""A delivery robot that drives (on fuel) or walks: the fixture for plan repair, behavior trees
and joint goals through the engine's routes (a failed drive is repaired into a walk, below the
``goto`` node that chose it). Also registered in the shared `aria up` (tests/fixtures/aria_up.py)."""

from __future__ import annotations

from typing import Any

from aria_actors.engine.domain import Domain, m_split_multigoal
from aria_actors.engine.state import State


def load(s: State, pkg: str) -> State | None:
    if s.at[pkg] == s.at["robot"]:
        s.at[pkg] = "robot"
        return s
    return None


def unload(s: State, pkg: str) -> State | None:
    if s.at[pkg] == "robot":
        s.at[pkg] = s.at["robot"]
        return s
    return None


def drive(s: State, src: str, dst: str) -> State | None:
    if s.at["robot"] == src and s.fuel["robot"] > 0:
        s.at["robot"] = dst
        s.fuel["robot"] -= 1
        return s
    return None


def walk(s: State, src: str, dst: str) -> State | None:
    if s.at["robot"] == src:
        s.at["robot"] = dst
        return s
    return None


def m_deliver(s: State, pkg: str, dst: str) -> list[Any]:
    return [("goto", s.at[pkg]), ("load", pkg), ("goto", dst), ("unload", pkg)]


def m_stay(s: State, dst: str) -> list[Any] | bool:
    return [] if s.at["robot"] == dst else False


def m_drive(s: State, dst: str) -> list[Any]:
    return [("drive", s.at["robot"], dst)]


def m_walk(s: State, dst: str) -> list[Any]:
    return [("walk", s.at["robot"], dst)]


def m_at(s: State, pkg: str, dst: str) -> list[Any] | bool:
    """Goal at[pkg] = dst: deliver it (the robot itself is not a package)."""
    return False if pkg == "robot" else [("deliver", pkg, dst)]


def make_domain() -> Domain:
    d = Domain("delivery")
    d.declare_actions(load, unload, drive, walk)
    d.declare_task_methods("deliver", m_deliver)
    d.declare_task_methods("goto", m_stay, m_drive, m_walk)
    d.declare_unigoal_methods("at", m_at)
    d.declare_multigoal_methods(m_split_multigoal)
    return d


def state(fuel: int = 10) -> dict[str, Any]:
    """The start state in the wire format: the robot at the depot, p1 at a, p2 at b."""
    return {"name": "s", "vars": {"at": {"robot": "depot", "p1": "a", "p2": "b"}, "fuel": {"robot": fuel}}}


TODO = [["deliver", "p1", "c"], ["deliver", "p2", "d"]]
PLAN = [["drive", "depot", "a"], ["load", "p1"], ["drive", "a", "c"], ["unload", "p1"],
        ["drive", "c", "b"], ["load", "p2"], ["drive", "b", "d"], ["unload", "p2"]]
