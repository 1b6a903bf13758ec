"""Training as a resumable job: an interrupted run resumes to the same weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.training.job import latest_checkpoint, run_training, train_job  # noqa: E402
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


OPS = {"subject": "ops", "roles": ["operator"], "tenant": None, "kind": "user"}
EDITOR = {"subject": "ed", "roles": ["editor"], "tenant": "acme", "kind": "user"}
TINY = {"pretrain_steps": 0}  # the knobs start_training copies from the service's ShapeConfig


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The worker node's ARIA_HOME: where a job's directories come from."""
    monkeypatch.setenv("ARIA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _job(args, enqueued_by=None, job_id=1):
    from aria_actors.queue.jobs import Job

    return Job(id=job_id, worker="aria_shape.train", queue="shape-train", args=args, enqueued_by=enqueued_by)


def test_queue_worker_is_registered_and_runs(tiny_model_dir, home) -> None:
    from aria_actors.queue.registry import default_registry

    spec = default_registry.get("aria_shape.train")
    assert spec.fn is train_job and spec.queue == "shape-train"
    # An operator may name a directory of the node (shape:model:deploy@any): the model to start from.
    out = spec.fn(_job({"version": "v1", "model_path": str(tiny_model_dir), "steps": 1, "prompts_per_step": 1,
                        "eval_prompts": 0, "settings": {"num_generations": 2, "max_completion_length": 3}},
                       enqueued_by=OPS))
    assert out["version"] == "v1" and out["metrics"]["steps"] == 1
    # Checkpoints go where the node's settings say, in the enqueuer's own folder.
    assert out["path"].startswith(str(home / "shape" / "checkpoints" / "v1"))
    assert out["path"].endswith("step-000001")


SMALL = {"steps": 1, "prompts_per_step": 1, "eval_prompts": 0,
         "settings": {"num_generations": 2, "max_completion_length": 3}}
PATHS = [  # what the worker used to take from any enqueuer: directories to write, models to load
    {"version": "v1", **SMALL, "source": {"config": {"model_path": "{model}"}}, "checkpoint_dir": "{evil}"},
    {"version": "v1", **SMALL, "source": {"config": {"cache_dir": "{evil}", "pretrain_steps": 0}, "home": "{evil}"},
     "checkpoint_dir": "{evil}/ck"},
    {"model_path": "{model}", "checkpoint_dir": "{evil}", **SMALL},
    {"version": "v1", **SMALL, "model_path": "{model}", "checkpoint_run": "v1", "cache_dir": "{evil}"},
]
ESCAPES = [  # the arguments the worker takes now, bent out of the checkpoint root
    {"version": "v1", **SMALL, "checkpoint": "../../{name}/step-000001"},
    {"version": "../{name}", **SMALL},
    {"version": "v1", **SMALL, "model_path": "{evil}"},  # a node directory: shape:model:deploy@any only
    {"version": "v1", **SMALL, "model_path": "{model}"},
    {"version": "v1", **SMALL, "parent": "base"},  # lineage is aria_shape's record, not an argument
]


@pytest.mark.parametrize("args", PATHS + ESCAPES)
def test_an_editors_job_naming_paths_is_discarded_before_touching_files(args, tiny_model_dir, home,
                                                                        tmp_path) -> None:
    import json

    from aria_actors.queue.jobs import Discard

    evil = tmp_path / "evil"
    text = json.dumps(args).replace("{evil}", str(evil)).replace("{name}", evil.name)
    args = json.loads(text.replace("{model}", str(tiny_model_dir)))
    with pytest.raises(Discard):
        train_job(_job(args, enqueued_by=EDITOR))
    assert not evil.exists() and not home.exists()  # nothing created, nothing built or written


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


def test_a_job_with_no_enqueuer_may_not_use_aria_storage(home) -> None:
    from aria_actors.queue.jobs import Discard

    with pytest.raises(Discard, match="no enqueuer"):
        train_job(_job({"version": "r1", "storage": True, "steps": 1, "model": TINY}, job_id=2))


def test_a_job_whose_enqueuer_the_store_refuses_is_discarded_not_retried(tiny_model_dir, home,
                                                                         monkeypatch) -> None:
    from aria_actors.queue import dispatch
    from aria_actors.queue.jobs import Discard
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.rpc import bind

    seen = []

    class RefusingStorage:
        name = "aria_storage"

        async def call(self, method, caller, *args, **kwargs):
            seen.append((method, caller.subject))
            raise Forbidden(f"{caller.subject!r} may not storage:asset:write", action="storage:asset:write")

    monkeypatch.setattr(dispatch, "typed_client", lambda proto: bind(proto, RefusingStorage()))
    job = _job({"version": "r1", "model_path": str(tiny_model_dir), "storage": True, "steps": 1},
               enqueued_by=OPS, job_id=3)
    with pytest.raises(Discard, match="refused the job's enqueuer"):
        train_job(job)
    assert seen and all(who == "ops" for _, who in seen)  # the store was asked as the enqueuer


def test_a_run_resumes_only_from_its_own_enqueuers_directory(tiny_model_dir, home) -> None:
    settings = {"num_generations": 2, "max_completion_length": 3, "seed": 1}
    args = {"version": "v2", "model_path": str(tiny_model_dir), "steps": 1, "prompts_per_step": 1,
            "eval_prompts": 0, "settings": settings}
    first = train_job(_job(args, enqueued_by=OPS))
    again = train_job(_job({**args, "steps": 2}, enqueued_by=OPS, job_id=2))
    assert again["metrics"]["resumed_from"] == first["path"]  # a new job of the same enqueuer resumes
    other = train_job(_job({**args, "steps": 2}, enqueued_by={**OPS, "subject": "ops2"}, job_id=3))
    assert other["metrics"]["resumed_from"] is None  # another enqueuer's checkpoints are not its own
    assert other["path"] != again["path"]
