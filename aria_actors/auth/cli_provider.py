"""``aria auth ...`` commands of aria_auth's provider part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Aria as an OpenID Connect provider.", no_args_is_help=True)
