"""``aria shape ...``: characters, training and model versions through the running gateway.

Commands reach Aria over HTTP (``AriaSettings().gateway_url`` + ``/v1/shape``) with the bearer
token in ``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad usage exits 2.

    aria shape generate fantasy [--name Ada] [--seed 3] [--save]
    aria shape train v2 [--steps 20] [--set learning_rate=0.01]
    aria shape models
    aria shape promote v2
"""

from __future__ import annotations

import json
from typing import Any

import typer

from aria_actors.runtime.cli_support import TokenOpt, gateway_call

app = typer.Typer(
    help="Characters, GRPO training and model versions of aria_shape (via the gateway).", no_args_is_help=True
)


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@app.command()
def generate(
    template: str,
    name: str = typer.Option("", help="Name of the character."),
    seed: int | None = typer.Option(None, min=0, help="Seed for a reproducible character."),
    save: bool = typer.Option(False, help="Store it as a versioned character."),
    token: str | None = TokenOpt,
) -> None:
    """Generate a character of TEMPLATE (constraints always satisfied) and print it as JSON."""
    if save:
        out = gateway_call(  # the first generation may wait for the model to load
            token, "POST", "/v1/shape/characters", timeout=150,
            json={"template": template, "name": name, "seed": seed},
        )
    else:
        out = gateway_call(
            token, "POST", "/v1/shape/characters/generate", timeout=150,
            json={"template": template, "name": name, "seed": seed},
        )
        out.pop("embedding", None)
        out.pop("portrait_svg", None)
    typer.echo(json.dumps(out, indent=2, sort_keys=True))


@app.command()
def train(
    version: str,
    steps: int = typer.Option(20, min=1),
    prompts_per_step: int = typer.Option(4, min=1),
    set_: list[str] = typer.Option([], "--set", help="GRPO setting KEY=VALUE (repeatable)."),
    seed: int = typer.Option(0, min=0),
    token: str | None = TokenOpt,
) -> None:
    """Run GRPO on the served model and register the result as model VERSION."""
    out = gateway_call(
        token,
        "POST",
        "/v1/shape/train",
        timeout=3600,
        json={
            "version": version,
            "steps": steps,
            "prompts_per_step": prompts_per_step,
            "settings": _parse_settings(set_),
            "seed": seed,
        },
    )
    m = out["metrics"]
    typer.echo(
        f"{out['id']}: held-out reward {m['held_out_reward_before']:.3f} -> "
        f"{m['held_out_reward_after']:.3f} after {m['steps']} steps ({out['path']})"
    )


@app.command()
def models(token: str | None = TokenOpt) -> None:
    """List model versions with their parent and metrics."""
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "parent", "reward after", "path")
    for m in gateway_call(token, "GET", "/v1/shape/models"):
        after = m["metrics"].get("held_out_reward_after")
        table.add_row(m["id"], m["parent"] or "-", "-" if after is None else f"{after:.3f}", m["path"])
    Console().print(table)


@app.command()
def promote(
    version: str | None = typer.Argument(None, help="Version to serve; default the A/B leader."),
    token: str | None = TokenOpt,
) -> None:
    """Serve VERSION for all traffic (ends a running A/B test)."""
    out = gateway_call(token, "POST", "/v1/shape/promote", json={"version": version})
    typer.echo(f"serving {out['promoted']}")
