"""``aria tune pipeline ...``: measured training runs of DIN and the proposed settings
(``/v1/tune/pipeline-studies``, ``/v1/tune/studies/{name}/pipeline-proposal``).

    aria tune pipeline create NAME [--target din] [--space JSON] [--tolerance 0.01] [--seed 3] [--budget 8]
    aria tune pipeline proposal NAME [--json]
    (run, follow, stop, delete: aria tune study optimize|show|trials|stop|rm NAME)
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, sdk_call

app = typer.Typer(help="Training pipeline optimisation: measured runs and proposed settings (via the gateway).",
                  no_args_is_help=True)
out = Console()


@app.command("create")
def create(name: str, target: str = typer.Option("din", "--target", help="Whose training: din."),
           space: str | None = typer.Option(None, "--space", help="The settings' space as JSON (default: batch "
                                                                  "size, threads 1-2, fp32|bf16)."),
           tolerance: float = typer.Option(0.01, "--tolerance", help="Validation GAUC a proposal may lose."),
           sampler: str = typer.Option("tpe", "--sampler", help="tpe or random."),
           seed: int | None = typer.Option(None, "--seed"),
           budget: int = typer.Option(8, "--budget", help="Runs to measure."),
           parallelism: int = typer.Option(1, "--parallelism"), token: str | None = TokenOpt) -> None:
    """Create a pipeline study (then `aria tune study optimize NAME --wait` measures its runs)."""
    try:
        parsed = json.loads(space) if space is not None else None
    except json.JSONDecodeError as exc:
        fail(f"--space is not JSON: {exc}", 2)
    chosen: dict[str, Any] = {"name": sampler} | ({"seed": seed} if seed is not None else {})
    got = sdk_call(token, lambda aria: aria.tune.create_pipeline_study(
        name, target, parsed, tolerance=tolerance, sampler=chosen, budget=budget, parallelism=parallelism))
    out.print(f"{got['name']}  {got['status']}  {got['objective']}  budget {got['budget']}  tolerance {tolerance}")


@app.command("proposal")
def proposal(name: str, as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """The fastest measured settings within the tolerance, against the defaults' run."""
    got = sdk_call(token, lambda aria: aria.tune.pipeline_proposal(name))
    if as_json:
        out.print_json(json.dumps(got, default=str))
        return
    chosen = got["proposal"]
    if chosen is None:
        out.print(f"{got['study']}  {got['status']}  no complete run yet")
        return
    speed = f"  {got['speedup']:.2f}x the defaults' run" if got.get("speedup") else ""
    out.print(f"{got['study']}  {got['status']}  proposal: {json.dumps(chosen['params'])}  "
              f"{chosen['samples_per_s']:.0f} samples/s, gauc {chosen['gauc']:.4f}{speed}")
    for r in got["runs"]:
        out.print(f"{r['number']:>5}  {r['samples_per_s']:>10.0f}/s  gauc {r['gauc']:.4f}  {json.dumps(r['params'])}")
