"""Unit tests run without Ray and without servers: starting Ray here is an error."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    ray = sys.modules.get("ray")
    if ray is not None:
        def _refuse(*_a: object, **_k: object) -> None:
            raise RuntimeError("unit tests must not start Ray; move this test to tests/integration")

        monkeypatch.setattr(ray, "init", _refuse)
