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


# -- decision state: aria engine decision show|set|advance|beliefs|fail|replan|history|list ---------
decision_app = typer.Typer(help="Characters' stored decision state: plan, current step, beliefs.",
                           no_args_is_help=True)
app.add_typer(decision_app, name="decision")


def _print_decision(d: dict[str, Any]) -> None:
    version = f"v{d['version']}"
    out.print(f"[bold]{d['character']}[/bold]  {d['status']}  step {d['step']}/{d['steps']}  "
              f"[dim]{d['domain']} {version}[/dim]", highlight=False)
    if d.get("reason"):
        out.print(f"  [red]{d['reason']}[/red]", highlight=False)
    for i, step in enumerate(d["plan"]):
        mark = "->" if i == d["step"] and d["status"] == "executing" else "  "
        done = "[dim]" if i < d["step"] else ""
        out.print(f"{mark}{i + 1:4d}  {done}{step[0]}({', '.join(map(str, step[1:]))})", highlight=False)


@decision_app.command("show")
def decision_show(
    character: str = typer.Argument(..., help="The character's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole state (beliefs too) as JSON."),
    history: bool = typer.Option(False, "--history", help="Also print its newest events."),
) -> None:
    """Print a character's plan, current step and status."""
    d = _remote("GET", f"/v1/engine/characters/{quote(character, safe='')}/decision")
    if as_json:
        out.print_json(data=d)
    else:
        _print_decision(d)
    if history:
        for e in _remote("GET", f"/v1/engine/characters/{quote(character, safe='')}/decision/history"):
            out.print(f"  [dim]{e['at']}  v{e['version']}  {e['event']}  step {e['step']}  {e['status']}[/dim]",
                      highlight=False)


@decision_app.command("set")
def decision_set(
    character: str = typer.Argument(..., help="The character's id."),
    domain: str = typer.Argument(..., help="A registered domain name."),
    state: Path | None = typer.Option(None, "--state", help="JSON state file (the character's beliefs)."),
    tasks: Path | None = typer.Option(None, "--tasks", help="JSON todo-list file."),
    problem: str | None = typer.Option(None, "--problem", help="A named problem of the domain."),
    plan_file: Path | None = typer.Option(None, "--plan", help="A JSON plan to store as it is (with --state)."),
    version: int | None = typer.Option(None, "--version", min=0, help="The version this replaces."),
) -> None:
    """Plan for a character and store the plan (or store a given --plan), from step 0."""
    body: dict[str, Any] = {"domain": domain}
    if plan_file is not None:
        if state is None or problem is not None:
            fail("--plan goes with --state (the beliefs), not --problem", 2)
        assert state is not None
        body.update(plan=_read_json(plan_file, "plan"), beliefs=_read_json(state, "state"))
        if tasks is not None:
            body["todo"] = _read_json(tasks, "tasks")
    elif problem is not None:
        body["problem"] = problem
    elif state is not None and tasks is not None:
        body.update(state=_read_json(state, "state"), todo=_read_json(tasks, "tasks"))
    else:
        fail("give --problem, both --state and --tasks, or --plan and --state", 2)
    if version is not None:
        body["version"] = version
    _print_decision(_remote("PUT", f"/v1/engine/characters/{quote(character, safe='')}/decision", body))


@decision_app.command("advance")
def decision_advance(
    character: str = typer.Argument(..., help="The character's id."),
    version: int = typer.Option(..., "--version", min=0, help="The version the step was done in."),
    beliefs: Path | None = typer.Option(None, "--beliefs", help="JSON state file: what it observed."),
    no_simulate: bool = typer.Option(False, "--no-simulate", help="Keep the beliefs as they are."),
) -> None:
    """The character did its current step: move to the next one (done after the last)."""
    body: dict[str, Any] = {"version": version, "simulate": not no_simulate}
    if beliefs is not None:
        body["beliefs"] = _read_json(beliefs, "beliefs")
    _print_decision(_remote("POST", f"/v1/engine/characters/{quote(character, safe='')}/decision/advance", body))


@decision_app.command("beliefs")
def decision_beliefs(
    character: str = typer.Argument(..., help="The character's id."),
    patch: Path = typer.Argument(..., help='JSON file {"vars": {"var": {"key": value}}}.'),
    replace: bool = typer.Option(False, "--replace", help="Replace the whole beliefs."),
    version: int | None = typer.Option(None, "--version", min=0),
) -> None:
    """Change what a character believes (merged one level deep; null removes a key)."""
    body = _read_json(patch, "beliefs")
    if not isinstance(body, dict):
        fail("the beliefs file holds an object {\"vars\": {...}}", 2)
    body = {"vars": body.get("vars", {}), "replace": replace, "version": version}
    who = quote(character, safe="")
    out.print_json(data=_remote("PATCH", f"/v1/engine/characters/{who}/decision/beliefs", body)["beliefs"])


@decision_app.command("fail")
def decision_fail(
    character: str = typer.Argument(..., help="The character's id."),
    reason: str = typer.Argument(..., help="Why the plan failed."),
    version: int | None = typer.Option(None, "--version", min=0),
) -> None:
    """Mark a character's plan failed."""
    who = quote(character, safe="")
    _print_decision(_remote("POST", f"/v1/engine/characters/{who}/decision/fail",
                            {"reason": reason, "version": version}))


@decision_app.command("replan")
def decision_replan(
    character: str = typer.Argument(..., help="The character's id."),
    tasks: Path | None = typer.Option(None, "--tasks", help="A new JSON todo list (default: the stored one)."),
    version: int | None = typer.Option(None, "--version", min=0),
) -> None:
    """Plan again from the character's current beliefs."""
    body: dict[str, Any] = {"version": version}
    if tasks is not None:
        body["todo"] = _read_json(tasks, "tasks")
    _print_decision(_remote("POST", f"/v1/engine/characters/{quote(character, safe='')}/decision/replan", body))


@decision_app.command("list")
def decision_list(
    status: str | None = typer.Option(None, "--status", help="planning, executing, done or failed."),
    after: str | None = typer.Option(None, "--after", help="Start after this character (paging)."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
) -> None:
    """List characters' decision states, a page at a time."""
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {}),
                              **({"after": after} if after else {})}
    page = gateway_call(None, "GET", "/v1/engine/decisions", params=params, timeout=120)
    for d in page["items"]:
        out.print(f"{d['character']}  {d['status']}  step {d['step']}/{d['steps']}  "
                  f"[dim]{d['domain']} v{d['version']}[/dim]", highlight=False)
    if page["next"]:
        out.print(f"[dim]more: --after {page['next']}[/dim]", highlight=False)


# -- GOAP, behavior trees, coordination, repair, learning ----------------------------------------
# Requests are JSON files (the shapes of aria_actors.engine.features); the engine plans in its own
# domains, so these send data only.
def _budgets(body: dict[str, Any], max_nodes: int | None, max_seconds: float | None) -> dict[str, Any]:
    return {**body, **{k: v for k, v in (("max_nodes", max_nodes), ("max_seconds", max_seconds)) if v is not None}}


def _object(path: Path, what: str) -> dict[str, Any]:
    doc = _read_json(path, what)
    if not isinstance(doc, dict):
        fail(f"{what} file {path} must hold a JSON object", 2)
    return doc


def _print_steps(steps: list[Any], mark: set[int] | None = None) -> None:
    for i, step in enumerate(steps):
        flag = "*" if mark and i in mark else " "
        out.print(f"{flag}{i + 1:4d}  {step[0]}({', '.join(map(str, step[1:]))})", highlight=False)


MaxNodes = typer.Option(None, "--max-nodes", min=1, help="Node budget (capped by the server's).")
MaxSeconds = typer.Option(None, "--max-seconds", min=0.001, help="Time budget (capped by the server's).")
Local = typer.Option(False, "--local", help="Run in this process, not via the gateway.")


@app.command()
def goap(
    problem: Path = typer.Argument(..., help='JSON {"state", "goal": {var: {key: value}}, "actions": [...]}.'),
    max_nodes: int | None = MaxNodes,
    max_seconds: float | None = MaxSeconds,
    local: bool = Local,
) -> None:
    """Find a cheapest GOAP plan over declarative actions (name, preconditions, effects, cost)."""
    body = _budgets(_object(problem, "GOAP problem"), max_nodes, max_seconds)
    result = _local(lambda svc, me: svc.goap(me, body)) if local else _remote("POST", "/v1/engine/goap", body)
    if result["status"] != "found":
        fail(f"{result['status']}: no GOAP plan reaches the goal ({result['nodes']} nodes searched)")
    for i, name in enumerate(result["plan"], 1):
        out.print(f"{i:4d}  {name}", highlight=False)
    out.print(f"[dim]{len(result['plan'])} actions, cost {result['cost']:g}, {result['nodes']} nodes[/dim]")


@app.command("bt")
def run_tree(
    domain: str = typer.Argument(..., help="A registered domain name (its actions and tasks are the leaves)."),
    tree: Path = typer.Argument(..., help='JSON behavior tree, e.g. {"sequence": [{"task": [...]}]}.'),
    state: Path = typer.Option(..., "--state", help="JSON state file."),
    fail_file: Path | None = typer.Option(None, "--fail", help="JSON list of steps the world refuses."),
    max_ticks: int | None = typer.Option(None, "--max-ticks", min=1, max=10_000),
    max_nodes: int | None = MaxNodes,
    max_seconds: float | None = MaxSeconds,
    local: bool = Local,
) -> None:
    """Run a behavior tree over a state: tasks are planned, executed and repaired when a step fails."""
    body = _budgets({"domain": domain, "tree": _read_json(tree, "tree"), "state": _read_json(state, "state"),
                     "fail": _read_json(fail_file, "fail") if fail_file else [], "max_ticks": max_ticks},
                    max_nodes, max_seconds)
    body = {k: v for k, v in body.items() if v is not None}
    result = _local(lambda svc, me: svc.run_tree(me, body)) if local else _remote("POST", "/v1/engine/bt/run", body)
    _print_steps(result["executed"])
    line = f"{result['status']}: {result['message']} ({len(result['executed'])} steps, {result['repairs']} repairs)"
    if result["status"] != "success":
        fail(line)
    out.print(f"[dim]{line}[/dim]", highlight=False)


@app.command()
def coordinate(
    request: Path = typer.Argument(..., help='JSON {"characters": [{"character", "domain", "state", "todo", '
                                             '"priority"}], "resources": {action: [arg index]}, ...}.'),
    max_nodes: int | None = MaxNodes,
    max_seconds: float | None = MaxSeconds,
    local: bool = Local,
) -> None:
    """Plan several characters sharing resources: the higher priority keeps a contested resource and
    the loser is replanned around it, or waits."""
    body = _budgets(_object(request, "coordination request"), max_nodes, max_seconds)
    result = _local(lambda svc, me: svc.coordinate(me, body)) if local \
        else _remote("POST", "/v1/engine/coordinate", body)
    for s in result["schedules"]:
        how = [f"delay {s['delay']}"] + (["replanned"] if s["replanned"] else []) + (
            [f"lost to {', '.join(s['lost_to'])}"] if s["lost_to"] else [])
        out.print(f"[bold]{s['character']}[/bold] (priority {s['priority']}): {s['status']}, "
                  f"{', '.join(how)}", highlight=False)
        _print_steps(s["plan"] or [])
    out.print(f"[dim]{result['reserved']} (step, resource) pairs reserved[/dim]")
    if any(s["status"] != "scheduled" for s in result["schedules"]):
        fail("some characters could not be scheduled")


@app.command()
def repair(
    domain: str = typer.Argument(..., help="A registered domain name."),
    state: Path = typer.Option(..., "--state", help="JSON state the plan was made from."),
    tasks: Path = typer.Option(..., "--tasks", help="JSON todo list the plan was made for."),
    plan_file: Path = typer.Option(..., "--plan", help="JSON plan (as `aria engine plan` finds it)."),
    failed: int = typer.Option(..., "--failed", min=0, help="Index (from 0) of the step that failed."),
    observed: Path | None = typer.Option(None, "--observed", help="JSON state when it failed."),
    strategy: str = typer.Option("dfs", "--strategy", help="The strategy the plan was found with."),
    max_nodes: int | None = MaxNodes,
    max_seconds: float | None = MaxSeconds,
    local: bool = Local,
) -> None:
    """Repair a plan whose step failed: only the steps below the failed node change (marked *)."""
    if strategy not in ("dfs", "greedy"):
        fail(f"--strategy must be dfs or greedy, not {strategy!r}", 2)
    body = _budgets({"domain": domain, "state": _read_json(state, "state"), "todo": _read_json(tasks, "tasks"),
                     "plan": _read_json(plan_file, "plan"), "failed": failed, "strategy": strategy},
                    max_nodes, max_seconds)
    if observed is not None:
        body["observed"] = _read_json(observed, "observed state")
    result = _local(lambda svc, me: svc.repair(me, body)) if local else _remote("POST", "/v1/engine/repair", body)
    if result["status"] != "repaired":
        fail(f"no repair of step {failed} {result['failed_step']} exists below any node")
    _print_steps(result["plan"], set(result["changed"]))
    node = result["node"]
    out.print(f"[dim]re-refined {node['kind']} {node['item']}[/dim]" if node
              else "[dim]re-planned the remaining todo items[/dim]", highlight=False)


@app.command()
def learn(
    domain: str | None = typer.Argument(None, help="A registered domain name."),
    state: Path | None = typer.Option(None, "--state", help="JSON state file."),
    tasks: Path | None = typer.Option(None, "--tasks", help="JSON todo-list file."),
    problem: str | None = typer.Option(None, "--problem", help="A named problem of the domain."),
    stats: bool = typer.Option(False, "--stats", help="Print the learned caches' entries and hits."),
    clear: bool = typer.Option(False, "--clear", help="Forget the learned method choices (DOMAIN's, or all)."),
    max_nodes: int | None = MaxNodes,
    max_seconds: float | None = MaxSeconds,
) -> None:
    """Plan with the running engine's learned method choices (and learn from the plan), or read or
    clear what it learned. The caches live in the engine, so this always goes through the gateway."""
    if stats or clear:
        if stats and clear:
            fail("give --stats or --clear, not both", 2)
        params = {"domain": domain} if domain else None
        if clear:
            cleared = gateway_call(None, "DELETE", "/v1/engine/learn", params=params)["cleared"]
            out.print(f"cleared: {', '.join(cleared) or 'nothing'}")
            return
        for name, c in gateway_call(None, "GET", "/v1/engine/learn/stats", params=params)["domains"].items():
            out.print(f"{name}  {c['entries']} entries, {c['hits']}/{c['lookups']} lookups hit", highlight=False)
        return
    if domain is None:
        fail("give DOMAIN (or --stats / --clear)", 2)
    if problem is None and (state is None or tasks is None):
        fail("give --problem, or both --state and --tasks", 2)
    body: dict[str, Any] = _budgets({"domain": domain}, max_nodes, max_seconds)
    if problem is not None:
        body["problem"] = problem
    else:
        assert state is not None and tasks is not None
        body.update(state=_read_json(state, "state"), todo=_read_json(tasks, "tasks"))
    result = _remote("POST", "/v1/engine/learn", body)
    if result["status"] != "found":
        fail(f"{result['status']}: {result['message']}")
    _print_steps(result["plan"])
    c = result["learning"]
    out.print(f"[dim]{len(result['plan'])} steps, {result['nodes']} nodes; {c['hits']}/{c['lookups']} method "
              f"lookups hit the cache, {c['learned']} choices learned[/dim]", highlight=False)
