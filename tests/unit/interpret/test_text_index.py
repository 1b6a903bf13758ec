"""VectorIndex: exact cosine top-k equals brute force, removal keeps the rest findable, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from aria_actors.interpret.errors import InvalidFeatures
from aria_actors.interpret.text.index import VectorIndex


def _brute(ids: list, vectors: np.ndarray, query: np.ndarray, k: int, exclude: set = frozenset()) -> list:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    order = sorted((i for i in range(len(ids)) if ids[i] not in exclude), key=lambda i: -scores[i])
    return [(ids[i], float(scores[i])) for i in order[:k]]


def test_search_equals_brute_force_on_random_vectors() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16))
    ids = [f"c{i}" for i in range(500)]
    index = VectorIndex(16)
    index.add(ids[:200], vectors[:200])
    index.add(ids[200:], vectors[200:])  # grows past its first capacity
    assert len(index) == 500
    for q in rng.normal(size=(10, 16)):
        got = index.search(q, 7)
        want = _brute(ids, vectors, q, 7)
        assert [g[0] for g in got] == [w[0] for w in want]
        np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], atol=1e-5)
    assert len(index.search(rng.normal(size=16), 1000)) == 500  # k beyond the size: all of them


def test_exclude_and_removal() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 8))
    ids = list(range(50))
    index = VectorIndex(8)
    index.add(ids, vectors)
    query = vectors[3]
    assert index.search(query, 1)[0][0] == 3
    assert index.search(query, 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    assert index.search(query, 1, exclude=[3])[0][0] == _brute(ids, vectors, query, 1, {3})[0][0]
    assert index.remove([3, 49, 999]) == 2  # the unknown id is ignored
    assert len(index) == 48 and 3 not in index and 49 not in index
    kept = [i for i in ids if i not in (3, 49)]
    for q in rng.normal(size=(5, 8)):
        got = index.search(q, 10)
        assert [g[0] for g in got] == [w[0] for w in _brute(kept, vectors[kept], q, 10)]
    # the row that filled the hole is still its own nearest neighbour
    assert index.search(vectors[48], 1)[0][0] == 48
    index.remove(kept)
    assert len(index) == 0 and index.search(query, 3) == []


def test_adding_an_id_again_replaces_its_vector() -> None:
    index = VectorIndex(3)
    index.add(["a", "b"], [[1, 0, 0], [0, 1, 0]])
    index.add(["a"], [[0, 0, 1]])
    assert len(index) == 2
    assert index.search([0, 0, 1], 1) == [("a", pytest.approx(1.0))]


@pytest.mark.parametrize(("ids", "vectors", "match"), [
    (["a"], [[0, 0, 0]], "zero vector"),
    (["a"], [[1, float("nan"), 0]], "non-finite"),
    (["a"], [[1, 0]], "shape"),
    (["a", "b"], [[1, 0, 0]], "shape"),
    (["a", "a"], [[1, 0, 0], [0, 1, 0]], "twice"),
    ([None], [[1, 0, 0]], "ids\\[0\\]"),
    ([""], [[1, 0, 0]], "1 to 256"),
    (["a"], "not numbers", "numbers"),
])
def test_bad_additions_are_refused_and_store_nothing(ids: list, vectors: object, match: str) -> None:
    index = VectorIndex(3)
    with pytest.raises(InvalidFeatures, match=match):
        index.add(ids, vectors)
    assert len(index) == 0


def test_bad_searches_are_refused() -> None:
    index = VectorIndex(3)
    index.add(["a"], [[1, 0, 0]])
    for k in (0, 1001, 2.5):
        with pytest.raises(InvalidFeatures, match="k must be"):
            index.search([1, 0, 0], k)
    with pytest.raises(InvalidFeatures, match="zero vector"):
        index.search([0, 0, 0], 1)
    with pytest.raises(InvalidFeatures, match="shape"):
        index.search([1, 0], 1)
