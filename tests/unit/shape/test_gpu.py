"""The same paths on a CUDA GPU (skipped without one; deselected by default with -m 'not gpu')."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_model_loads_samples_and_trains_on_cuda(tiny_model_dir) -> None:
    from aria_actors.shape.characters.corpus import prompts
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import describe_traits, load_model
    from aria_actors.shape.training.policy import GRPORunner, GRPOSettings

    loaded = load_model(ShapeConfig(model_path=str(tiny_model_dir), device="cuda"))
    assert loaded.model.device.type == "cuda"
    assert isinstance(describe_traits(loaded, ["brave"], max_new_tokens=6, seed=0), str)
    before = [p.detach().clone() for p in loaded.model.parameters()]
    runner = GRPORunner(loaded.model, loaded.tokenizer, GRPOSettings(max_completion_length=6, relabel=True))
    for i in range(3):
        runner.step(prompts(2, seed=i))
    assert any(not torch.equal(a, b) for a, b in zip(before, loaded.model.parameters(), strict=True))
