"""Set iteration orders inside the search match GTPyhop's deepcopy-per-action exactly.

Actions read a large set (lent copies), some mutate it, methods iterate it and pick "the first"
element; a probe action records the order it sees at every step. GTPyhop itself runs the same
domain side by side.
"""

from __future__ import annotations

from typing import Any

import pytest

from aria_actors.engine import gtpyhop_suite as suite
from aria_actors.engine import planner, pyhop

pytestmark = pytest.mark.skipif(not suite.available(), reason="gtpyhop (the peer) is not installed")


def _build(api: Any, seen: list[list[str]]) -> Any:
    domain = api.Domain(f"orders_{len(seen)}_{id(seen)}")

    def look(s: Any) -> Any:
        seen.append(list(s.pool))  # the order this state's copy iterates in
        return s

    def take(s: Any, x: str) -> Any:
        if x in s.pool and x not in s.taken:
            s.pool.discard(x)
            s.taken.add(x)
            return s
        return None

    def give(s: Any, x: str) -> Any:
        if x in s.taken:
            s.taken.discard(x)
            s.pool.add(x + "_back")
            return s
        return None

    def m_round(s: Any, n: int) -> Any:
        if n == 0:
            return []
        first = next(iter(s.pool))  # order-dependent choice, as in IPC Childsnack
        steps = [("look",), ("take", first)]
        if n % 3 == 0:
            steps.append(("give", first))
        return [*steps, ("look",), ("round", n - 1)]

    api.declare_actions(look, take, give)
    api.declare_task_methods("round", m_round)
    return domain


def test_set_orders_and_plans_match_gtpyhop() -> None:
    import gtpyhop

    peer_seen: list[list[str]] = []
    aria_seen: list[list[str]] = []
    with suite.quiet():
        peer_domain = _build(gtpyhop, peer_seen)
        aria_domain = _build(pyhop, aria_seen)
    items = {f"item{i}" for i in range(300)}
    peer_plan = suite.peer_find_plan(peer_domain, gtpyhop.State("s", pool=set(items), taken=set()),
                                     [("round", 40)], "recursive_dfs")
    aria = planner.find_plan(aria_domain, pyhop.State("s", pool=set(items), taken=set()), [("round", 40)])
    assert aria.plan == peer_plan
    assert len(aria_seen) == len(peer_seen) == 80
    assert aria_seen == peer_seen
