"""EngineService with a real planner pool on Ray."""

from __future__ import annotations

import time

import pytest

from aria_actors.engine.config import EngineConfig
from aria_actors.engine.service import EngineService
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status

OPS = Principal.operator()


@pytest.fixture
async def service(ray_session, tmp_path):
    config = EngineConfig(pool_size=2, actor_num_cpus=0.1, gtpyhop_examples=False,
                          domains={"workshop": "python:tests.unit.engine.workshop:make_domain"})
    svc = EngineService(AriaSettings(home=tmp_path), config=config)
    await svc.start(Deps())
    yield svc
    await svc.stop()


async def test_health_counts_live_actors_and_plan_many_uses_them(service) -> None:
    for _ in range(12):  # planner actors still importing on a loaded machine miss one 5 s ping
        h = await service.health()
        if h.details.get("actors_alive") == 2:
            break
    assert h.status is Status.READY and h.details["actors_alive"] == 2
    bodies = [{"domain": "workshop", "state": {"vars": {"done": {}, "made": {}}},
               "todo": [["craft", f"c{i}", "box"]], "character": f"c{i}"} for i in range(12)]
    out = await service.plan_many(OPS, bodies)
    assert [o["character"] for o in out] == [f"c{i}" for i in range(12)]
    assert all(o["status"] == "found" for o in out)
    one = await service.plan(OPS, bodies[0])
    assert one["plan"][-1] == ["finish", "c0", "box"]
    import ray

    victim = service.pool.actors[0]
    ray.kill(victim)
    # ray.kill is asynchronous: the actor may answer once more before it is gone.
    with pytest.raises(ray.exceptions.RayActorError):
        for _ in range(200):
            ray.get(victim.ping.remote(), timeout=30)
            time.sleep(0.05)
    h = await service.health()
    assert h.status is Status.DEGRADED and h.details["actors_alive"] == 1
