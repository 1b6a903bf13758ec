"""The Ray-native GRPO loop: data-parallel learners, weight broadcast, checkpoints, NaN handling.

One run (2 learner actors, 1 rollout actor) serves every test: actor start-up dominates the cost.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.characters.corpus import prompts  # noqa: E402
from aria_actors.shape.config import ShapeConfig  # noqa: E402
from aria_actors.shape.errors import TrainingConfigError, TrainingDiverged  # noqa: E402
from aria_actors.shape.model import build_tiny  # noqa: E402
from aria_actors.shape.training.policy import GRPOSettings  # noqa: E402
from aria_actors.shape.training.rewards import trait_coverage  # noqa: E402

SETTINGS = GRPOSettings(learning_rate=1e-2, relabel=True, seed=1, num_generations=4,
                        max_completion_length=6)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.set_num_threads(1)
    return str(build_tiny(ShapeConfig(seed=1, pretrain_steps=0), tmp_path_factory.mktemp("shape-ray") / "tiny"))


@pytest.fixture(scope="module")
def run(ray_session, model_dir):
    from aria_actors.shape.training.loop import RayGRPO

    r = RayGRPO(model_dir, SETTINGS, num_learners=2, num_rollout_workers=1)
    yield r
    r.shutdown()


@pytest.fixture
def fresh(run, tmp_path):
    run.reward_fn = trait_coverage
    run.checkpoint_dir = tmp_path
    return run


@pytest.mark.long  # two learner actors training (~16 s): in .ci/run
def test_two_learners_match_one_learner_on_the_same_global_batch(fresh, model_dir) -> None:
    import ray

    from aria_actors.shape.training.loop import Learner

    weights, opt = ray.get(fresh.learners[0].state.remote())
    single = Learner(model_dir, SETTINGS, rank=0, world=1, master_port=0)  # in-process, world of one
    single.model.load_state_dict(weights)
    single.optimizer.load_state_dict(opt)
    for step in range(2):
        batch = fresh.rollout(prompts(4, seed=step))
        assert batch.advantages.abs().sum() > 0  # the update is not trivially zero
        single.train_step(batch, float(batch.completion_mask.sum()), None)
        fresh.learn(batch)
    a, b = single.weights(), fresh.weights()
    moved = max(float((a[k] - weights[k]).abs().max()) for k in a)
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert moved > 1e-3
    # Adam turns reduction-order noise of tiny gradients into steps of ~lr; stay far below that.
    assert diff < 1e-4, (diff, moved)
    # The rollout actor holds the learners' weights after the broadcast.
    rw = ray.get(fresh.rollouts[0].sample.remote(["Traits: shy.\nDescription:"], 3))
    fresh_sample = single.loaded.tokenizer.batch_decode(rw.completion_ids, skip_special_tokens=True)
    assert fresh_sample == rw.completions


def test_steps_checkpoint_and_resume(fresh, tmp_path) -> None:
    results = [fresh.step(prompts(2, seed=i)) for i in range(2)]
    assert results[1].step == results[0].step + 1
    ckpt = results[-1].checkpoint
    assert ckpt and ckpt.endswith(f"step-{results[1].step:06d}")
    state = json.loads((tmp_path / f"step-{results[1].step:06d}" / "trainer_state.json").read_text())
    assert state["step"] == results[1].step
    saved = fresh.weights()
    fresh.step(prompts(2, seed=9))  # move on, then come back
    assert fresh.restore(ckpt) == results[1].step
    back = fresh.weights()
    assert all(torch.equal(saved[k], back[k]) for k in saved)
    assert fresh.step(prompts(2, seed=5)).step == results[1].step + 1


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(fresh, tmp_path) -> None:
    calls = {"n": 0}

    def reward(ps, cs):  # good once, then broken
        calls["n"] += 1
        return [0.0 if calls["n"] == 1 else float("nan")] * len(cs)

    fresh.reward_fn = reward
    first = fresh.step(prompts(2, seed=0))
    before = fresh.weights()
    with pytest.raises(TrainingDiverged) as info:
        fresh.step(prompts(2, seed=1))
    err = info.value
    assert err.fields["checkpoint"] == first.checkpoint
    assert "nan" in err.fields["reason"] and err.fields["step"] == first.step
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"step-{first.step:06d}"]
    after = fresh.weights()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no learner stepped


@pytest.mark.asyncio(loop_scope="session")
async def test_checkpoints_through_aria_storage_resume_the_learners(fresh, shape_storage, tmp_path) -> None:
    import asyncio

    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.rpc import bind
    from aria_actors.shape.training.checkpoints import StorageCheckpoints
    from aria_actors.storage.client import StorageClient

    fresh.checkpoint_dir = None
    fresh.checkpoints = StorageCheckpoints(bind(StorageClient, shape_storage), "ray-run",
                                           caller=Principal.operator(), loop=asyncio.get_running_loop(),
                                           cache_dir=tmp_path / "cache")
    try:
        first = await asyncio.to_thread(fresh.step, prompts(2, seed=0))
        second = await asyncio.to_thread(fresh.step, prompts(2, seed=1))
        assert first.checkpoint.endswith("ray-run/manifest@1")
        assert second.checkpoint.endswith("ray-run/manifest@2")
        assert fresh.dedupe[-1]["by_blob"]["assets"]["new_bytes"] == 0
        saved = fresh.weights()
        await asyncio.to_thread(fresh.step, prompts(2, seed=2))
        assert await asyncio.to_thread(fresh.latest_checkpoint) == fresh.last_checkpoint
        assert await asyncio.to_thread(fresh.restore, second.checkpoint) == second.step
        back = fresh.weights()
        assert all(torch.equal(saved[k], back[k]) for k in saved)
    finally:
        fresh.checkpoints = None


def test_non_dapo_loss_with_two_learners_is_refused(model_dir) -> None:
    from aria_actors.shape.training.loop import RayGRPO

    with pytest.raises(TrainingConfigError):
        RayGRPO(model_dir, SETTINGS.model_copy(update={"loss_type": "grpo"}), num_learners=2)


@pytest.mark.slow
def test_ray_loop_raises_held_out_reward(ray_session, model_dir) -> None:
    from aria_actors.shape.model import load_model
    from aria_actors.shape.training.loop import RayGRPO
    from aria_actors.shape.training.policy import mean_reward

    settings = SETTINGS.model_copy(update={"num_generations": 8, "max_completion_length": 8})
    local = load_model(ShapeConfig(model_path=model_dir))
    held_out = prompts(8, seed=10_000)
    run = RayGRPO(model_dir, settings, num_learners=2, num_rollout_workers=2)
    try:
        evals = [mean_reward(local.model, local.tokenizer, held_out, settings)]
        for i in range(40):
            run.step(prompts(4, seed=1000 + i))
            if i % 10 == 9:
                local.model.load_state_dict(run.weights())
                evals.append(mean_reward(local.model, local.tokenizer, held_out, settings))
    finally:
        run.shutdown()
    assert all(e > evals[0] for e in evals[1:]), evals
    assert sum(evals[-2:]) / 2 > evals[0] + 0.1, evals
