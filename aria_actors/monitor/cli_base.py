"""The ``aria monitor`` command group itself, shared by cli.py and the parts' cli_<part>.py (which
add their commands to it), so that none of them imports another."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

app = typer.Typer(help="Metrics, PromQL and alerts of aria_monitor (via the gateway).", no_args_is_help=True)


def _print(table: Any) -> None:
    Console().print(table)
