"""``aria engine ...``: plan over the running gateway, or in-process with ``--local``.

    aria engine domains [--local]
    aria engine describe DOMAIN [--local]
    aria engine plan DOMAIN (--problem ID | --state FILE --tasks FILE) [--strategy dfs|greedy]
                     [--max-nodes N] [--max-seconds S] [--cheapest] [--local]

FILEs are JSON in the wire format of ``aria_actors.engine.wire`` (a state object; a todo list).
Errors print one red line and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
from rich.console import Console

from aria_actors.cli.support import fail, gateway_call
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import load_settings

app = typer.Typer(help="aria_engine: HTN/GOAP planning over registered domains.", no_args_is_help=True)
out = Console()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        fail(f"cannot read {what} file {path}: {exc.strerror}", 2)
    except json.JSONDecodeError as exc:
        fail(f"{what} file {path} is not JSON: {exc}", 2)


def _local(use: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """``use(service, caller)`` on an in-process engine, as the local operator (who runs it)."""
    # light: every `aria` command imports this module; the engine loads only for --local
    from aria_actors.engine.service import EngineService

    async def run() -> Any:
        svc = EngineService(load_settings())
        await svc.start(Deps())
        try:
            return await use(svc, Principal.operator())
        finally:
            await svc.stop()

    try:
        return asyncio.run(run())
    except AriaError as exc:
        fail(exc.message)


def _remote(verb: str, path: str, body: Any = None) -> Any:
    return gateway_call(None, verb, path, json=body, timeout=120)


@app.command()
def domains(local: bool = typer.Option(False, "--local", help="Plan in this process, not via the gateway.")
            ) -> None:
    """List the registered planning domains."""
    rows = _local(lambda svc, me: svc.list_domains(me)) if local else _remote("GET", "/v1/engine/domains")
    for row in rows:
        out.print(f"{row['name']}  [dim]{row['spec']}[/dim]")


@app.command()
def plan(
    domain: str = typer.Argument(..., help="A registered domain name (see `aria engine domains`)."),
    state: Path | None = typer.Option(None, "--state", help="JSON state file."),
    tasks: Path | None = typer.Option(None, "--tasks", help="JSON todo-list file."),
    problem: str | None = typer.Option(None, "--problem", help="A named problem of the domain."),
    strategy: str = typer.Option("dfs", "--strategy", help="dfs (backtracking) or greedy."),
    max_nodes: int | None = typer.Option(None, "--max-nodes", min=1),
    max_seconds: float | None = typer.Option(None, "--max-seconds", min=0.001),
    cheapest: bool = typer.Option(False, "--cheapest", help="Branch and bound for the cheapest plan."),
    local: bool = typer.Option(False, "--local", help="Plan in this process, not via the gateway."),
) -> None:
    """Plan a todo list (or a named problem) in a registered domain and print the plan."""
    if strategy not in ("dfs", "greedy"):
        fail(f"--strategy must be dfs or greedy, not {strategy!r}", 2)
    if problem is None and (state is None or tasks is None):
        fail("give --problem, or both --state and --tasks", 2)
    body: dict[str, Any] = {"domain": domain, "strategy": strategy, "max_nodes": max_nodes,
                            "max_seconds": max_seconds, "optimise_cost": cheapest}
    if problem is not None:
        body["problem"] = problem
    else:
        assert state is not None and tasks is not None
        body["state"] = _read_json(state, "state")
        body["todo"] = _read_json(tasks, "tasks")
    result = _local(lambda svc, me: svc.plan(me, body)) if local else _remote("POST", "/v1/engine/plan", body)
    if result["status"] != "found":
        fail(f"{result['status']}: {result['message']}")
    for i, step in enumerate(result["plan"], 1):
        out.print(f"{i:4d}  {step[0]}({', '.join(map(str, step[1:]))})", highlight=False)
    cost = f", cost {result['cost']:g}" if result.get("cost") is not None else ""
    out.print(f"[dim]{len(result['plan'])} steps, {result['nodes']} nodes, "
              f"{result['elapsed_s'] * 1000:.1f} ms{cost}[/dim]")


@app.command()
def describe(
    name: str = typer.Argument(..., help="A registered domain name."),
    local: bool = typer.Option(False, "--local", help="Read it in this process, not via the gateway."),
) -> None:
    """Print a domain's actions, tasks and their methods, goals and derived predicates (JSON)."""
    info = _local(lambda svc, me: svc.describe_domain(me, name)) if local \
        else _remote("GET", f"/v1/engine/domains/{quote(name, safe='')}")
    out.print_json(data=info)
