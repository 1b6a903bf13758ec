"""Shared fixtures of aria_shape's unit tests: one tiny model per session, built locally."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """A tiny Qwen3 checkpoint directory built from config (tokenizer trained locally)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny

    return build_tiny(ShapeConfig(pretrain_steps=0), tmp_path_factory.mktemp("shape-model") / "tiny")


@pytest.fixture
def tiny(tiny_model_dir):
    """A fresh copy of the tiny model, loaded from disk the way a real checkpoint is."""
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import load_model

    return load_model(ShapeConfig(model_path=str(tiny_model_dir)))
