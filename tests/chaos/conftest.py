"""Prints the chaos summary (recovery time per fault, items counted and lost) at the end of the run."""

from __future__ import annotations

from typing import Any

from tests.chaos.report import FILE, LINES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LINES:
        return
    terminalreporter.section("chaos summary")
    for line in LINES:
        terminalreporter.write_line(line)
    if FILE:
        terminalreporter.write_line(f"(also in {FILE[0]})")
