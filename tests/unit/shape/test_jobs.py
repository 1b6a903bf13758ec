"""Training as a resumable job: an interrupted run resumes to the same weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.jobs import latest_checkpoint, run_training, train_job  # noqa: E402
from tests.fixtures.shape_rewards import crashing_reward  # noqa: E402

SETTINGS = {"num_generations": 4, "max_completion_length": 5, "learning_rate": 1e-2, "seed": 2}


def test_interrupted_run_resumes_to_the_same_weights(tiny_model_dir, tmp_path) -> None:
    from safetensors.torch import load_file

    whole = run_training(str(tiny_model_dir), str(tmp_path / "whole"), steps=4, prompts_per_step=2,
                         checkpoint_every=2, settings=SETTINGS)
    assert whole["resumed_from"] is None and whole["steps"] == 4

    crash_on_third_step = crashing_reward(on_call=3)

    with pytest.raises(RuntimeError):
        run_training(str(tiny_model_dir), str(tmp_path / "split"), steps=4, prompts_per_step=2,
                     checkpoint_every=2, settings=SETTINGS, reward_fn=crash_on_third_step)
    assert latest_checkpoint(tmp_path / "split").name == "step-000002"
    resumed = run_training(str(tiny_model_dir), str(tmp_path / "split"), steps=4, prompts_per_step=2,
                           checkpoint_every=2, settings=SETTINGS)
    assert resumed["resumed_from"].endswith("step-000002") and len(resumed["rewards"]) == 2
    a = load_file(str(tmp_path / "whole" / "step-000004" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "step-000004" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_queue_worker_is_registered_and_runs(tiny_model_dir, tmp_path) -> None:
    from aria_actors.queue.jobs import Job
    from aria_actors.queue.registry import default_registry

    spec = default_registry.get("aria_shape.train")
    assert spec.fn is train_job and spec.queue == "shape-train"
    job = Job(id=1, worker="aria_shape.train", queue="shape-train",
              args={"model_path": str(tiny_model_dir), "checkpoint_dir": str(tmp_path), "steps": 1,
                    "prompts_per_step": 1, "settings": {"num_generations": 2, "max_completion_length": 3}})
    out = spec.fn(job)
    assert out["steps"] == 1 and out["final_checkpoint"].endswith("step-000001")


def test_enqueueing_a_training_run_needs_shape_model_train() -> None:
    from aria_actors.queue.producer import build
    from aria_actors.queue.registry import default_registry
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.principal import Principal

    assert default_registry.get("aria_shape.train").permission == "shape:model:train"
    args = {"version": "v1", "steps": 1}
    for role in ("editor", "operator", "admin"):
        build("aria_shape.train", args, enqueued_by=Principal(role, (role,)))
    for role in ("user", "viewer"):
        with pytest.raises(Forbidden):
            build("aria_shape.train", args, enqueued_by=Principal(role, (role,)))


def test_a_job_with_no_enqueuer_may_not_use_aria_storage() -> None:
    from aria_actors.queue.jobs import Discard, Job

    job = Job(id=2, worker="aria_shape.train", queue="shape-train",
              args={"model_path": "/nowhere", "checkpoint_run": "r1", "steps": 1})
    with pytest.raises(Discard, match="no enqueuer"):
        train_job(job)

def test_a_job_whose_enqueuer_the_store_refuses_is_discarded_not_retried(tiny_model_dir, monkeypatch) -> None:
    from aria_actors.queue import dispatch
    from aria_actors.queue.jobs import Discard, Job
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.rpc import bind

    seen = []

    class RefusingStorage:
        name = "aria_storage"

        async def call(self, method, caller, *args, **kwargs):
            seen.append((method, caller.subject))
            raise Forbidden(f"{caller.subject!r} may not storage:asset:write", action="storage:asset:write")

    monkeypatch.setattr(dispatch, "typed_client", lambda proto: bind(proto, RefusingStorage()))
    job = Job(id=3, worker="aria_shape.train", queue="shape-train",
              args={"model_path": str(tiny_model_dir), "checkpoint_run": "r1", "steps": 1},
              enqueued_by=Principal("ops", ("operator",)).to_dict())
    with pytest.raises(Discard, match="refused the job's enqueuer"):
        train_job(job)
    assert seen and all(who == "ops" for _, who in seen)  # the store was asked as the enqueuer
