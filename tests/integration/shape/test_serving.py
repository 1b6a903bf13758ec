"""The Ray Serve inference deployment batches concurrent requests."""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.config import ShapeConfig  # noqa: E402
from aria_actors.shape.model import build_tiny  # noqa: E402


@pytest.fixture(scope="module")
def served(ray_session, tmp_path_factory):
    from ray import serve

    from aria_actors.shape.inference.backends.deployment import deploy

    path = str(build_tiny(ShapeConfig(pretrain_steps=0), tmp_path_factory.mktemp("shape-serve") / "m"))
    handle = deploy(path, name="shape_test_inference", max_new_tokens=6, max_batch_size=8,
                    batch_wait_timeout_s=0.2, version="v-test")
    yield handle
    serve.delete("shape_test_inference")


def test_concurrent_requests_are_batched(served) -> None:
    async def burst() -> tuple[list[dict[str, str]], dict]:
        answers = await asyncio.gather(*[served.complete.remote(f"Traits: {t}.\nDescription:")
                                         for t in ("brave", "kind", "shy", "wise", "calm", "cruel")])
        # Same loop: in Serve's throughput mode (SERVE_ENV) a handle routes on the loop that first
        # used it, so it cannot outlive that loop.
        return answers, await served.stats.remote()

    answers, stats = asyncio.run(burst())
    assert len(answers) == 6 and all(a["version"] == "v-test" for a in answers)
    assert all(isinstance(a["text"], str) for a in answers)
    assert stats["requests"] == 6
    assert stats["max_batch"] > 1  # several requests shared one sampling call
    assert stats["engine"] == "process" and stats["model_s"] > 0
