"""``aria monitor dashboards`` and ``aria monitor dashboard NAME``: the built-in dashboards, each
panel's series as sparklines, or as Grafana JSON (``/v1/monitor/dashboards``).

    aria monitor dashboards
    aria monitor dashboard NAME [--window 1h] [--source auto|memory|postgres] [--json]
    aria monitor dashboard NAME --grafana > aria-NAME.json      (import it into Grafana)
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Column, Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 40


def sparkline(values: list[float], width: int = WIDTH) -> str:
    """The last ``width`` values as block characters scaled between their min and max."""
    tail = values[-width:]
    if not tail:
        return ""
    lo, hi = min(tail), max(tail)
    span = hi - lo
    return "".join(BARS[0 if span == 0 else min(len(BARS) - 1, int((v - lo) / span * len(BARS)))] for v in tail)


def _value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "bytes":
        return f"{v / 2**20:.1f} MiB"
    if unit == "s":
        return f"{v * 1000:.1f} ms"
    return f"{v:.3g}"


@app.command("dashboards")
def dashboards(token: str | None = TokenOpt) -> None:
    """The built-in dashboards and their panels."""
    table = Table("dashboard", "panel", "unit", Column("PromQL", overflow="fold"))
    for d in sdk_call(token, lambda aria: aria.monitor.dashboards()):
        for p in d["panels"]:
            table.add_row(d["name"], p["title"], p["unit"], p["expr"])
    _print(table)


@app.command("dashboard")
def dashboard(name: str = typer.Argument(..., help="A dashboard's name (aria monitor dashboards)."),
              window: str = typer.Option("1h", help="A duration (15m, 6h, 7d) or seconds."),
              source: str = typer.Option("auto", help="auto, memory or postgres."),
              grafana: bool = typer.Option(False, "--grafana", help="Print the dashboard as Grafana JSON."),
              as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
              token: str | None = TokenOpt) -> None:
    """Each panel's series over the window, as sparklines with their last, min and max values."""
    if grafana:
        typer.echo(json.dumps(sdk_call(token, lambda aria: aria.monitor.grafana_dashboard(name)), indent=2))
        return
    got: dict[str, Any] = sdk_call(token, lambda aria: aria.monitor.dashboard(name, window, source))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    for p in got["panels"]:
        table = Table("series", "last", "min", "max", f"last {WIDTH} points", title=p["title"])
        for s in p["series"]:
            values = [v for _, v in s["points"]]
            label = " ".join(s["labels"].get(k, "") for k in p["legend"]) or "-"
            table.add_row(label, _value(values[-1] if values else None, p["unit"]),
                          _value(min(values) if values else None, p["unit"]),
                          _value(max(values) if values else None, p["unit"]), sparkline(values))
        _print(table)
    typer.echo(f"{got['title']}: {got['window_s'] / 60:g} min, step {got['step_s']:g} s, from {got['source']}"
               + (f" ({got['note']})" if got.get("note") else ""))
