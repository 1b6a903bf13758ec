"""``aria tune resources ...``: each service's CPU and memory use against its reservation, the
proposed reservation, and the recorded proposals (``/v1/tune/resources``; resources.py says how).

    aria tune resources show [SERVICE] [--minutes 60] [--json]
    aria tune resources propose [--service aria_data] [--minutes 60]
    aria tune resources proposals [--service S] [--status proposed] [--limit 100] [--json]
    aria tune resources proposal ID
    aria tune resources decide ID accepted|rejected [--note TEXT]      (administrators; audited)
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

app = typer.Typer(help="Resource proposals: CPU and memory reservations against recorded use.",
                  no_args_is_help=True)
out = Console(width=200)
MIB = 2**20
Minutes = typer.Option(60.0, "--minutes", min=1.0, max=7 * 1440, help="How much history (from now).")


def _n(value: float | None, fmt: str = ".3f", scale: float = 1.0) -> str:
    return "-" if value is None else f"{value / scale:{fmt}}"


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@app.command("show")
def show(service: str | None = typer.Argument(None, help="One service (default: all)."), minutes: float = Minutes,
         as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
         token: str | None = TokenOpt) -> None:
    """Use against reservation and the proposed reservation of every service (or one)."""
    got = sdk_call(token, lambda aria: aria.tune.service_resources(service, minutes * 60) if service
                   else aria.tune.resources(minutes * 60))
    if as_json:
        _json(got)
        return
    pct = f"p{got['rule']['percentile']:g}"
    table = Table("service", "reserved", "cpu mean", f"cpu {pct}", "cpu peak", f"MiB {pct}", "MiB peak",
                  "verdict", "proposed cpus", "proposed MiB", "flags")
    for s in got["services"]:
        cpu, mem, p = s["use"]["cpu_cores"], s["use"]["memory_bytes"], s["proposal"] or {}
        table.add_row(s["service"], f"{s['reservation']['cpus']:g}", _n(cpu["mean"]), _n(cpu["percentile"]),
                      _n(cpu["peak"]), _n(mem["percentile"], ".1f", MIB), _n(mem["peak"], ".1f", MIB), s["verdict"],
                      _n(p.get("cpus"), "g"), _n(p.get("memory_bytes"), ".0f", MIB), ",".join(s["flags"]))
    out.print(table)
    typer.echo(f"window {got['window_s']:g} s, a sample every {got['step_s']:g} s; node {got['node']['cpus']:g} "
               f"cpus ({got['node']['measured']})")
    for s in got["services"]:
        if s["proposal"] and s["proposal"]["changes"][0]["change"]:
            c = s["proposal"]["changes"][0]
            typer.echo(f"{s['service']}: {s['reason']}; set {c['key']} from {c['from']:g} to {c['to']:g}")
    typer.echo(got["applied"])


@app.command("propose")
def propose(service: str | None = typer.Option(None, "--service", help="One service (default: all)."),
            minutes: float = Minutes, token: str | None = TokenOpt) -> None:
    """Record each service's proposal with its evidence (status proposed)."""
    got = sdk_call(token, lambda aria: aria.tune.propose_resources(minutes * 60, service))
    for p in got["proposals"]:
        typer.echo(f"#{p['id']}  {p['service']}  {p['verdict']}  cpus {p['reserved_cpus']:g} -> "
                   f"{p['proposed_cpus']:g}  memory {_n(p['proposed_memory_bytes'], '.0f', MIB)} MiB")
    for s in got["skipped"]:
        typer.echo(f"skipped {s['service']}: {s['reason']}")


@app.command("proposals")
def proposals(service: str | None = typer.Option(None, "--service"),
              status: str | None = typer.Option(None, "--status", help="proposed, accepted or rejected."),
              limit: int = typer.Option(100, "--limit", min=1, max=1000),
              as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """Recorded proposals, newest first."""
    got = sdk_call(token, lambda aria: aria.tune.resource_proposals(service, status, limit))
    if as_json:
        _json(got)
        return
    for p in got:
        decided = f"  by {p['decided_by']}" if p.get("decided_by") else ""
        typer.echo(f"#{p['id']}  {p['created_at']}  {p['service']}  {p['verdict']}  cpus {p['reserved_cpus']:g} -> "
                   f"{p['proposed_cpus']:g}  {p['status']}{decided}")


@app.command("proposal")
def proposal(proposal_id: int, token: str | None = TokenOpt) -> None:
    """One proposal with its evidence (JSON)."""
    _json(sdk_call(token, lambda aria: aria.tune.resource_proposal(proposal_id)))


@app.command("decide")
def decide(proposal_id: int, decision: str = typer.Argument(..., help="accepted or rejected."),
           note: str | None = typer.Option(None, "--note"), token: str | None = TokenOpt) -> None:
    """Accept or reject a proposal (administrators; audited; final). Accepting records it: edit the
    named key and restart the service for it to take effect."""
    got = sdk_call(token, lambda aria: aria.tune.decide_resource_proposal(proposal_id, decision, note))
    typer.echo(f"#{got['id']}  {got['service']}  {got['status']} by {got['decided_by']}")
