from __future__ import annotations

import hashlib
import io
import json

import pytest

from aria_actors.storage import chunker
from aria_actors.storage.chunker import ChunkerParams, chunk_bytes, iter_chunks
from aria_actors.storage.errors import InvalidChunkerParams


@pytest.fixture(scope="module")
def vectors(shared_testdata):
    d = shared_testdata / "desync"
    expected = json.loads((d / "chunker.expected.json").read_text())
    return expected, (d / "chunker.input").read_bytes()


def _triples(data: bytes, params: ChunkerParams) -> list[tuple[int, int, str]]:
    return [(s, len(b), hashlib.new("sha512_256", b).hexdigest()) for s, b in chunk_bytes(data, params)]


def test_native_extension_is_built():
    assert chunker.NATIVE, chunker.NATIVE_ERROR


def test_native_reproduces_every_desync_chunk(vectors):
    expected, data = vectors
    params = ChunkerParams(expected["min"], expected["avg"], expected["max"])
    got = _triples(data, params)
    want = [(c["start"], c["size"], c["id"]) for c in expected["chunks"]]
    assert got == want


def test_python_fallback_matches_native(vectors, monkeypatch):
    expected, data = vectors
    params = ChunkerParams(expected["min"], expected["avg"], expected["max"])
    native = _triples(data, params)
    monkeypatch.setattr(chunker, "NATIVE", False)
    assert _triples(data, params) == native


@pytest.mark.parametrize("read_size", [1, 300_000, 1 << 20, 8 << 20])
def test_streaming_is_independent_of_read_size(vectors, read_size):
    expected, data = vectors
    params = ChunkerParams(expected["min"], expected["avg"], expected["max"])
    got = [(s, len(b)) for s, b in iter_chunks(io.BytesIO(data), params, read_size=read_size)]
    assert got == [(c["start"], c["size"]) for c in expected["chunks"]]


def test_discriminator_matches_casync_formula():
    assert chunker.discriminator(65536) == int(65536 / (-1.42888852e-7 * 65536 + 1.33237515))
    if chunker.NATIVE:
        from aria_actors.storage._chunker import lib

        for avg in (64, 4096, 65536, 1 << 20):
            assert lib.aria_chunker_discriminator(avg) == chunker.discriminator(avg)


def test_small_inputs():
    assert chunk_bytes(b"") == []
    assert [len(b) for _, b in chunk_bytes(b"x" * 100)] == [100]
    exact = bytes(range(256)) * 64  # exactly min
    assert [len(b) for _, b in chunk_bytes(exact)] == [16384]


def test_max_size_is_a_hard_cut():
    data = b"\0" * (600 * 1024)  # constant input never hits a boundary
    sizes = [len(b) for _, b in chunk_bytes(data)]
    assert sizes == [262144, 262144, 600 * 1024 - 2 * 262144]


@pytest.mark.parametrize("bad", [(10, 20, 30), (100, 50, 200), (100, 300, 200)])
def test_invalid_params(bad):
    with pytest.raises(InvalidChunkerParams):
        ChunkerParams(*bad)


@pytest.mark.parametrize("native", [True, False])
def test_boundary_exactly_at_min(monkeypatch, native):
    """casync cuts a chunk of exactly min bytes when the window ending at min is a boundary."""
    import random

    params = ChunkerParams(64, 1024, 4096)
    table = chunker._py_table()
    disc = params.discriminator
    rng = random.Random(1)
    for _ in range(1_000_000):
        window = rng.randbytes(48)
        h = 0
        for j, b in enumerate(window):
            h ^= chunker._rotl(table[b], 48 - j - 1)
        if h % disc == disc - 1:
            break
    else:
        pytest.fail("no boundary window found")
    data = bytearray(rng.randbytes(8192))
    data[64 - 48:64] = window
    monkeypatch.setattr(chunker, "NATIVE", native and chunker.NATIVE)
    assert len(chunk_bytes(bytes(data), params)[0][1]) == 64


def test_service_spec_is_honest():
    from aria_actors.storage.service import SPEC

    assert set(SPEC.capabilities) <= set(SPEC.features)
    assert SPEC.depends_on == ("aria_security", "aria_auth", "aria_data")
