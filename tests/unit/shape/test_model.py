"""Tiny Qwen3 models built without a hub, loaded through the same path as real checkpoints."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.config import ShapeConfig  # noqa: E402
from aria_actors.shape.errors import ModelLoadError  # noqa: E402
from aria_actors.shape.model import describe_traits, generate, load_model  # noqa: E402


def test_tiny_model_is_a_qwen3_with_a_local_tokenizer(tiny) -> None:
    assert tiny.model.config.model_type == "qwen3"
    assert 50_000 < tiny.num_parameters < 500_000
    # Trait words of the shipped vocabulary are single tokens of the trained tokenizer.
    assert tiny.tokenizer.tokenize(" brave kind") == ["Ġbrave", "Ġkind"]
    assert tiny.tokenizer.decode(tiny.tokenizer(" A brave knight.")["input_ids"]) == " A brave knight."


def test_build_is_deterministic(tmp_path) -> None:
    a = load_model(ShapeConfig(cache_dir=tmp_path / "a", pretrain_steps=3))
    b = load_model(ShapeConfig(cache_dir=tmp_path / "b", pretrain_steps=3))
    assert a.source == "tiny"
    for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(x, y)


def test_model_path_from_environment_loads_a_checkpoint(tiny_model_dir, monkeypatch) -> None:
    monkeypatch.setenv("ARIA_SHAPE_MODEL_PATH", str(tiny_model_dir))
    loaded = load_model(ShapeConfig())
    assert loaded.source == str(tiny_model_dir)
    # ARIA_MODEL_PATH (the shared setting) is the fallback when the shape-specific one is empty.
    monkeypatch.delenv("ARIA_SHAPE_MODEL_PATH")
    assert load_model(ShapeConfig(), fallback_path=str(tiny_model_dir)).source == str(tiny_model_dir)


def test_missing_checkpoint_is_a_typed_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model(ShapeConfig(model_path=str(tmp_path / "nowhere")))
    assert info.value.fields["path"].endswith("nowhere")


def test_generation_is_seeded(tiny) -> None:
    a = describe_traits(tiny, ["brave", "kind"], max_new_tokens=8, seed=5)
    b = describe_traits(tiny, ["brave", "kind"], max_new_tokens=8, seed=5)
    assert a == b and isinstance(a, str)
    outs = generate(tiny, ["Traits: shy.\nDescription:"] * 3, max_new_tokens=6, seed=1)
    assert len(outs) == 3


def test_embeddings_are_unit_vectors(tiny) -> None:
    from aria_actors.shape.model import embed

    vecs = embed(tiny, ["A brave knight.", "A lazy farmer who sings."])
    assert len(vecs) == 2 and len(vecs[0]) == tiny.model.config.hidden_size
    for v in vecs:
        assert sum(x * x for x in v) == pytest.approx(1.0, abs=1e-5)
    assert vecs[0] != vecs[1]
