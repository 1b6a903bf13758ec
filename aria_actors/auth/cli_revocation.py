"""``aria auth ...`` commands of aria_auth's revocation part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Endpoint protection: revoked sessions, throttles, denials.", no_args_is_help=True)
