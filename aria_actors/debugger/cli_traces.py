"""``aria debugger traces`` and ``aria debugger trace ID``: recent traces and one trace's span tree,
through the gateway (``/v1/debugger/traces``).

    aria debugger traces [--service S] [--min-ms 50] [--limit 20]
    aria debugger trace TRACE_ID            (the X-Trace-Id header of a gateway response)

``--json`` prints the gateway's answer as is. cli.py adds both commands to ``aria debugger``
(:func:`register`); this module imports nothing of cli.py, so there is no import cycle.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

JsonOpt = typer.Option(False, "--json", help="Print the gateway's JSON answer.")


def _json(got: Any) -> None:
    typer.echo(json.dumps(got, indent=2))


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def traces(service: str | None = typer.Option(None, "--service", "-s", help="Traces touching this service."),
           min_ms: float | None = typer.Option(None, "--min-ms", min=0, help="Traces lasting at least this (ms)."),
           limit: int = typer.Option(20, "--limit", "-n", min=1, max=500, help="At most this many traces."),
           as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Recent traces, newest first (gateway requests and queue jobs, with every service they reached)."""
    got = sdk_call(token, lambda aria: aria.debugger.traces(service=service, min_duration_ms=min_ms, limit=limit))
    if as_json:
        _json(got)
        return
    table = Table("trace id", "started (UTC)", "ms", "spans", "root", "services")
    for t in got["traces"]:
        table.add_row(t["trace_id"], _when(t["start"]), f"{t['duration_ms']:.1f}", str(t["spans"]),
                      t["root"] + (f" [{t['errors']} errors]" if t["errors"] else ""), ", ".join(t["services"]))
    Console().print(table)
    typer.echo(f"{len(got['traces'])} traces (from {got['source']})")


def _lines(node: dict[str, Any], depth: int, t0: float, out: list[str]) -> None:
    status = " ERROR" if node["status"] == "error" else ""
    out.append(f"{'  ' * depth}{node['name']}  [{node['service']}]  +{(node['start'] - t0) * 1000:.1f} ms  "
               f"{node['duration_ms']:.2f} ms{status}")
    for child in node["children"]:
        _lines(child, depth + 1, t0, out)


def trace(trace_id: str = typer.Argument(..., help="A trace id: 32 hex digits (a response's X-Trace-Id)."),
          as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """One trace as a tree of spans: name, service, offset from the start, duration, status."""
    got = sdk_call(token, lambda aria: aria.debugger.trace(trace_id))
    if as_json:
        _json(got)
        return
    out: list[str] = []
    for root in got["tree"]:
        _lines(root, 0, got["start"], out)
    typer.echo("\n".join(out))
    typer.echo(f"{got['spans']} spans, {got['duration_ms']:.1f} ms, services: {', '.join(got['services'])}")


def register(app: typer.Typer) -> None:
    """Add ``traces`` and ``trace`` to ``app`` (``aria debugger``)."""
    app.command()(traces)
    app.command()(trace)
