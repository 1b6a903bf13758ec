"""``aria auth ...`` commands of aria_auth's grants part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Per-resource grants and access decisions.", no_args_is_help=True)
