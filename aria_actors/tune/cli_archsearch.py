"""``aria tune arch ...``: multi-objective architecture searches and their Pareto fronts
(``/v1/tune/arch-searches``, ``/v1/tune/studies/{name}/front``).

    aria tune arch create NAME [--target din] [--space JSON|@file] [--objective gauc --objective parameters]
                          [--sampler tpe|random] [--seed 7] [--budget 20] [--parallelism 1]
    aria tune arch front NAME [--json]
    (run, follow, stop, delete: aria tune study optimize|show|trials|stop|rm NAME)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, sdk_call

app = typer.Typer(help="Architecture search: multi-objective studies and their Pareto fronts (via the gateway).",
                  no_args_is_help=True)
out = Console()


def _json_arg(value: str, what: str) -> Any:
    """A JSON text, ``@file`` or ``-`` (stdin)."""
    try:
        text = sys.stdin.read() if value == "-" else Path(value[1:]).read_text() if value.startswith("@") else value
        return json.loads(text)
    except OSError as exc:
        fail(f"cannot read {value[1:]}: {exc.strerror}", 2)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not JSON: {exc}", 2)


def _line(study: dict[str, Any]) -> str:
    trials = study["trials"]
    return (f"{study['name']}  {study['status']}  {study['objective']}  {trials['total']}/{study['budget']} trials: "
            f"{trials['complete']} complete, {trials['failed']} failed, {trials['running']} running")


@app.command("create")
def create(name: str, target: str = typer.Option("din", "--target", help="What is searched: din."),
           space: str | None = typer.Option(None, "--space", help="The search space: JSON, @file or - (default: "
                                                                  "the target's usual space)."),
           objective: list[str] | None = typer.Option(None, "--objective", help="A metric to optimise (repeat; "
                                                      "default: gauc, parameters and latency_ms)."),
           sampler: str = typer.Option("tpe", "--sampler", help="tpe (multi-objective) or random."),
           seed: int | None = typer.Option(None, "--seed", help="The sampler's seed."),
           budget: int = typer.Option(20, "--budget", help="Trials to run in all."),
           parallelism: int = typer.Option(1, "--parallelism", help="Trials running at once."),
           token: str | None = TokenOpt) -> None:
    """Create an architecture search (then `aria tune study optimize NAME --wait` runs it)."""
    chosen: dict[str, Any] = {"name": sampler} | ({"seed": seed} if seed is not None else {})
    parsed = _json_arg(space, "--space") if space is not None else None
    got = sdk_call(token, lambda aria: aria.tune.create_arch_search(
        name, target, parsed, objectives=objective or None, sampler=chosen, budget=budget, parallelism=parallelism))
    out.print(_line(got))
    out.print("objectives: " + ", ".join(f"{o['name']} ({o['direction']})" for o in got["objectives"]))


@app.command("front")
def front(name: str, as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """The Pareto front: the complete trials no other one beats in every objective."""
    got = sdk_call(token, lambda aria: aria.tune.pareto_front(name))
    if as_json:
        out.print_json(json.dumps(got, default=str))
        return
    names = [o["name"] for o in got["objectives"]]
    goals = ", ".join(f"{o['name']} {o['direction'][:3]}" for o in got["objectives"])
    out.print(f"{got['study']}  {got['status']}  {len(got['front'])} of {got['complete']} complete trials on the "
              f"front ({goals})")
    for t in sorted(got["front"], key=lambda t: t["values"][names[0]]):
        values = "  ".join(f"{n}={t['values'][n]:.6g}" for n in names)
        out.print(f"{t['number']:>5}  {values}  {json.dumps(t['params'])}")
