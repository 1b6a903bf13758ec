"""``aria monitor health-history`` and ``aria monitor deps``: each service's status over time and the
live dependency graph (``/v1/monitor/health/history``, ``/v1/monitor/dependencies``).

    aria monitor health-history [--service aria_data] [--minutes 60] [--json]
    aria monitor deps [--json]
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


@app.command("health-history")
def health_history(service: str | None = typer.Option(None, "--service", help="One service (default: every one)."),
                   minutes: float = typer.Option(60.0, min=1 / 6, max=7 * 1440, help="How far back."),
                   as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
                   token: str | None = TokenOpt) -> None:
    """Each service's status over the last minutes: now, up share, restarts, transitions."""
    got = sdk_call(token, lambda aria: aria.monitor.health_history(service, minutes * 60))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    table = Table("service", "now", "up", "degraded", "restarts", "scraped", "transitions")
    for s in got["services"]:
        moves = ", ".join(f"{_clock(m['at'])} {m['from']}→{m['to']}" for m in s["transitions"][-5:])
        more = len(s["transitions"]) - 5
        table.add_row(s["service"], s["current"], _share(s["up_share"]), _share(s["degraded_share"]),
                      str(s["restarts"]), _share(s["scrape_availability"]),
                      (f"(+{more}) " if more > 0 else "") + moves)
    _print(table)
    typer.echo(f"window {got['window_s'] / 60:g} min up to {_clock(got['at'])}")


@app.command("deps")
def deps(as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
         token: str | None = TokenOpt) -> None:
    """The live dependency graph: each service's status, its dependencies that are down, its blast radius."""
    got: dict[str, Any] = sdk_call(token, lambda aria: aria.monitor.dependencies())
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    down_edges: dict[str, list[str]] = {}
    for e in got["edges"]:
        if e["state"] != "ok":
            down_edges.setdefault(e["service"], []).append(f"{e['dependency']} ({e['dependency_status']})")
    table = Table("service", "layer", "kind", "status", "scraped", "dependencies not up", "takes down")
    for n in got["nodes"]:
        scraped = "-" if n["scrape_up"] is None else "yes" if n["scrape_up"] else "NO"
        table.add_row(n["name"], str(n["layer"]), n["kind"], n["status"], scraped,
                      ", ".join(down_edges.get(n["name"], [])), ", ".join(got["blast_radius"].get(n["name"], [])))
    _print(table)
    for name, d in got["degraded"].items():
        why = ", ".join(d["explained_by"]) or "its own (no dependency is down)"
        typer.echo(f"{name} is degraded: {why}")
    typer.echo("root causes: " + (", ".join(got["root_causes"]) or "none"))
