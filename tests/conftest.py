"""Shared test setup. Fixture modules live in tests/fixtures/ and are loaded here by name."""

from __future__ import annotations

import pathlib

_OTHERS = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (pathlib.Path(__file__).parent / "fixtures").glob("*.py")
    if not p.name.startswith("_") and p.stem not in ("paths", "ports")
)
# paths and ports first: other fixture modules import them.
pytest_plugins = ["tests.fixtures.paths", "tests.fixtures.ports", *_OTHERS]
