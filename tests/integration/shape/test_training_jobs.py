"""Training through aria_queue: the REST route enqueues the job, a real executor runs it on the
real queue tables, and aria_shape registers the version from the job's result."""

from __future__ import annotations

from pathlib import Path

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings

pytest.importorskip("torch")
pytestmark = pytest.mark.asyncio(loop_scope="session")
OP = Principal.operator()  # the tests call the service as the local operator
EDITOR = Principal("ed", ("editor",))  # and its routes as an editor
ME = Principal.internal("aria_shape")

SMALL = {"num_generations": 2, "max_completion_length": 4, "learning_rate": 1e-2}


def _service(home):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    # The background poll would register finished jobs on its own; here the tests say when (but
    # for the watcher's one scan right after start).
    return ShapeService(AriaSettings(home=home), ShapeConfig(pretrain_steps=0, train_poll_s=3600))


@pytest.fixture
async def service(shape_queue_deps, tmp_path, monkeypatch):
    # The queue's worker runs in this process (drain): its node's ARIA_HOME is the service's.
    monkeypatch.setenv("ARIA_HOME", str(tmp_path / "home"))
    svc = _service(tmp_path / "home")
    await svc.start(shape_queue_deps)
    yield svc
    await svc.stop()


def _http(service):
    import httpx

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.testing import api_app
    from aria_actors.shape.api import router

    app = api_app(router, clients={"aria_shape": LocalClient(service)}, caller=EDITOR)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_train_enqueues_runs_in_the_queue_and_registers_the_version(service, shape_queue_deps,
                                                                          queue_dsn, tmp_path) -> None:
    from aria_actors.queue.testing import drain
    from aria_actors.shape.errors import ModelVersionExists

    async with _http(service) as http:
        r = await http.post("/v1/shape/train", json={"version": "t1", "steps": 2, "prompts_per_step": 1,
                                                     "settings": SMALL, "eval_prompts": 2,
                                                     "checkpoint_every": 1})
        assert r.status_code == 202, r.text
        job = r.json()
        assert (job["version"], job["state"], job["model"]) == ("t1", "available", None)
        again = await http.post("/v1/shape/train", json={"version": "t1"})
        assert again.json()["job_id"] == job["job_id"] and again.json()["conflict"]  # one job per version
        assert (await http.post("/v1/shape/train", json={"version": "a/b"})).status_code == 422

        assert await drain(queue_dsn, "shape-train") == {"completed": 1}
        assert "t1" not in {m["id"] for m in await service.list_models(OP)}  # aria_shape registers it

        r = await http.get(f"/v1/shape/train/{job['job_id']}")
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["state"] == "completed" and done["attempt"] == 1
        model = done["model"]
        assert model["id"] == "t1" and model["parent"] is None
        m = model["metrics"]
        assert len(m["train_rewards"]) == 2 and m["steps"] == 2
        assert 0 <= m["held_out_reward_before"] <= 1 and 0 <= m["held_out_reward_after"] <= 1
        assert model["training_config"]["learning_rate"] == 1e-2 and model["training_config"]["steps"] == 2
        assert model["path"].startswith(str(tmp_path / "home"))
        # Enqueued as the caller of the route (the job runs with the editor's rights); read back
        # as the caller of the status route, and by aria_shape's background sync as itself.
        queue = shape_queue_deps["aria_queue"]
        assert queue.enqueuers == [EDITOR, EDITOR]
        assert EDITOR in queue.readers and queue.readers <= {EDITOR, ME}
        # Seen again (a second poll, a restarted actor): the same row, not a second one.
        assert (await http.get(f"/v1/shape/train/{job['job_id']}")).json()["model"] == model
        with pytest.raises(ModelVersionExists):
            await service.start_training(OP, "t1")
        missing = await http.get("/v1/shape/train/999999")
        assert missing.status_code == 404

    loaded = await service.load_version(OP, "t1")
    assert loaded["parameters"] > 0

    # The next run trains the served version: its parent. It completes while aria_shape is down;
    # the next actor's scan registers it.
    await service.promote(OP, "t1")
    child = await service.start_training(OP, "t2", steps=1, prompts_per_step=1, settings=SMALL, eval_prompts=0)
    await service.stop()
    assert await drain(queue_dsn, "shape-train") == {"completed": 1}
    later = _service(tmp_path / "home")
    await later.start(shape_queue_deps)
    try:
        await later.sync_training(scan=True)  # what its watcher does once at start
        registered = await later.get_model(OP, "t2")
        assert registered["parent"] == "t1" and registered["metrics"]["held_out_reward_before"] is None
        # it trained from t1's checkpoint, named relative to the checkpoint root, not as a path
        [args] = [j["args"] for j in await later._train_jobs_in("completed") if j["id"] == child["job_id"]]
        assert args["checkpoint"] == str(Path(loaded["path"]).relative_to(tmp_path / "home" / "shape" / "checkpoints"))
        assert not any(isinstance(v, str) and v.startswith("/") for v in args.values())
        assert (await later.sync_training(scan=True))["registered"] == []
        assert (await later.training_status(OP, child["job_id"]))["model"]["id"] == "t2"
    finally:
        await later.stop()


async def test_a_run_with_bad_settings_is_discarded_with_its_reason(service, queue_dsn) -> None:
    from aria_actors.queue.testing import drain

    job = await service.start_training(OP, "bad", steps=1, settings={"num_generations": 3, "no_such": 1})
    assert service._train_jobs == {job["job_id"]}
    assert (await service.sync_training())["training"] == ["bad"]
    assert await drain(queue_dsn, "shape-train") == {"discarded": 1}
    status = await service.training_status(OP, job["job_id"])
    assert status["state"] == "discarded" and status["model"] is None
    assert "no_such" in status["errors"][-1]["error"]
    assert await service.sync_training() == {"registered": [], "training": []}
    assert service._train_jobs == set()
    assert "bad" not in {m["id"] for m in await service.list_models(OP)}


async def test_without_aria_queue_training_is_unavailable(shape_deps, tmp_path) -> None:
    from aria_actors.runtime.errors import ServiceUnavailable

    svc = _service(tmp_path)
    await svc.start(shape_deps)
    try:
        with pytest.raises(ServiceUnavailable, match="aria_queue"):
            await svc.start_training(OP, "t1")
    finally:
        await svc.stop()


async def _complete(queue_dsn, job_id, result) -> None:
    """Mark a job completed with ``result``, as a worker that ran it would."""
    import json

    import asyncpg

    conn = await asyncpg.connect(queue_dsn)
    try:
        await conn.execute("UPDATE aria_queue.jobs SET state = 'completed', completed_at = now(), "
                           "result = $1::jsonb WHERE id = $2", json.dumps(result), job_id)
    finally:
        await conn.close()


def _result(version, parent=None):
    return {"version": version, "path": "/tmp/x", "parent": parent, "metrics": {}, "training_config": {}}


async def test_jobs_that_are_not_aria_shapes_runs_and_rows_that_do_not_register_stop_nothing(
        service, shape_queue_deps, queue_dsn, fresh_database) -> None:
    import asyncpg

    from aria_actors.runtime.errors import NotFound

    queue = shape_queue_deps["aria_queue"]
    # The same worker with plain run_training arguments (no version): not a run of aria_shape's.
    plain = await queue.call("enqueue", OP, "aria_shape.train", {"model_path": "/nowhere", "steps": 1,
                                                             "checkpoint_dir": "/tmp/nowhere"})
    # Three finished runs: one whose recorded parent is gone, one whose result names another
    # version, one that is fine.
    orphan = await service.start_training(OP, "orphan", steps=1)
    other = await service.start_training(OP, "other", steps=1)
    fine = await service.start_training(OP, "fine", steps=1)
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("UPDATE aria_shape.training_runs SET parent = 'gone' WHERE job_id = $1",
                           orphan["job_id"])
    finally:
        await conn.close()
    for job, result in ((orphan, _result("orphan")), (other, _result("elsewhere")), (fine, _result("fine", "x"))):
        await _complete(queue_dsn, job["job_id"], result)

    # (the watcher's scan at start may run beside this one: registering is idempotent, so only
    # the outcome is checked, not which of the two registered it)
    assert (await service.sync_training(scan=True))["training"] == []
    problems = (await service.health()).details["training_problems"]
    assert {"orphan", "other"} <= set(problems)
    models = {m["id"]: m for m in await service.list_models(OP)}
    assert set(models) == {"fine"} and models["fine"]["parent"] is None  # the recorded parent, not the result's
    with pytest.raises(NotFound):
        await service.training_status(OP, plain["id"])


async def test_a_job_enqueued_directly_on_the_queue_never_becomes_a_model_version(
        service, shape_queue_deps, queue_dsn) -> None:
    """An editor holds shape:model:train, so it may enqueue aria_shape.train itself, but only a
    run start_training recorded is registered (else: a version with any lineage and metrics,
    without register_model's @any)."""
    from aria_actors.runtime.errors import NotFound
    from aria_actors.shape.errors import TrainingRunConflict

    queue = shape_queue_deps["aria_queue"]
    forged = await queue.call("enqueue", EDITOR, "aria_shape.train", {"version": "forged", "steps": 1})
    await _complete(queue_dsn, forged["id"], {**_result("forged"), "metrics": {"held_out_reward_after": 1}})
    assert "forged" not in (await service.sync_training(scan=True))["registered"]
    assert "forged" not in {m["id"] for m in await service.list_models(OP)}
    with pytest.raises(NotFound):
        await service.training_status(EDITOR, forged["id"])

    # A direct job holding a version's unique key: start_training does not adopt it...
    unique = {"period": None, "keys": ["version"]}
    squat = await queue.call("enqueue", EDITOR, "aria_shape.train", {"version": "squat", "steps": 3}, unique=unique)
    with pytest.raises(TrainingRunConflict):
        await service.start_training(Principal("other", ("editor",)), "squat")
    with pytest.raises(TrainingRunConflict):  # nor the same enqueuer's, with other arguments
        await service.start_training(EDITOR, "squat")
    await _complete(queue_dsn, squat["id"], _result("squat"))
    await service.sync_training(scan=True)
    assert "squat" not in {m["id"] for m in await service.list_models(OP)}


async def test_a_start_that_stopped_before_recording_its_job_is_taken_up_by_the_same_request(
        service, shape_queue_deps, monkeypatch) -> None:
    from aria_actors.shape.store import ShapeStore

    real = ShapeStore.record_training_run

    async def crash(*args, **kwargs):
        raise ConnectionError("aria_shape stopped here")

    monkeypatch.setattr(ShapeStore, "record_training_run", crash)
    with pytest.raises(ConnectionError):
        await service.start_training(EDITOR, "again", steps=2)
    monkeypatch.setattr(ShapeStore, "record_training_run", real)
    job = await service.start_training(EDITOR, "again", steps=2)  # the same caller, the same arguments
    assert job["conflict"] and (await service.training_status(EDITOR, job["job_id"]))["version"] == "again"


class VisibleQueue:
    """QueueClientOverDsn whose get_job answers as aria_queue does: a job the caller may not read
    (``queue:job:read`` on its enqueuer: one's own, the tenant's or any) is not found."""

    name = "aria_queue"

    def __init__(self, dsn: str) -> None:
        from tests.fixtures.shape import QueueClientOverDsn

        self.inner = QueueClientOverDsn(dsn)

    @property
    def readers(self):
        return self.inner.readers

    async def call(self, method, caller, *args, **kwargs):
        from aria_actors.queue.errors import JobNotFound
        from aria_actors.queue.jobs import owner_resource
        from aria_actors.runtime.rpc import default_gate

        out = await self.inner.call(method, caller, *args, **kwargs)
        if method == "get_job" and not default_gate().allowed(caller, "queue:job:read",
                                                              owner_resource(out.get("enqueued_by"))):
            raise JobNotFound(f"no job with id {out['id']}", job_id=out["id"])
        return out


async def test_a_status_read_is_the_callers_own_and_a_viewers_read_registers_nothing(
        fresh_database, queue_dsn, tmp_path) -> None:
    import aria_actors.shape.jobs  # noqa: F401  (registers aria_shape.train)
    from aria_actors.queue.errors import JobNotFound
    from aria_actors.runtime.service import Deps
    from tests.fixtures.postgres import DataClientOverDsn

    queue = VisibleQueue(queue_dsn)
    svc = _service(tmp_path / "home")
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_shape"), "aria_queue": queue}))
    # The watcher's one scan after start can come late on a busy machine and register the version
    # on its own (a CI run saw it); here the test says when syncing happens.
    svc._watcher.cancel()
    editor = Principal("ed", ("editor",), tenant="acme")
    try:
        job = await svc.start_training(editor, "seen", steps=1)
        await _complete(queue_dsn, job["job_id"], _result("seen"))
        # Another tenant's viewer holds shape:model:read but may not read the acme editor's job.
        outsider = Principal("vic", ("viewer",), tenant="evil")
        with pytest.raises(JobNotFound):
            await svc.training_status(outsider, job["job_id"])
        assert outsider in queue.readers  # read as the caller, not as aria_shape
        # A viewer of the tenant sees it; its read registers nothing (a viewer writes no model).
        viewer = Principal("val", ("viewer",), tenant="acme")
        status = await svc.training_status(viewer, job["job_id"])
        assert status["state"] == "completed" and status["model"] is None
        assert "seen" not in {m["id"] for m in await svc.list_models(OP)}
        # The background sync registers it; then every reader sees the version.
        assert (await svc.sync_training())["registered"] == ["seen"]
        assert (await svc.training_status(viewer, job["job_id"]))["model"]["id"] == "seen"
    finally:
        await svc.stop()
