"""A road map whose first-found route is not the cheapest, with a derived predicate the methods use:
the fixture for action costs and predicates through the engine's route and CLI."""

from __future__ import annotations

from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.state import State

ROADS = {("a", "b"): 5, ("b", "d"): 5, ("a", "c"): 1, ("c", "e"): 1, ("e", "d"): 1, ("a", "d"): 20}


def make_domain() -> Domain:
    d = Domain("priced")

    def road(s: State, src: str, dst: str) -> bool:
        """Derived predicate: a road leads from ``src`` to ``dst`` and it is not closed."""
        return (src, dst) in ROADS and [src, dst] not in s.closed["roads"]

    def move(s: State, src: str, dst: str) -> State | None:
        if s.loc["me"] == src and d.holds(s, "road", src, dst):
            s.loc["me"] = dst
            return s
        return None

    def mark(s: State, node: str) -> State:
        s.visited["me"] = [*s.visited["me"], node]
        return s

    def m_arrived(s: State, dst: str) -> list[Any] | bool:
        return [] if s.loc["me"] == dst else False

    def hop(via: str) -> Any:
        def m_hop(s: State, dst: str) -> list[Any] | bool:
            here = s.loc["me"]
            if d.holds(s, "road", here, via) and via not in s.visited["me"]:
                return [("move", here, via), ("mark", via), ("go", dst)]
            return False
        m_hop.__name__ = f"m_hop_{via}"
        return m_hop

    d.declare_actions(move, mark)
    d.declare_predicates(road)
    d.declare_costs(move=lambda s, src, dst: ROADS[(src, dst)], mark=0)
    d.declare_task_methods("go", m_arrived, *(hop(v) for v in "bcde"))
    return d


def state(closed: list[list[str]] | None = None) -> dict[str, Any]:
    """The start state in the wire format: at ``a``, with ``closed`` roads."""
    return {"name": "s", "vars": {"loc": {"me": "a"}, "visited": {"me": ["a"]},
                                  "closed": {"roads": closed or []}}}
