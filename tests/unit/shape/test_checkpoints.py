"""Checkpoint blobs: deterministic bytes, exact round trips, write-then-publish directories."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape import checkpoints as ck  # noqa: E402
from aria_actors.shape.corpus import prompts  # noqa: E402
from aria_actors.shape.policy import GRPORunner, GRPOSettings  # noqa: E402

SETTINGS = GRPOSettings(num_generations=4, max_completion_length=6, learning_rate=1e-2, seed=3,
                        relabel=True)


@pytest.fixture
def runner(tiny):
    r = GRPORunner(tiny.model, tiny.tokenizer, SETTINGS)
    r.step(prompts(2, seed=0))
    return r


def test_blobs_are_deterministic_and_round_trip(runner, tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import load_model

    a, b = runner.blobs({"reward": 0.5}), runner.blobs({"reward": 0.5})
    assert a == b  # same values, same bytes: the precondition of sharing chunks
    assert set(a) == {"model", "optimizer", "assets", "state"}
    path = ck.write_dir(a, tmp_path / "step-000001")
    loaded = load_model(ShapeConfig(model_path=str(path)))
    mine = runner.model.state_dict()
    assert all(torch.equal(v, mine[k]) for k, v in loaded.model.state_dict().items())
    opt = ck.read_optimizer(path)
    ref = runner.optimizer.state_dict()
    assert opt["param_groups"] == [{**g, "betas": tuple(g["betas"])} for g in ref["param_groups"]]
    for idx, per in ref["state"].items():
        assert all(torch.equal(per[k], opt["state"][idx][k]) for k in per)
    assert ck.read_state(path)["step"] == 1


def test_frozen_parameters_keep_their_bytes(tiny, tmp_path) -> None:
    settings = SETTINGS.model_copy(update={"freeze": ("model.embed_tokens", "model.layers.0.")})
    r = GRPORunner(tiny.model, tiny.tokenizer, settings)
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    r.step(prompts(2, seed=0))
    after = tiny.model.state_dict()
    frozen = [k for k in before if k.startswith(settings.freeze)]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k not in frozen)
    # Adam keeps no state for them, so the optimizer blob only carries trained parameters.
    n_trained = sum(1 for p in tiny.model.parameters() if p.requires_grad)
    assert len(ck.read_optimizer(ck.write_dir(r.blobs(), tmp_path / "c"))["state"]) == n_trained


def test_directory_sink_publishes_only_complete_checkpoints(runner, tmp_path, monkeypatch) -> None:
    sink = ck.DirectoryCheckpoints(tmp_path)
    assert sink.latest() is None
    first = sink.save(runner.blobs(), 1)
    runner.step(prompts(1, seed=1))
    blobs = runner.blobs()

    real = ck._untar

    def failing(data, out):  # the crash lands after part of the new checkpoint is written
        if data is blobs["assets"]:
            (out / "partial").write_bytes(b"x")
            raise OSError("disk full")
        real(data, out)

    monkeypatch.setattr(ck, "_untar", failing)
    with pytest.raises(OSError, match="disk full"):
        sink.save(blobs, 2)
    assert sink.latest() == first.ref
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000001"]  # nothing half-written left
    monkeypatch.undo()
    assert sink.save(blobs, 2).ref.endswith("step-000002") and sink.latest().endswith("step-000002")
