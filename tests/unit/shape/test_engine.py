"""The model engine process: same completions as an in-process generate(), typed errors."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.errors import EngineError  # noqa: E402
from aria_actors.shape.inference.backends.engine import Engine  # noqa: E402
from aria_actors.shape.model import embed, generate  # noqa: E402

PROMPTS = ["Traits: brave.\nDescription:", "Traits: shy, kind.\nDescription:"]


@pytest.fixture
def engine(tiny_model_dir):
    e = Engine(str(tiny_model_dir))
    yield e
    e.close()


async def test_engine_matches_generate_survives_bad_requests_and_stops(engine, tiny) -> None:
    info = engine.start()  # one start per test: each costs a Python + torch start-up
    assert info["pid"] != os.getpid() and info["parameters"] == tiny.num_parameters
    got = await engine.generate(PROMPTS, max_new_tokens=6, seed=11)
    assert got == generate(tiny, PROMPTS, max_new_tokens=6, seed=11)
    assert engine.busy_s > 0
    with pytest.raises(EngineError, match="no_such_option"):
        engine.generate_sync(PROMPTS, no_such_option=1)
    assert engine.generate_sync(PROMPTS, max_new_tokens=6, seed=11) == got
    texts, counts = engine.generate_counted(PROMPTS, max_new_tokens=6, seed=11)
    assert texts == got and all(0 < n <= 6 for n in counts)
    pieces: list[str] = []
    engine.stream(PROMPTS[0], pieces.append, max_new_tokens=6, seed=11)
    assert "".join(pieces) == generate(tiny, PROMPTS[:1], max_new_tokens=6, seed=11)[0] and len(pieces) > 1
    [vec] = engine.embed(["a brave knight"])
    assert vec == pytest.approx(embed(tiny, ["a brave knight"])[0], abs=1e-5)
    with pytest.raises(EngineError, match="unknown engine operation"):
        engine._call({"op": "nope"})
    engine.close()
    assert not engine.alive()
    with pytest.raises(EngineError, match="not running"):
        engine.generate_sync(PROMPTS)


def test_an_unloadable_model_fails_the_start(tmp_path) -> None:
    e = Engine(str(tmp_path / "missing"))
    try:
        with pytest.raises(EngineError, match="cannot load a model"):
            e.start()
    finally:
        e.close()
