"""Shared test setup. Fixture modules live in tests/fixtures/ and are loaded here by name."""

from __future__ import annotations

import pathlib

_OTHERS = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (pathlib.Path(__file__).parent / "fixtures").glob("*.py")
    if not p.name.startswith("_") and p.stem != "paths"
)
# paths first: other fixture modules import it.
pytest_plugins = ["tests.fixtures.paths", *_OTHERS]
