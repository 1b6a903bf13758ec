"""``aria debugger console|reload|graph``: the debug console, hot reload and the dependency graph.

    aria debugger console SERVICE [--command SRC]   a Python prompt in that service's process
                                                    (admin; ``[debugger] console_enabled``)
    aria debugger reload SERVICE                    restart it on its code from disk (admin)
    aria debugger graph [--svg FILE]                every service, its status and pid, and its
                                                    dependencies' state; the SVG to FILE

The console reads lines (``>>>``, ``...`` while the input is incomplete) until end of input or
``exit()``-like words (``:quit``); each line goes through the gateway, audited. ``--command``
runs one block and exits 1 when it raised. The session is closed on the way out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.debugger.cli import app
from aria_actors.runtime.console import AUDITED_SOURCE

QUIT = frozenset({":quit", ":q", "quit()", "exit()"})
CALL_TIMEOUT_S = 180.0  # a console command may run up to console_timeout_s (75 s at most)


def _show(got: dict[str, Any]) -> bool:
    """Print a command's answer; whether it ended in an error."""
    if got.get("stdout"):
        typer.echo(got["stdout"], nl=False)
    if got.get("stderr"):
        typer.echo(got["stderr"], nl=False, err=True)
    if got.get("result") is not None:
        typer.echo(got["result"])
    if got.get("error"):
        typer.secho(got["error"].rstrip("\n"), fg="red", err=True)
    if got.get("truncated"):
        typer.secho("(output truncated)", fg="yellow", err=True)
    return bool(got.get("error"))


@app.command("console")
def console(service: str = typer.Argument(..., help="A service, e.g. aria_tune."),
            command: str | None = typer.Option(None, "--command", "-c", help="Run this source and exit."),
            as_json: bool = typer.Option(False, "--json", help="Print the gateway's JSON answers."),
            token: str | None = TokenOpt) -> None:
    """A Python console in a service's process (administrators; audited; off unless enabled)."""
    opened = sdk_call(token, lambda aria: aria.debugger.console_open(service), timeout=60)
    sid = opened["session"]
    try:
        failed = sdk_call(token, lambda aria: _once(aria, sid, command, as_json) if command is not None
                          else _loop(aria, sid, opened, as_json), timeout=CALL_TIMEOUT_S)
    finally:
        sdk_call(token, lambda aria: aria.debugger.console_close(sid), timeout=60)
    if failed:
        raise typer.Exit(1)


def _once(aria: Any, sid: str, command: str, as_json: bool) -> bool:
    """Run one block; whether it ended in an error. A block longer than one audited command
    (AUDITED_SOURCE) goes line by line, as typed at the prompt."""
    if len(command.replace("\n", " ⏎ ")) <= AUDITED_SOURCE:
        got = aria.debugger.console_run(sid, command)
    else:
        for line in command.splitlines():
            got = aria.debugger.console_run(sid, line)
            if got.get("error"):
                break
    if got.get("incomplete"):  # a block needs its closing empty line
        got = aria.debugger.console_run(sid, "")
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return bool(got.get("error"))
    return _show(got)


def _loop(aria: Any, sid: str, opened: dict[str, Any], as_json: bool) -> bool:
    """Read lines until end of input or a quit word, each sent as it comes."""
    typer.secho(f"{opened['service']} (pid {opened['pid']}): names {', '.join(opened['names'])}; "
                f":quit or end of input leaves", fg="cyan", err=True)
    prompt = ">>> "
    while True:
        try:
            line = input(prompt)
        except EOFError:
            return False
        if prompt == ">>> " and line.strip() in QUIT:
            return False
        got = aria.debugger.console_run(sid, line)
        prompt = "... " if got.get("incomplete") else ">>> "
        if as_json:
            typer.echo(json.dumps(got))
        else:
            _show(got)


@app.command("reload")
def reload(service: str = typer.Argument(..., help="A service, e.g. aria_tune."),
           as_json: bool = typer.Option(False, "--json", help="Print the gateway's JSON answer."),
           token: str | None = TokenOpt) -> None:
    """Restart one service on its code from disk, the others untouched (administrators)."""
    got = sdk_call(token, lambda aria: aria.debugger.reload(service), timeout=120)
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    changed = {True: "code changed", False: "same code", None: "code digest unknown"}[got["code_changed"]]
    typer.echo(f"{got['service']}: pid {got['old_pid']} -> {got['new_pid']}, {got['status']} after "
               f"{got['seconds']:.1f} s; {changed} ({(got['new_code'] or '?')[:12]})")
    if not got["up"]:
        raise typer.Exit(1)


@app.command("graph")
def graph(svg: Path | None = typer.Option(None, "--svg", help="Write the graph as SVG to this file."),
          as_json: bool = typer.Option(False, "--json", help="Print the gateway's JSON answer."),
          token: str | None = TokenOpt) -> None:
    """Every service with its status, pid and node, and the state of its dependencies."""
    got = sdk_call(token, lambda aria: aria.debugger.graph())
    if svg is not None:
        svg.write_text(got["svg"])
        typer.echo(f"wrote {svg}", err=True)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in got.items() if k != "svg"}, indent=2))
        return
    table = Table("layer", "service", "status", "pid", "depends on (down in red)")
    for n in got["nodes"]:
        down = {e["to"] for e in got["edges"] if e["from"] == n["name"] and e["state"] != "up"}
        deps = ", ".join(f"[red]{d}[/red]" if d in down else d for d in n["depends_on"])
        table.add_row(str(n["layer"]), n["name"], n["status"], str(n["pid"] or ""), deps)
    Console().print(table)
