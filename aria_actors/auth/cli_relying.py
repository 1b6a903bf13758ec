"""``aria auth ...`` commands of aria_auth's relying part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Aria as an OpenID Connect relying party.", no_args_is_help=True)
