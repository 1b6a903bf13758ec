"""aria_interpret on a real PostgreSQL: events kept per tenant (row-level security), analyses over
them, versions served with promotion, A/B, rollback, and a corrupted version refused while the
previous one keeps serving. Artifacts go through a real aria_storage (local chunk store); training
runs in-process here (the path through aria_queue is tests/e2e/test_features_interpret.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from aria_actors.interpret.analytics import synthetic
from aria_actors.interpret.config import InterpretSettings
from aria_actors.interpret.errors import (
    InvalidInteraction,
    InvalidTraffic,
    ModelArtifactError,
    NoModel,
    NotEnoughData,
)
from aria_actors.interpret.service import InterpretService
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from tests.fixtures.postgres import DataClientOverDsn

OPS = Principal.operator()
ACME = Principal(subject="ann", roles=("editor",), tenant="acme")
GLOBEX = Principal(subject="bob", roles=("editor",), tenant="globex")
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _deps(dsn: str, storage: Any) -> Deps:
    return Deps({"aria_data": DataClientOverDsn(dsn, "aria_interpret"), "aria_storage": storage})


@pytest.fixture
async def service(tmp_path, fresh_database, shape_storage):
    """The service on a fresh database, with a real aria_storage (local chunk store) for artifacts."""
    svc = InterpretService(AriaSettings(home=tmp_path), config=InterpretSettings(serving="local"))
    await svc.start(_deps(fresh_database, shape_storage))
    yield svc
    await svc.stop()


def _feedback(users: int = 30, items: int = 20) -> list[dict[str, Any]]:
    out = []
    for u in range(users):
        for j in range(10):
            item = 2 * ((u * 7 + j * 5) % (items // 2)) + u % 2
            out.append({"kind": "feedback", "subject": f"p{u}", "object": f"item{item}",
                        "category": "even" if item % 2 == 0 else "odd", "ts": 1_700_000_000 + u * 100 + j})
    return out


async def _version(svc: InterpretService, version: str, seed: int) -> None:
    """Train on the tenant-less feedback in-process and register it as a job would."""
    from aria_actors.interpret.training import TrainArgs, snapshot_bytes, train_artifact

    rows = await svc._records().events("", "feedback", 10_000)
    blob, metrics = train_artifact(TrainArgs(version=version, dataset="interactions",
                                             config={"epochs": 2, "seed": seed}), snapshot_bytes(rows))
    put = await svc._storage.put(OPS, f"interpret/models/{version}", blob)  # type: ignore[union-attr]
    await svc._records().add_version(version, f"interpret/models/{version}", put["version"],
                                     hashlib.sha256(blob).hexdigest(), "interactions", None, metrics, {}, None)


async def test_events_are_kept_per_tenant_and_refused_whole_when_one_is_bad(service: InterpretService) -> None:
    assert (await service.record(ACME, [{"kind": "action", "subject": "bob", "object": "rest"}]))["recorded"] == 1
    assert await service.event_counts(ACME) == {"action": 1}
    assert await service.event_counts(GLOBEX) == {}
    with pytest.raises(InvalidInteraction) as bad:
        await service.record(ACME, [{"kind": "action", "subject": "bob", "object": "go"},
                                    {"kind": "feedback", "subject": "u", "object": "i", "value": float("nan")}])
    assert bad.value.fields["index"] == 1
    assert await service.event_counts(ACME) == {"action": 1}  # nothing of the bad batch


async def test_analyses_run_on_the_tenants_events(service: InterpretService) -> None:
    with pytest.raises(NotEnoughData):
        await service.patterns(ACME)
    actions, _ = synthetic.action_sequences(n_characters=30, seed=1)
    await service.record(ACME, [{"kind": "action", "subject": c, "object": a, "ts": 1_700_000_000 + t}
                                for c, t, a in actions])
    mined = await service.patterns(ACME, min_support=0.3, max_length=3)
    assert mined["n_characters"] == 30 and mined["patterns"]
    with pytest.raises(NotEnoughData):
        await service.patterns(GLOBEX)


async def test_serving_promotion_ab_rollback_and_a_corrupted_version(service: InterpretService) -> None:
    with pytest.raises(NoModel):
        await service.recommend(OPS, "p0", ["item0"])
    await service.record(OPS, _feedback())
    await _version(service, "v1", seed=1)
    await _version(service, "v2", seed=2)
    assert (await service.promote(OPS, "v1"))["served"] == "v1"
    ranked = await service.recommend(OPS, "p0", [f"item{i}" for i in range(6)], k=3)
    assert ranked["version"] == "v1" and len(ranked["items"]) == 3 and ranked["history"] == 10
    cold = await service.recommend(OPS, "newcomer", ["item0", "unknown-item"])
    assert cold["history"] == 0 and cold["fallback"]

    with pytest.raises(InvalidTraffic):
        await service.set_traffic(OPS, {"v1": 1, "v9": 1})
    await service.set_traffic(OPS, {"v1": 1, "v2": 1})
    seen = {(await service.recommend(OPS, f"p{u}", ["item0", "item1"]))["version"] for u in range(20)}
    assert seen == {"v1", "v2"}
    await service.record(OPS, [{"kind": "feedback", "subject": "p3", "object": "item1", "value": 1.0}])
    report = await service.traffic_report(OPS)
    assert sum(m["requests"] for m in report["versions"].values()) == 20
    assert sum(m["feedback_count"] for m in report["versions"].values()) == 1

    # a version whose stored bytes are corrupted is refused; v1 goes on serving
    put = await service._storage.put(OPS, "interpret/models/bad", b"\x00garbage" * 100)  # type: ignore[union-attr]
    await service._records().add_version("bad", "interpret/models/bad", put["version"],
                                         hashlib.sha256(b"\x00garbage" * 100).hexdigest(), "interactions",
                                         None, {}, {}, None)
    await service.promote(OPS, "v1")
    with pytest.raises(ModelArtifactError):
        await service.promote(OPS, "bad")
    assert (await service.recommend(OPS, "p0", ["item0"]))["version"] == "v1"
    assert (await service.health()).status == Status.READY

    assert (await service.promote(OPS, "v2"))["served"] == "v2"
    assert (await service.rollback(OPS))["served"] == "v1"


async def test_a_restarted_service_serves_what_was_promoted(tmp_path, fresh_database, shape_storage) -> None:
    def make() -> InterpretService:
        return InterpretService(AriaSettings(home=tmp_path), config=InterpretSettings(serving="local"))

    first = make()
    await first.start(_deps(fresh_database, shape_storage))
    await first.record(OPS, _feedback())
    await _version(first, "v1", seed=1)
    await first.promote(OPS, "v1")
    await first.stop()

    second = make()
    await second.start(_deps(fresh_database, shape_storage))
    try:
        assert (await second.recommend(OPS, "p1", ["item1", "item2"]))["version"] == "v1"
    finally:
        await second.stop()


async def test_rollbacks_walk_back_and_training_to_serve_needs_the_right_to_promote(service: InterpretService) -> None:
    from aria_actors.runtime.errors import Forbidden, NotFound

    await service.record(OPS, _feedback())
    for i, seed in ((1, 1), (2, 2), (3, 3)):
        await _version(service, f"v{i}", seed=seed)
        await service.promote(OPS, f"v{i}")
    assert (await service.rollback(OPS)) == {"served": "v2", "previous": "v3"}
    assert (await service.rollback(OPS)) == {"served": "v1", "previous": "v2"}  # back again, never forth
    with pytest.raises(NotFound):
        await service.rollback(OPS)
    # an editor (a tenant's) may not have a version served to everyone by training it with promote
    with pytest.raises(Forbidden):
        await service.start_training(ACME, "v9", "movielens-100k", None, promote=True)


async def test_ab_feedback_counts_only_for_users_the_split_served_and_is_clipped(service: InterpretService) -> None:
    await service.record(OPS, _feedback())
    await _version(service, "v1", seed=1)
    await _version(service, "v2", seed=2)
    await service.set_traffic(OPS, {"v1": 1, "v2": 1})
    served = (await service.recommend(OPS, "p5", ["item0", "item1"]))["version"]
    await service.record(OPS, [{"kind": "feedback", "subject": "p5", "object": "item0", "value": 1e300},
                               {"kind": "feedback", "subject": "never-served", "object": "item0", "value": 1.0}])
    report = await service.traffic_report(OPS)
    assert report["versions"][served]["feedback_count"] == 1
    assert report["versions"][served]["mean_feedback"] == 1.0
    assert sum(m["feedback_count"] for m in report["versions"].values()) == 1
    # once per user: repeating events cannot sway the test, a newer score replaces the user's own
    await service.record(OPS, [{"kind": "feedback", "subject": "p5", "object": "item1", "value": -0.5}] * 50)
    await service.recommend(OPS, "p5", ["item0"])  # served again by the same arm: the score stays counted
    report = await service.traffic_report(OPS)
    assert report["versions"][served]["feedback_count"] == 1
    assert report["versions"][served]["mean_feedback"] == -0.5
    assert report["versions"][served]["feedback_variance"] is None  # one score: no spread
    # another writer's events do not rewrite the scores of users it was not serving
    other = Principal(subject="someone-else", roles=("admin",))
    await service.record(other, [{"kind": "feedback", "subject": "p5", "object": "item1", "value": 1.0}])
    assert (await service.traffic_report(OPS))["versions"][served]["mean_feedback"] == -0.5


async def test_training_from_a_search_s_params_refuses_what_a_trial_would(service: InterpretService) -> None:
    from aria_actors.runtime.errors import BadRequest

    for params, field in (({"lr": 5.0}, "params.lr"), ({"depth": 3}, "params.depth"), ([1], "params")):
        with pytest.raises(BadRequest) as got:
            await service.start_training(OPS, "from-search", "movielens-100k", None, params=params)  # type: ignore[arg-type]
        assert got.value.fields["field"] == field
