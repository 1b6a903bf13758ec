"""A small GTPyhop-style blocks-world domain built on the explicit Domain API, for unit tests."""

from __future__ import annotations

import random

from aria_actors.engine.domain import Domain, m_split_multigoal
from aria_actors.engine.state import Multigoal, State


def pickup(s: State, b: str) -> State | None:
    if s.pos[b] == "table" and s.clear[b] and s.holding["hand"] is False:
        s.pos[b] = "hand"
        s.clear[b] = False
        s.holding["hand"] = b
        return s
    return None


def unstack(s: State, b: str, c: str) -> State | None:
    if s.pos[b] == c and c != "table" and s.clear[b] and s.holding["hand"] is False:
        s.pos[b] = "hand"
        s.clear[b] = False
        s.holding["hand"] = b
        s.clear[c] = True
        return s
    return None


def putdown(s: State, b: str) -> State | None:
    if s.pos[b] == "hand":
        s.pos[b] = "table"
        s.clear[b] = True
        s.holding["hand"] = False
        return s
    return None


def stack(s: State, b: str, c: str) -> State | None:
    if s.pos[b] == "hand" and s.clear[c]:
        s.pos[b] = c
        s.clear[b] = True
        s.holding["hand"] = False
        s.clear[c] = False
        return s
    return None


def _done(b: str, s: State, g: Multigoal) -> bool:
    if b == "table":
        return True
    if b in g.pos and s.pos[b] != g.pos[b]:
        return False
    if s.pos[b] == "table":
        return True
    return _done(s.pos[b], s, g)


def _status(b: str, s: State, g: Multigoal) -> str:
    if _done(b, s, g):
        return "done"
    if not s.clear[b]:
        return "inaccessible"
    if b not in g.pos or g.pos[b] == "table":
        return "move-to-table"
    if _done(g.pos[b], s, g) and s.clear[g.pos[b]]:
        return "move-to-block"
    return "waiting"


def m_moveblocks(s: State, g: Multigoal) -> list[object]:
    """Gupta and Nau's near-optimal blocks-world algorithm, as in GTPyhop's blocks_hgn."""
    for b in sorted(s.clear):
        st = _status(b, s, g)
        if st == "move-to-table":
            return [("pos", b, "table"), g]
        if st == "move-to-block":
            return [("pos", b, g.pos[b]), g]
    for b in sorted(s.clear):
        if _status(b, s, g) == "waiting" and s.pos[b] != "table":
            return [("pos", b, "table"), g]
    return []


def m_take(s: State, b: str, dest: str) -> list[object] | bool:
    if dest != "hand" or not s.clear[b] or s.holding["hand"] is not False:
        return False
    if s.pos[b] == "table":
        return [("pickup", b)]
    return [("unstack", b, s.pos[b])]


def m_put(s: State, b: str, dest: str) -> list[object] | bool:
    if dest == "hand":
        return False
    if s.pos[b] != "hand":
        return [("pos", b, "hand"), ("pos", b, dest)]
    if dest == "table":
        return [("putdown", b)]
    return [("stack", b, dest)]


def make_domain(name: str = "blocks") -> Domain:
    d = Domain(name)
    d.declare_actions(pickup, unstack, putdown, stack)
    d.declare_unigoal_methods("pos", m_take, m_put)
    d.declare_multigoal_methods(m_moveblocks)
    return d


def random_problem(n: int, seed: int) -> tuple[State, Multigoal]:
    rng = random.Random(seed)

    def towers() -> dict[str, str]:
        blocks = [f"b{i}" for i in range(n)]
        rng.shuffle(blocks)
        pos: dict[str, str] = {}
        tops: list[str] = []
        for b in blocks:
            if tops and rng.random() < 0.7:
                under = tops.pop(rng.randrange(len(tops)))
                pos[b] = under
            else:
                pos[b] = "table"
            tops.append(b)
        return pos

    start, goal = towers(), towers()
    clear = {b: True for b in start}
    for under in start.values():
        if under != "table":
            clear[under] = False
    state = State("random", pos=start, clear=clear, holding={"hand": False})
    return state, Multigoal("goal", pos=goal)


def apply_plan(domain: Domain, state: State, plan: list[tuple[str, ...]]) -> State:
    for step in plan:
        state = domain._action_dict[step[0]](state.copy(), *step[1:])
        assert isinstance(state, State), f"{step} is not applicable"
    return state


__all__ = ["apply_plan", "m_split_multigoal", "make_domain", "random_problem"]
