"""``aria auth ...`` commands of aria_auth's peers part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="WebRTC peer grants and TURN REST credentials.", no_args_is_help=True)
