"""``aria workflow ...``: versioned workflows (SOPs), their runs and an operator's controls, through
the running gateway.

Commands reach Aria over HTTP (the SDK's ``aria.workflow`` section) with the bearer token in
``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad usage exits 2. Answers
print as JSON.

    aria workflow validate sop.yaml | publish sop.yaml      (YAML or JSON; - for stdin)
    aria workflow definitions | definition NAME [-v 2] | versions NAME | rollback NAME [--to 1]
    aria workflow catalog                                   (what a document may call)
    aria workflow start NAME [--input '{"x": 1}' | --input @input.json] [--version 2] [--key K] [--wait]
    aria workflow runs [--workflow NAME] [--state dead] | run ID | history ID
    aria workflow signal ID approved [--payload '{"by": "me"}']
    aria workflow pause ID | resume ID | cancel ID [--compensate] | retry ID | skip ID [--output JSON]
    aria workflow migrate ID 2 | edit ID [--add steps.yaml] [--replace steps.yaml]
    aria workflow stats [--workflow NAME] [--since 3600] | metrics

Guarantees and caveats
----------------------
- A document is sent as its text: aria_workflow parses and validates it, so a mistake is named
  with its place (``steps[2].call.args.limit``) exactly as publishing through HTTP would.
- ``start --wait`` polls the run until it is completed, failed, cancelled or dead (dead-lettered:
  it waits for an operator), prints it, and exits 1 unless it completed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, sdk_call

app = typer.Typer(help="aria_workflow: versioned workflows (SOPs) and their runs (via the gateway).",
                  no_args_is_help=True)
out = Console()
ENDED = ("completed", "failed", "cancelled", "dead")  # dead: stopped, waiting for an operator's retry or skip
POLL_S = 1.0


def _print(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


def _text(source: str) -> str:
    """A local file's text, or stdin's for ``-``; bad usage (exit 2) when it cannot be read."""
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}", 2)
    except UnicodeDecodeError:
        fail(f"{source} is not UTF-8 text", 2)


def _json(value: str | None, option: str) -> Any:
    """``--option`` as JSON: inline text, or ``@file`` for a file's content."""
    if value is None:
        return None
    text = _text(value[1:]) if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option} is not JSON: {exc}", 2)


def _steps(source: str | None, option: str) -> list[dict[str, Any]] | None:
    """A YAML or JSON file of step objects (a list, or one step) for ``edit``."""
    if source is None:
        return None
    import yaml  # only edit reads YAML here: documents travel as text and are parsed by the service

    try:
        loaded = yaml.safe_load(_text(source))
    except yaml.YAMLError as exc:
        fail(f"{option} {source} is not YAML or JSON: {exc}", 2)
    steps = [loaded] if isinstance(loaded, dict) else loaded
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        fail(f"{option} {source} must hold a step object or a list of them", 2)
    return steps


# -- definitions ----------------------------------------------------------------------------------
@app.command()
def validate(file: str = typer.Argument(..., help="A YAML or JSON document, or - for stdin."),
             token: str | None = TokenOpt) -> None:
    """Check a document as publish would, storing nothing."""
    document = _text(file)
    _print(sdk_call(token, lambda aria: aria.workflow.validate(document)))


@app.command()
def publish(file: str = typer.Argument(..., help="A YAML or JSON document, or - for stdin."),
            token: str | None = TokenOpt) -> None:
    """Validate a document and store it as the next version of its name, released for new runs."""
    document = _text(file)
    _print(sdk_call(token, lambda aria: aria.workflow.publish(document)))


@app.command()
def definitions(token: str | None = TokenOpt) -> None:
    """Your tenant's documents and the Python workflows, with their released version."""
    for d in sdk_call(token, lambda aria: aria.workflow.definitions()):
        out.print(f"{d['name']}  v{d.get('current')} of {d.get('latest')}  {d.get('kind')}  "
                  f"{d.get('description') or ''}".rstrip(), highlight=False)


@app.command()
def definition(name: str, version: int | None = typer.Option(None, "--version", "-v", min=1,
                                                               help="Default: the released version."),
               token: str | None = TokenOpt) -> None:
    """One version of a definition, with its document (or its code's reference)."""
    _print(sdk_call(token, lambda aria: aria.workflow.definition(name, version)))


@app.command()
def versions(name: str, token: str | None = TokenOpt) -> None:
    """Every version of a workflow, the released one, and its releases (newest first)."""
    _print(sdk_call(token, lambda aria: aria.workflow.versions(name)))


@app.command()
def rollback(name: str, to: int | None = typer.Option(None, "--to", min=1,
                                                      help="The version to release (default: the one before)."),
             token: str | None = TokenOpt) -> None:
    """Release an earlier version for new runs; runs in progress keep theirs."""
    _print(sdk_call(token, lambda aria: aria.workflow.rollback(name, to)))


@app.command()
def catalog(token: str | None = TokenOpt) -> None:
    """What documents may name: services and their methods, queue workers, Python steps."""
    _print(sdk_call(token, lambda aria: aria.workflow.catalog()))


# -- runs -----------------------------------------------------------------------------------------
def _wait(token: str | None, run_id: str) -> dict[str, Any]:
    while True:
        run = sdk_call(token, lambda aria: aria.workflow.run(run_id))
        if run["state"] in ENDED:
            return run
        time.sleep(POLL_S)


@app.command()
def start(name: str,
          input: str | None = typer.Option(None, "--input", help="The input as JSON, or @FILE."),
          version: int | None = typer.Option(None, "--version", min=1, help="Default: the released version."),
          key: str | None = typer.Option(None, "--key", help="Idempotency key: an earlier run with it is answered."),
          wait: bool = typer.Option(False, "--wait", help="Wait for the run to end and print it."),
          token: str | None = TokenOpt) -> None:
    """Start a run of a workflow, acting as you."""
    value = _json(input, "--input")
    started = sdk_call(token, lambda aria: aria.workflow.start_run(name, value, version=version, idempotency_key=key))
    if not wait:
        _print(started)
        return
    out.print(f"run {started['run_id']}: {name} v{started['version']}"
              f"{'' if started.get('created', True) else ' (started earlier with this key)'}", highlight=False)
    run = _wait(token, started["run_id"])
    _print(run)
    if run["state"] != "completed":
        raise typer.Exit(1)


@app.command()
def runs(name: str | None = typer.Option(None, "--workflow", "-w", help="Only runs of this workflow."),
         state: str | None = typer.Option(None, "--state", help="pending, running, waiting, paused, completed, "
                                                                "failed, cancelled or dead."),
         limit: int = typer.Option(50, "--limit", min=1, max=1000), token: str | None = TokenOpt) -> None:
    """Runs you may see, newest first."""
    for r in sdk_call(token, lambda aria: aria.workflow.runs(name, state, limit)):  # type: ignore[arg-type]
        out.print(f"{r['id']}  {r['name']} v{r['version']}  {r['state']:<9}  {r['created_at']}  "
                  f"{r.get('started_by') or ''}".rstrip(), highlight=False)


@app.command()
def run(run_id: str, token: str | None = TokenOpt) -> None:
    """A run: state, input, output or error, version and recorded steps."""
    _print(sdk_call(token, lambda aria: aria.workflow.run(run_id)))


@app.command()
def history(run_id: str, token: str | None = TokenOpt) -> None:
    """A run's timeline: steps, retries, controls and signals, in order."""
    got = sdk_call(token, lambda aria: aria.workflow.history(run_id))
    out.print(f"{got['run_id']}  {got['name']}  {got['state']}", highlight=False)
    for e in got["events"]:
        detail = json.dumps(e.get("detail") or {}, default=str)
        out.print(f"{e['at']}  {e['kind']:<16} {e.get('key') or '':<20} {detail}", highlight=False)


@app.command()
def signal(run_id: str, name: str,
           payload: str | None = typer.Option(None, "--payload", help="The payload as JSON, or @FILE."),
           token: str | None = TokenOpt) -> None:
    """Send a signal to a live run (a step waiting for it receives the payload)."""
    value = _json(payload, "--payload")
    _print(sdk_call(token, lambda aria: aria.workflow.signal(run_id, name, value)))


@app.command()
def pause(run_id: str, token: str | None = TokenOpt) -> None:
    """Pause a run at its next step or wait."""
    _print(sdk_call(token, lambda aria: aria.workflow.pause(run_id)))


@app.command()
def resume(run_id: str, token: str | None = TokenOpt) -> None:
    """Resume a paused run from its records."""
    _print(sdk_call(token, lambda aria: aria.workflow.resume(run_id)))


@app.command()
def cancel(run_id: str, compensate: bool = typer.Option(False, "--compensate",
                                                        help="Undo completed steps first (newest first)."),
           token: str | None = TokenOpt) -> None:
    """Cancel a run."""
    _print(sdk_call(token, lambda aria: aria.workflow.cancel(run_id, compensate)))


@app.command()
def retry(run_id: str, token: str | None = TokenOpt) -> None:
    """Run a dead-lettered run again: its failed steps run again."""
    _print(sdk_call(token, lambda aria: aria.workflow.retry(run_id)))


@app.command()
def skip(run_id: str, output: str | None = typer.Option(None, "--output",
                                                        help="The failed step's stand-in output: JSON, or @FILE."),
         token: str | None = TokenOpt) -> None:
    """Mark a dead run's failed step done (with --output) and go on."""
    value = _json(output, "--output")
    _print(sdk_call(token, lambda aria: aria.workflow.skip(run_id, value)))


@app.command()
def migrate(run_id: str, version: int = typer.Argument(..., min=1), token: str | None = TokenOpt) -> None:
    """Move a waiting, paused or dead run to another version of its workflow."""
    _print(sdk_call(token, lambda aria: aria.workflow.migrate(run_id, version)))


@app.command()
def edit(run_id: str, add: str | None = typer.Option(None, "--add", help="A YAML/JSON file of steps to add."),
         replace: str | None = typer.Option(None, "--replace", help="A YAML/JSON file of steps replacing pending "
                                                                     "ones (matched by id)."),
         token: str | None = TokenOpt) -> None:
    """Add or replace steps of a paused or dead document run (this run only)."""
    if add is None and replace is None:
        fail("give --add or --replace", 2)
    added, replaced = _steps(add, "--add"), _steps(replace, "--replace")
    _print(sdk_call(token, lambda aria: aria.workflow.edit(run_id, add=added, replace=replaced)))


# -- analytics --------------------------------------------------------------------------------------
@app.command()
def stats(name: str | None = typer.Option(None, "--workflow", "-w", help="Only runs of this workflow."),
          since: float = typer.Option(86400.0, "--since", min=1, help="Seconds back (default: a day)."),
          token: str | None = TokenOpt) -> None:
    """Runs by state, durations and failure rate per workflow; counts, retries, durations per step."""
    _print(sdk_call(token, lambda aria: aria.workflow.stats(name, since)))


@app.command()
def metrics(token: str | None = TokenOpt) -> None:
    """aria_workflow's Prometheus metrics."""
    sys.stdout.write(sdk_call(token, lambda aria: aria.workflow.metrics()).decode())
