"""``aria tune ...``: hyperparameter studies through the running gateway.

Commands reach Aria over HTTP (the SDK's ``aria.tune`` section) with the bearer token in
``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad usage exits 2.

    aria tune objectives
    aria tune study create br --objective branin [--space '{"x1": {...}}' | --space @space.json]
                           [--direction minimize] [--sampler tpe|random] [--seed 7]
                           [--pruner median|none] [--budget 50] [--parallelism 2]
    aria tune study optimize br [--budget 80] [--parallelism 4] [--wait] [--timeout 600]
    aria tune study candidate din-s --version din-v2 [--trial N] [--set epochs=2]
    aria tune study show br | ls | trials br [--state complete] [--limit 20] | stop br | rm br
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, key_values, sdk_call

app = typer.Typer(help="aria_tune: hyperparameter studies run as aria_queue jobs (via the gateway).",
                  no_args_is_help=True)
study_app = typer.Typer(help="Studies: create, optimize, follow, stop, delete.", no_args_is_help=True)
app.add_typer(study_app, name="study")
out = Console()


def _print(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


def _json_arg(value: str, what: str) -> Any:
    """A JSON text, ``@file`` or ``-`` (stdin)."""
    try:
        text = sys.stdin.read() if value == "-" else Path(value[1:]).read_text() if value.startswith("@") else value
    except OSError as exc:
        fail(f"cannot read {value[1:]}: {exc.strerror}", 2)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not JSON: {exc}", 2)


def _line(study: dict[str, Any]) -> str:
    trials = study["trials"]
    best = study.get("best")
    shown = f"best {best['value']:.6g} (trial {best['number']})" if best else "no complete trial"
    return (f"{study['name']}  {study['status']}  {study['objective']} ({study['direction']})  "
            f"{trials['total']}/{study['budget']} trials: {trials['complete']} complete, {trials['pruned']} pruned, "
            f"{trials['failed']} failed, {trials['running']} running  {shown}")


@app.command()
def objectives(token: str | None = TokenOpt) -> None:
    """The objectives a study may name."""
    for o in sdk_call(token, lambda aria: aria.tune.list_objectives()):
        params = ", ".join(o["params"]) if o.get("params") else "any"
        optimum = f", optimum {o['optimum']}" if o.get("optimum") is not None else ""
        out.print(f"{o['name']}  ({params}{optimum})  {o.get('description') or o.get('error') or ''}")


@study_app.command("create")
def create(name: str, objective: str = typer.Option(..., "--objective", help="A registered objective."),
           space: str | None = typer.Option(None, "--space", help="The search space: JSON, @file or - (default: "
                                                                  "the objective's usual space)."),
           direction: str | None = typer.Option(None, "--direction", help="minimize or maximize."),
           sampler: str = typer.Option("tpe", "--sampler", help="tpe or random."),
           seed: int | None = typer.Option(None, "--seed", help="The sampler's seed (reproducible params)."),
           pruner: str = typer.Option("median", "--pruner", help="median, asha (successive halving) or none."),
           budget: int = typer.Option(20, "--budget", help="Trials to run in all."),
           parallelism: int = typer.Option(1, "--parallelism", help="Trials running at once."),
           token: str | None = TokenOpt) -> None:
    """Create a study (then `aria tune study optimize NAME` runs it)."""
    chosen: dict[str, Any] = {"name": sampler}
    if seed is not None:
        chosen["seed"] = seed
    parsed = _json_arg(space, "--space") if space is not None else None
    got = sdk_call(token, lambda aria: aria.tune.create_study(name, objective, parsed, direction=direction,
                                                              sampler=chosen, pruner={"name": pruner},
                                                              budget=budget, parallelism=parallelism))
    out.print(_line(got))


@study_app.command("show")
def show(name: str, token: str | None = TokenOpt) -> None:
    """A study with its trial counts and best trial (JSON)."""
    _print(sdk_call(token, lambda aria: aria.tune.get_study(name)))


@study_app.command("ls")
def ls(limit: int = typer.Option(100, "--limit", min=1, max=1000), token: str | None = TokenOpt) -> None:
    """Studies you may see, newest first."""
    for s in sdk_call(token, lambda aria: aria.tune.list_studies(limit)):
        best = "-" if s["best_value"] is None else f"{s['best_value']:.6g}"
        out.print(f"{s['name']}  {s['status']}  {s['objective']}  {s['trials']}/{s['budget']} trials  "
                  f"{s['running']} running  best {best}")


@study_app.command("trials")
def trials(name: str, state: str | None = typer.Option(None, "--state", help="running, complete, pruned, failed."),
           after: int = typer.Option(0, "--after", min=0), limit: int = typer.Option(1000, "--limit", min=1, max=1000),
           as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """A study's trials in number order."""
    got = sdk_call(token, lambda aria: aria.tune.list_trials(name, state, after, limit))
    if as_json:
        _print(got)
        return
    for t in got["trials"]:
        value = "-" if t["value"] is None else f"{t['value']:.6g}"
        extra = f"  {t['error'][:80]}" if t.get("error") else ""
        out.print(f"{t['number']:>5}  {t['state']:<8}  {value:>12}  {json.dumps(t['params'])}{extra}")


@study_app.command("optimize")
def optimize(name: str, budget: int | None = typer.Option(None, "--budget", help="A new trial budget."),
             parallelism: int | None = typer.Option(None, "--parallelism"),
             wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow until the study stops running."),
             timeout: float = typer.Option(3600.0, "--timeout", help="Seconds --wait follows at most."),
             token: str | None = TokenOpt) -> None:
    """Start or continue a study: trials run as aria_queue jobs, `parallelism` at a time."""
    got = sdk_call(token, lambda aria: aria.tune.optimize(name, budget, parallelism))
    out.print(f"{got['enqueued']} trials enqueued")
    deadline = time.monotonic() + timeout
    while wait and got["status"] == "running":
        if time.monotonic() > deadline:
            fail(f"still running after {timeout:g} s: {_line(got)}")
        time.sleep(1.0)
        got = sdk_call(token, lambda aria: aria.tune.get_study(name))
    out.print(_line(got))


@study_app.command("candidate")
def candidate(name: str, version: str = typer.Option(..., "--version", help="The model version to train (a new id)."),
              trial: int | None = typer.Option(None, "--trial", help="The trial to train (default: the best)."),
              dataset: str | None = typer.Option(None, "--dataset", help="interactions (default) or movielens-100k."),
              settings: list[str] | None = typer.Option(None, "--set", help="A training setting KEY=VALUE "
                                                        "(epochs=2); repeatable."),
              token: str | None = TokenOpt) -> None:
    """Train the study's winner into a model version of its service (the candidate of an A/B test)."""
    got = sdk_call(token, lambda aria: aria.tune.train_candidate(
        name, version, trial=trial, dataset=dataset, config=key_values(settings or [], "--set") or None))
    out.print(f"trial {got['trial']} (value {got['value']}) -> {got['target']} version {got['version']}: "
              f"training job {got['job'].get('job_id')}; then: aria tune ab start ... --candidate {got['version']} "
              f"--study {got['study']}")


@study_app.command("stop")
def stop(name: str, token: str | None = TokenOpt) -> None:
    """Enqueue no more trials (running ones finish and are recorded)."""
    out.print(_line(sdk_call(token, lambda aria: aria.tune.stop_study(name))))


@study_app.command("rm")
def rm(name: str, token: str | None = TokenOpt) -> None:
    """Delete a study and its trials."""
    _print(sdk_call(token, lambda aria: aria.tune.delete_study(name)))


from aria_actors.tune import cli_resources  # noqa: E402

app.add_typer(cli_resources.app, name="resources")


from aria_actors.tune import cli_cacheopt  # noqa: E402

app.add_typer(cli_cacheopt.app, name="caches")


from aria_actors.tune import cli_autotune  # noqa: E402

app.add_typer(cli_autotune.app, name="autotune")


from aria_actors.tune import cli_queryopt  # noqa: E402

app.add_typer(cli_queryopt.app, name="queries")


from aria_actors.tune import cli_archsearch  # noqa: E402

app.add_typer(cli_archsearch.app, name="arch")


from aria_actors.tune import cli_pipeline  # noqa: E402

app.add_typer(cli_pipeline.app, name="pipeline")


from aria_actors.tune import cli_abtest  # noqa: E402

app.add_typer(cli_abtest.app, name="ab")
