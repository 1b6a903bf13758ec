"""The chaos suite's closing summary: lines the tests add, printed by conftest's terminal summary
(so they show under ``-q`` without ``-s``) and written to a file beside the run's temp files."""

from __future__ import annotations

from pathlib import Path

LINES: list[str] = []
FILE: list[Path] = []  # where the summary is also written (set by the fixture)


def say(line: str) -> None:
    """Print now (visible with ``-s``) and keep for the summary at the end."""
    print(line, flush=True)
    LINES.append(line)
    for path in FILE:
        with path.open("a") as f:
            f.write(line + "\n")
