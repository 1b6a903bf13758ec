"""The ``aria`` command and the local-cluster code only it needs.

- ``commands``: the typer application (up, down, status, services, restart, env, one group per service).
- ``support``: what every ``aria <service> ...`` group shares (token option, errors, gateway calls).
- ``localcluster``: the local Ray head ``aria up`` starts and ``aria down`` removes.
- ``head``: that head's process (``python -m aria_actors.cli.head``).
- ``operator``: the local operator's bearer token.

Importing the package itself stays light: the head process imports it on the critical path of
``aria up``, so ``main`` and ``app`` load ``commands`` (typer, rich, every command group) on use.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """The console script ``aria``."""
    # lazy: `python -m aria_actors.cli.head` imports this package and must not load every command group
    from aria_actors.cli.commands import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":
        # lazy: as in main(), the typer app is loaded on first use
        from aria_actors.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
