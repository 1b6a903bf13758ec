"""``aria auth ...`` commands of aria_auth's passkeys part (added to :mod:`aria_actors.auth.cli`)."""

from __future__ import annotations

import typer

app = typer.Typer(help="WebAuthn passkeys.", no_args_is_help=True)
