from __future__ import annotations

from collections import Counter

from aria_actors.engine.coordination import CharacterRequest, coordinate, split_goal
from aria_actors.engine.state import Multigoal

from .workshop import character_state, make_domain, resources


def _requests(n: int) -> list[CharacterRequest]:
    return [CharacterRequest(f"c{i}", character_state(f"c{i}"), [("craft", f"c{i}", "chair")],
                             priority=i % 5) for i in range(n)]


def test_fifty_characters_never_double_book_a_resource() -> None:
    domain = make_domain()
    schedules, table = coordinate(domain, _requests(50), resources)
    assert all(s.status == "scheduled" for s in schedules)
    booked = Counter()
    for s in schedules:
        for i, step in enumerate(s.plan):
            for r in resources(step):
                booked[(s.delay + i, r)] += 1
    assert booked and max(booked.values()) == 1
    assert len(table) == sum(booked.values())
    assert any(s.replanned for s in schedules)   # losers replanned onto other tools
    assert any(s.delay > 0 for s in schedules)   # and, when every tool is taken, waited


def test_priority_decides_who_keeps_the_resource() -> None:
    domain = make_domain()
    low = CharacterRequest("low", character_state("low"), [("craft", "low", "x")], priority=0)
    high = CharacterRequest("high", character_state("high"), [("craft", "high", "x")], priority=9)
    schedules, _ = coordinate(domain, [low, high], resources)
    by_name = {s.character: s for s in schedules}
    assert by_name["high"].plan[0] == ("use", "high", "hammer") and by_name["high"].delay == 0
    assert by_name["low"].replanned and by_name["low"].lost_to == ["high"]
    assert by_name["low"].plan[0] == ("use", "low", "saw")


def test_split_joint_goal() -> None:
    goal = Multigoal("g", loc={"a": "x", "b": "y", "c": "z"})
    parts = split_goal(goal, ["p", "q"])
    assert parts["p"].loc == {"a": "x", "c": "z"} and parts["q"].loc == {"b": "y"}
    by_owner = split_goal(goal, ["p", "q"], assign=lambda var, arg, val: "q")
    assert by_owner["q"].loc == goal.loc and not hasattr(by_owner["p"], "loc")
