"""``aria monitor performance`` and ``aria monitor bottlenecks``: how fast each route and RPC method
answers, and where the time goes (``/v1/monitor/performance``, ``/v1/monitor/bottlenecks``).

    aria monitor performance [--minutes 5] [--json]
    aria monitor bottlenecks [--minutes 5] [--limit 10] [--json]
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.table import Column, Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app

Minutes = typer.Option(5.0, min=1 / 6, max=7 * 1440, help="How far back (from the last collection).")
AsJson = typer.Option(False, "--json", help="Print the JSON answer.")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _window(got: dict[str, Any]) -> str:
    at = "no collection yet" if got["at"] is None else time.strftime("%H:%M:%S", time.localtime(got["at"]))
    return f"window {got['window_s'] / 60:g} min up to {at}"


@app.command("performance")
def performance(minutes: float = Minutes, as_json: bool = AsJson, token: str | None = TokenOpt) -> None:
    """Per route and RPC method: requests per second, error ratio, p50/p90/p99 (ms); CPU and memory."""
    got = sdk_call(token, lambda aria: aria.monitor.performance(minutes * 60))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    routes = Table("method", Column("route", overflow="fold"), "req/s", "errors", "p50 ms", "p90 ms", "p99 ms",
                   title="gateway routes")
    for r in got["routes"]:
        routes.add_row(r["method"], r["route"], f"{r['rate']:.3f}", _share(r["error_ratio"]), _ms(r["p50"]),
                       _ms(r["p90"]), _ms(r["p99"]))
    methods = Table("service", "method", "calls/s", "errors", "p50 ms", "p90 ms", "p99 ms", title="RPC methods")
    for m in got["methods"]:
        methods.add_row(m["service"], m["method"], f"{m['rate']:.3f}", _share(m["error_ratio"]), _ms(m["p50"]),
                        _ms(m["p90"]), _ms(m["p99"]))
    services = Table("service", "cpu cores", "resident MiB", "peak MiB", title="services")
    for s in got["services"]:
        services.add_row(s["service"], _cores(s["cpu_cores"]), _mib(s["resident_memory_bytes"]),
                         _mib(s["resident_memory_max_bytes"]))
    for table in (routes, methods, services):
        _print(table)
    typer.echo(_window(got))


@app.command("bottlenecks")
def bottlenecks(minutes: float = Minutes,
                limit: int = typer.Option(10, min=1, max=100, help="Rows per ranking."),
                as_json: bool = AsJson, token: str | None = TokenOpt) -> None:
    """Where the time goes: RPC methods and routes by time spent, services by CPU, the slowest methods."""
    got = sdk_call(token, lambda aria: aria.monitor.bottlenecks(minutes * 60, limit))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    methods = Table("service", "method", "seconds", "share", "calls", "mean ms", "p99 ms",
                    title=f"RPC methods by time spent ({got['methods_total_s']:.3f} s in all)")
    for m in got["methods"]:
        methods.add_row(m["service"], m["method"], f"{m['seconds']:.3f}", _share(m["share"]), f"{m['calls']:g}",
                        _ms(m["mean_s"]), _ms(m["p99"]))
    routes = Table("method", Column("route", overflow="fold"), "seconds", "share", "requests", "mean ms", "p99 ms",
                   title=f"gateway routes by time spent ({got['routes_total_s']:.3f} s in all)")
    for r in got["routes"]:
        routes.add_row(r["method"], r["route"], f"{r['seconds']:.3f}", _share(r["share"]), f"{r['calls']:g}",
                       _ms(r["mean_s"]), _ms(r["p99"]))
    services = Table("service", "cpu cores", "share", title=f"services by CPU ({got['cpu_total_cores']:.3f} cores)")
    for s in got["services"]:
        services.add_row(s["service"], _cores(s["cpu_cores"]), _share(s["share"]))
    slowest = Table("service", "method", "p99 ms", "p90 ms", "mean ms", "calls", title="slowest RPC methods (p99)")
    for m in got["slowest"]:
        slowest.add_row(m["service"], m["method"], _ms(m["p99"]), _ms(m["p90"]), _ms(m["mean_s"]), f"{m['calls']:g}")
    for table in (methods, routes, services, slowest):
        _print(table)
    typer.echo(_window(got))
