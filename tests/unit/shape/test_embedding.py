"""The shipped sentence embedder equals sentence-transformers' encode of the same model."""

from __future__ import annotations

import numpy as np
import pytest

from aria_actors.shape.characters.embedding import DIMENSION, SentenceEmbedder, default_embedder, fingerprint, model_dir

pytest.importorskip("torch")

TEXTS = [
    "Am the life of the party.",
    "I don't talk a lot.",
    "A brave and kind knight who travels in the forest.",
    "",  # no word pieces: pooling over [CLS] [SEP] only
    "word " * 400,  # longer than the model's 256 word pieces: truncated the same way
    "Ünïcödé, emoji 🙂 and\ttabs.",
]


def test_vectors_equal_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(model_dir()), device="cpu").encode(TEXTS, convert_to_numpy=True)
    mine = default_embedder().encode(TEXTS)
    assert mine.shape == (len(TEXTS), DIMENSION) and mine.dtype == np.float32
    np.testing.assert_allclose(mine, reference, atol=1e-5, rtol=0)


def test_vectors_have_unit_length_and_do_not_depend_on_the_batch() -> None:
    alone = SentenceEmbedder(batch_size=1).encode(TEXTS)
    batched = default_embedder().encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(alone, batched, atol=1e-5, rtol=0)
    assert default_embedder().encode([]).shape == (0, DIMENSION)


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    a, b, c = default_embedder().encode(["I love going to parties.", "I enjoy parties a lot.",
                                         "The invoice is due on Friday."])
    assert float(a @ b) > float(a @ c) + 0.3


def test_fingerprint_is_stable_and_sees_a_changed_file(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "weights.bin").write_bytes(b"\x01" * (3 << 20))
    first = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == first
    (tmp_path / "weights.bin").write_bytes(b"\x01" * (3 << 20) + b"\x02")
    assert fingerprint(tmp_path) != first
    assert len(fingerprint()) == 64  # the shipped model's
