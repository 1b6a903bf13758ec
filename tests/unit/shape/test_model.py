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


@pytest.mark.parametrize("do_sample", [False, True])
def test_cached_sampling_loop_equals_generate(tiny, do_sample: bool) -> None:
    from aria_actors.shape.model import sample_ids

    tok, model = tiny.tokenizer, tiny.model
    enc = tok(["Traits: brave, kind.\nDescription:", "Traits: shy.\nDescription:"],
              return_tensors="pt", padding=True)
    assert enc["attention_mask"][1, 0] == 0  # left padding is exercised
    torch.manual_seed(11)
    ref = model.generate(**enc, max_new_tokens=12, do_sample=do_sample, top_k=None, top_p=None,
                         temperature=None if not do_sample else 0.9, pad_token_id=tok.pad_token_id)
    torch.manual_seed(11)
    ours = sample_ids(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=12,
                      eos_id=tok.eos_token_id, temperature=0.9, do_sample=do_sample)
    assert torch.equal(ours, ref[:, enc["input_ids"].size(1):])
