"""``aria monitor usage`` and ``aria monitor business``: calls, errors and active users per tenant
and day, and the business events (``/v1/monitor/usage``, ``/v1/monitor/business``).

    aria monitor usage [--days 7] [--tenant T] [--service S] [--methods] [--json]
    aria monitor business [--days 30] [--tenant T] [--json]
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app

TenantOpt = typer.Option(None, "--tenant", help="One tenant ('' for none); default: all you may read.")
AsJson = typer.Option(False, "--json", help="Print the JSON answer.")


def _tenant(t: str) -> str:
    return t or "(none)"


@app.command("usage")
def usage(days: int = typer.Option(7, help="UTC days back, today included (1..366)."),
          tenant: str | None = TenantOpt,
          service: str | None = typer.Option(None, "--service", help="One service's calls only."),
          methods: bool = typer.Option(False, "--methods", help="One row per service and method."),
          as_json: bool = AsJson, token: str | None = TokenOpt) -> None:
    """Calls, errors and active users per day and tenant (or per method with --methods)."""
    got: dict[str, Any] = sdk_call(token, lambda aria: aria.monitor.usage(days, tenant, service))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    if methods:
        table = Table("day", "tenant", "service", "method", "calls", "errors", title="calls per method")
        for r in got["rows"]:
            table.add_row(r["day"], _tenant(r["tenant"]), r["service"], r["method"], str(r["calls"]),
                          str(r["errors"]))
    else:
        table = Table("day", "tenant", "calls", "errors", "active users", title="usage per day")
        for d in got["daily"]:
            table.add_row(d["day"], _tenant(d["tenant"]), str(d["calls"]), str(d["errors"]), str(d["active_users"]))
    _print(table)
    typer.echo(f"since {got['since']} (UTC), from {got['source']}")


@app.command("business")
def business(days: int = typer.Option(30, help="UTC days back, today included (1..366)."),
             tenant: str | None = TenantOpt, as_json: bool = AsJson, token: str | None = TokenOpt) -> None:
    """Characters created, plans made, jobs run and models trained per day and tenant."""
    got: dict[str, Any] = sdk_call(token, lambda aria: aria.monitor.business(days, tenant))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    names = list(got["metrics"])
    table = Table("day", "tenant", *names, title="business metrics")
    for d in got["daily"]:
        table.add_row(d["day"], _tenant(d["tenant"]), *(str(d[n]) for n in names))
    table.add_row("total", "", *(str(got["totals"][n]) for n in names))
    _print(table)
    typer.echo(f"since {got['since']} (UTC), from {got['source']}")
