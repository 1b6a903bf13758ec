"""The personality head's cache and memo, with a stand-in embedder (no torch, fast): a cache folder
that cannot be written, a cached head that is corrupt, how the file is written, the trait memo's
bound."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from aria_actors.shape.characters import personality as pm
from aria_actors.shape.characters.embedding import DIMENSION
from aria_actors.shape.characters.personality import DIMENSIONS, LETTERS, PersonalityModel, TraitHead


class FakeEmbedder:
    """Unit vectors seeded by each text's hash: the same text, the same vector."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text("{}")
        self.directory = directory
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(DIMENSION)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), DIMENSION)


@pytest.fixture
def embedder(tmp_path: Path) -> FakeEmbedder:
    return FakeEmbedder(tmp_path / "embedder")


@pytest.fixture
def items(tmp_path: Path) -> Path:
    """Two items per dimension and key: enough to fit and cross-validate, quickly."""
    path = tmp_path / "items.csv"
    rows = ["text,trait,key,source"]
    rows += [f"Am {letter} {key} {i}.,{letter},{key},ipip" for letter in LETTERS for key in (1, -1) for i in range(2)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def trainings(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = PersonalityModel.train.__func__

    def counting(cls, *args, **kwargs):
        calls.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(PersonalityModel, "train", classmethod(counting))
    return calls


def _blocked(tmp_path: Path) -> Path:
    """A cache folder no one can create, root included: its parent is a file."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "personality"


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == pm.log.name and r.levelno >= logging.WARNING]


def test_an_unwritable_cache_folder_trains_once_and_serves_from_memory(tmp_path, embedder, trainings,
                                                                       monkeypatch, caplog) -> None:
    monkeypatch.setattr(pm, "_shared", {})
    monkeypatch.setattr(pm, "default_embedder", lambda: embedder)
    cache = _blocked(tmp_path)
    with caplog.at_level(logging.WARNING, logger=pm.log.name):
        first = pm.shared_model(cache)
        again = pm.shared_model(cache)
    assert first is again and len(trainings) == 1 and not first.info["cached"]
    assert first.profile(["kind"], "I am calm.")["scores"].keys() == set(DIMENSIONS)
    assert len(_warnings(caplog)) == 1 and str(cache) in _warnings(caplog)[0].getMessage()


def test_load_with_an_unwritable_cache_returns_the_trained_head(tmp_path, embedder, items, trainings) -> None:
    model = PersonalityModel.load(_blocked(tmp_path), embedder=embedder, items_path=items)
    assert len(trainings) == 1 and model.head.weights.shape == (len(DIMENSIONS), DIMENSION + 1)


def test_a_failed_write_is_logged_once_and_leaves_no_temporary_file(tmp_path, embedder, monkeypatch,
                                                                    caplog) -> None:
    model = PersonalityModel(embedder, TraitHead(np.zeros((len(DIMENSIONS), DIMENSION + 1))), {})
    path = tmp_path / "cache" / "personality-head-x.json"

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(pm.os, "replace", refuse)
    with caplog.at_level(logging.WARNING, logger=pm.log.name):
        assert model.save(path, "k") is False
        assert model.save(path, "k") is False
    assert list(path.parent.iterdir()) == []
    assert len(_warnings(caplog)) == 1 and "disk full" in _warnings(caplog)[0].getMessage()


def test_the_cache_file_is_written_by_a_fresh_name_and_mode(tmp_path, embedder) -> None:
    model = PersonalityModel(embedder, TraitHead(np.zeros((len(DIMENSIONS), DIMENSION + 1))), {})
    path = tmp_path / "cache" / "personality-head-x.json"
    path.parent.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    # a link planted at the temporary name the writer used to take, in this process and thread
    planted = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
    planted.symlink_to(outside)
    old = os.umask(0o077)
    try:
        written = model.save(path, "k")
    finally:
        os.umask(old)
    assert outside.read_text() == "untouched" and not path.is_symlink()
    assert written is True
    assert json.loads(path.read_text())["key"] == "k"
    assert path.stat().st_mode & 0o777 == pm.CACHE_FILE_MODE == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, planted.name])


@pytest.mark.parametrize("weights", [
    [[1.0, 2.0]],  # another shape: every profile would raise
    np.zeros((len(DIMENSIONS), DIMENSION)).tolist(),  # no bias column
    [[float("nan")] * (DIMENSION + 1)] * len(DIMENSIONS),  # right shape, not finite
    [[1.0] * (DIMENSION + 1)] * (len(DIMENSIONS) - 1) + [[1.0] * DIMENSION + [float("inf")]],
    [["a"] * (DIMENSION + 1)] * len(DIMENSIONS),
])
def test_a_corrupt_cached_head_is_trained_anew_and_overwritten(tmp_path, embedder, items, trainings,
                                                               weights) -> None:
    cache = tmp_path / "cache"
    key = pm.cache_key(items, pm.fingerprint(embedder.directory))
    path = pm._cache_path(cache, key)
    assert path is not None
    cache.mkdir()
    path.write_text(json.dumps({"key": key, "weights": weights, "info": {"embedding_model": "x"}}))
    model = PersonalityModel.load(cache, embedder=embedder, items_path=items)
    assert len(trainings) == 1 and not model.info["cached"]
    assert set(model.profile(["kind"])["scores"]) == set(DIMENSIONS)
    again = PersonalityModel.load(cache, embedder=embedder, items_path=items)  # overwritten: cached now
    assert len(trainings) == 1 and again.info["cached"]
    assert np.array_equal(again.head.weights, model.head.weights)


def test_trait_scores_are_memoised_least_recently_used_first_out(embedder, monkeypatch) -> None:
    monkeypatch.setattr(pm, "TRAIT_CACHE_SIZE", 4)
    head = TraitHead(np.random.default_rng(0).standard_normal((len(DIMENSIONS), DIMENSION + 1)))
    model = PersonalityModel(embedder, head, {})
    first = model.trait_scores(["kind"])
    for i in range(10):
        model.trait_scores([f"word{i}", "kind"])  # "kind" stays the most recently used
        assert len(model._traits) <= 4
    embedder.encoded.clear()
    assert np.array_equal(model.trait_scores(["kind"]), first) and embedder.encoded == []
    again = model.trait_scores(["word0"])  # evicted: scored again, the same
    assert embedder.encoded == [pm.trait_statement("word0")]
    many = [f"many{i}" for i in range(9)]  # more words than the memo holds, in one request
    scores = model.trait_scores([*many, "word0"])
    assert scores.shape == (10, len(DIMENSIONS)) and np.array_equal(scores[-1], again[0])
    assert len(model._traits) == 4
