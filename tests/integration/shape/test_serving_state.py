"""What aria_shape serves survives a restart: a new ShapeService on the same PostgreSQL serves the
promoted version and goes on with a running A/B split, its feedback and flushed metrics."""

from __future__ import annotations

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status

pytest.importorskip("torch")
pytestmark = pytest.mark.asyncio(loop_scope="session")
OP = Principal.operator()  # every test here calls as the local operator

PROMPT = "Traits: brave.\nDescription:"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny

    return str(build_tiny(ShapeConfig(seed=1, pretrain_steps=0), tmp_path_factory.mktemp("serving") / "v"))


def _service(home):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    # No flush on a timer here: the tests flush when they mean to, and what is not flushed is
    # what a crash loses.
    return ShapeService(AriaSettings(home=home), ShapeConfig(pretrain_steps=0, max_new_tokens=3,
                                                             ab_flush_s=3600))


@pytest.fixture
async def started(shape_deps, tmp_path):
    """start(home) -> a started ShapeService on the test's database; all stopped at the end."""
    services = []

    async def start(name: str = "first"):
        svc = _service(tmp_path / name)
        await svc.start(shape_deps)
        services.append(svc)
        return svc

    yield start
    for svc in services:
        await svc.stop()


async def _stored(dsn: str) -> tuple[object, list[dict]]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        serving = await conn.fetchrow("SELECT version, weights, seed FROM aria_shape.serving")
        metrics = [dict(r) for r in await conn.fetch("SELECT * FROM aria_shape.ab_metrics ORDER BY version")]
        return serving, metrics
    finally:
        await conn.close()


async def test_a_promoted_version_survives_a_restart(started, model_dir, shape_deps) -> None:
    svc = await started()
    await svc.register_model(OP, "v1", model_dir)
    await svc.promote(OP, "v1")
    again = await started("second")
    inference = (await again.health()).details["inference"]
    assert inference["served_version"] == "v1" and inference["traffic"] is None
    assert (await again.complete_ab(OP, PROMPT, max_new_tokens=2))["version"] == "v1"
    again_health = await again.health()
    assert again_health.status == Status.READY and "serving_problems" not in again_health.details
    # Rolling back to base is stored the same way.
    await again.promote(OP, "base")
    third = await started("third")
    assert (await third.health()).details["inference"]["served_version"] == "base"


async def test_a_running_split_with_feedback_and_flushed_metrics_survives(started, model_dir,
                                                                          shape_deps) -> None:
    dsn = shape_deps["aria_data"].dsn
    svc = await started()
    for version in ("v1", "v2"):
        await svc.register_model(OP, version, model_dir)
    await svc.set_traffic(OP, {"v2": 1, "v1": 3}, seed=7)
    answers = {k: await svc.complete_ab(OP, PROMPT, key=f"user-{k}", max_new_tokens=2) for k in range(8)}
    served = {k: a["version"] for k, a in answers.items()}
    assert set(served.values()) == {"v1", "v2"}
    ids = {a["version"]: a["response_id"] for a in answers.values()}
    await svc.feedback(OP, "v1", ids["v1"], 0.9)
    await svc.feedback(OP, "v2", ids["v2"], 0.2)
    assert await svc.flush_metrics() == 2
    report = await svc.traffic_report(OP)
    assert sum(v["requests"] for v in report["versions"].values()) == 8

    # Counted but not flushed yet, as when the actor dies between two flushes; the feedback
    # that comes after is stored at once.
    late = await svc.complete_ab(OP, PROMPT, key="user-0", max_new_tokens=2)
    await svc.feedback(OP, served[0], late["response_id"], 0.5)

    again = await started("second")  # a new actor while the first one "crashed"
    restored = await again.traffic_report(OP)
    assert restored["weights"] == {"v2": 1, "v1": 3} and list(restored["weights"]) == ["v2", "v1"]
    assert {v: m["requests"] for v, m in restored["versions"].items()} == \
        {v: m["requests"] for v, m in report["versions"].items()}  # the unflushed request is lost
    # no feedback is lost: the caller's newer score of that version replaced theirs, one vote each
    assert restored["versions"][served[0]]["feedback_count"] == 1
    assert restored["versions"][served[0]]["mean_feedback"] == 0.5
    # The split's response ids outlive the actor (its key is stored with the split).
    await again.feedback(OP, served[0], late["response_id"], 0.6)
    assert (await again.traffic_report(OP))["versions"][served[0]]["mean_feedback"] == 0.6
    assert restored["leader"] == "v1"
    assert restored["versions"]["v1"]["tokens_per_s"] == report["versions"]["v1"]["tokens_per_s"]
    for k, version in served.items():  # sticky keys go where they went before the restart
        assert (await again.complete_ab(OP, PROMPT, key=f"user-{k}", max_new_tokens=2))["version"] == version
    await again.flush_metrics()
    _, rows = await _stored(dsn)
    assert sum(r["requests"] for r in rows) == 16  # 8 before the restart, 8 after
    out = await again.promote(OP)
    assert out["promoted"] == "v1"
    serving, rows = await _stored(dsn)
    assert (serving["version"], serving["weights"], rows) == ("v1", None, [])  # one transaction
    # stop() flushes: the first actor's last count has no split to go to any more.
    await svc.stop()
    assert (await _stored(dsn))[1] == []


async def test_stop_flushes_the_last_counts(started, model_dir, shape_deps) -> None:
    svc = await started()
    await svc.register_model(OP, "v1", model_dir)
    await svc.set_traffic(OP, {"v1": 1})
    await svc.complete_ab(OP, PROMPT, max_new_tokens=2)
    await svc.stop()
    _, rows = await _stored(shape_deps["aria_data"].dsn)
    assert [(r["version"], r["requests"]) for r in rows] == [("v1", 1)]
    again = await started("second")
    assert (await again.traffic_report(OP))["versions"]["v1"]["requests"] == 1


async def test_a_stored_version_gone_from_the_registry_falls_back_to_base(started, model_dir,
                                                                          shape_deps) -> None:
    import asyncpg

    svc = await started()
    for version in ("v1", "v2"):
        await svc.register_model(OP, version, model_dir)
    await svc.promote(OP, "v1")
    await svc.set_traffic(OP, {"v1": 1, "v2": 1})
    conn = await asyncpg.connect(shape_deps["aria_data"].dsn)
    try:  # as after restoring an older backup of the registry
        await conn.execute("DELETE FROM aria_shape.model_versions")
    finally:
        await conn.close()
    again = await started("second")  # the boot goes on
    health = await again.health()
    assert health.status == Status.DEGRADED, health
    assert set(health.details["serving_problems"]) == {"served_version", "traffic"}
    assert "'v1'" in health.details["serving_problems"]["served_version"]
    assert health.details["inference"]["served_version"] == "base"
    assert await again.traffic_report(OP) is None
    assert len(await again.list_templates(OP)) >= 1  # the rest of the service works
    await again.promote(OP, "base")  # a new choice clears the report
    assert (await again.health()).status == Status.READY
