"""``aria monitor costs`` and ``aria monitor capacity``: what each service uses against what it
reserves, and where the recorded growth leads (``/v1/monitor/costs``, ``/v1/monitor/capacity``).

    aria monitor costs [--minutes 60] [--json]
    aria monitor capacity [--hours 24] [--minutes 60] [--json]
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app

MIB = 1024 * 1024


def _num(value: float | None, fmt: str = ".3f", scale: float = 1.0) -> str:
    return "-" if value is None else f"{value / scale:{fmt}}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@app.command("costs")
def costs(minutes: float = typer.Option(60.0, "--minutes", min=1 / 6, max=7 * 1440, help="How far back."),
          as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
          token: str | None = TokenOpt) -> None:
    """Each service's CPU and memory against its reservation and the node, with findings."""
    got = sdk_call(token, lambda aria: aria.monitor.costs(minutes * 60))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    node = got["node"]
    table = Table("service", "cpus reserved", "gpus reserved", "cpu mean", "cpu peak", "MiB mean", "MiB peak",
                  "node cpu", "node mem", "calls")
    for s in got["services"]:
        table.add_row(s["service"], f"{s['reservation']['cpus']:g}", f"{s['reservation']['gpus']:g}",
                      _num(s["cpu"]["mean_cores"]), _num(s["cpu"]["peak_cores"]),
                      _num(s["memory"]["mean_bytes"], ".1f", MIB), _num(s["memory"]["peak_bytes"], ".1f", MIB),
                      _share(s["share"]["cpu_mean"]), _share(s["share"]["memory_mean"]),
                      "-" if s["calls"] is None else f"{s['calls']:.0f}")
    _print(table)
    t = got["totals"]
    typer.echo(f"node {node['host']}: {node['cpus']} cpus, {node['memory_bytes'] / MIB:.0f} MiB "
               f"({node['measured']}); Aria uses {t['cpu_mean_cores']:.3f} cores ({_share(t['cpu_share'])}), "
               f"{t['memory_mean_bytes'] / MIB:.1f} MiB ({_share(t['memory_share'])}) on average")
    for f in got["findings"]:
        typer.echo(f"{f['finding']}: {f['service']}: {f['detail']}")
    typer.echo(got["gpus"])


def _row(table: Table, what: str, p: dict[str, Any], scale: float = 1.0, fmt: str = ".3f") -> None:
    table.add_row(what, str(p["points"]), _num(p["last"], fmt, scale), _num(p["slope_per_hour"], fmt, scale),
                  _num(p["r2"], ".3f"), _num(p["projected"], fmt, scale), _duration(p["exhausted_in_s"]),
                  p["reason"] or "")


@app.command("capacity")
def capacity(hours: float = typer.Option(24.0, "--hours", min=1 / 60, max=90 * 24, help="How far ahead."),
             minutes: float = typer.Option(60.0, "--minutes", min=1 / 6, max=7 * 1440,
                                           help="How much history the lines are fitted to."),
             as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
             token: str | None = TokenOpt) -> None:
    """Straight-line projections of memory, CPU, series and queues, and the time to the node's limits."""
    got = sdk_call(token, lambda aria: aria.monitor.capacity(hours * 3600, minutes * 60))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    table = Table("what", "points", "now", "per hour", "r2", f"in {hours:g} h", "exhausted in", "why not")
    for name, p in got["memory"].items():
        _row(table, f"{name} MiB", p, MIB, ".1f")
    _row(table, "all services MiB", got["total_memory"], MIB, ".1f")
    _row(table, "all services cores", got["cpu"])
    _row(table, "history series", got["series"], fmt=".0f")
    for queue, p in got["queues"].items():
        _row(table, f"queue {queue} available", p, fmt=".1f")
    _print(table)
    node = got["node"]
    typer.echo(f"node {node['host']}: {node['cpus']} cpus, {node['memory_available_bytes'] / MIB:.0f} of "
               f"{node['memory_bytes'] / MIB:.0f} MiB available ({node['measured']})")
