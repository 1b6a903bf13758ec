"""The planner pool on a real Ray: fan-out, errors per request, coordination of 50 characters."""

from __future__ import annotations

from collections import Counter

import pytest

from aria_actors.engine.coordination import CharacterRequest, coordinate
from aria_actors.engine.runner import PlanRequest
from aria_actors.engine.state import State
from tests.unit.engine.workshop import character_state, make_domain, resources

SPECS = {"workshop": "python:tests.unit.engine.workshop:make_domain"}


@pytest.fixture(scope="module")
def pool(ray_session: object):
    from aria_actors.engine.pool import PlannerPool

    p = PlannerPool(size=2, specs=SPECS, num_cpus=0.1)
    yield p
    p.shutdown()


def test_plan_many_fans_out_in_order(pool) -> None:
    requests = [PlanRequest(domain="workshop", state=character_state(f"c{i}"),
                            todo=[("craft", f"c{i}", f"item{i}")], character=f"c{i}") for i in range(20)]
    results = pool.plan_many(requests)
    assert [r["character"] for r in results] == [f"c{i}" for i in range(20)]
    assert all(r["status"] == "found" for r in results)
    assert results[7]["plan"][-1] == ["finish", "c7", "item7"]
    pids = {p["pid"] for p in pool.ping()}
    assert len(pids) == 2  # two actors, two processes


def test_errors_come_back_per_request(pool) -> None:
    results = pool.plan_many([
        PlanRequest(domain="chess", state=State("s"), todo=[("x",)]),
        PlanRequest(domain="workshop", state=character_state("a"), todo=[("fly", "a")]),
        PlanRequest(domain="workshop", state=character_state("b"), todo=[("craft", "b", "x")]),
    ])
    assert results[0]["status"] == "error" and results[0]["error"]["type"].endswith("engine-unknown-domain")
    assert results[1]["error"]["type"].endswith("engine-unknown-item")
    assert results[2]["status"] == "found"


def test_fifty_characters_coordinated_on_the_pool(pool) -> None:
    from aria_actors.engine.pool import pool_plan_fn

    requests = [CharacterRequest(f"c{i}", character_state(f"c{i}"), [("craft", f"c{i}", "chair")],
                                 priority=(i * 7) % 5) for i in range(50)]
    schedules, _table = coordinate(make_domain(), requests, resources,
                                   plan_all=pool_plan_fn(pool, "workshop"))
    assert all(s.status == "scheduled" for s in schedules)
    booked = Counter((s.delay + i, r) for s in schedules for i, step in enumerate(s.plan)
                     for r in resources(step))
    assert max(booked.values()) == 1
