"""``aria monitor ...``: every service's metrics, PromQL and alerts through the gateway (``/v1/monitor``).

    aria monitor metrics                     the one scrape of every service (Prometheus text)
    aria monitor targets                     each service's last read: up, seconds, error
    aria monitor query EXPR [--time T]       a PromQL instant query over the kept history
    aria monitor range EXPR [--minutes 15] [--step 15]
    aria monitor alerts                      pending, firing and recently resolved alerts
    aria monitor rules                       rule groups and each rule's last evaluation
    aria monitor prometheus-config           a prometheus.yml scraping this Aria
    aria monitor dashboards | dashboard NAME  built-in dashboards, their series, Grafana JSON
    aria monitor usage | business            calls and active users, business events per tenant and day

Errors print one red line and exit 1; bad usage exits 2. ``ARIA_TOKEN`` (or ``--token``) is sent
as the bearer token.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call
from aria_actors.monitor.cli_base import _print, app


@app.command()
def metrics(token: str | None = TokenOpt) -> None:
    """Print every service's metrics in one Prometheus exposition."""
    typer.echo(sdk_call(token, lambda aria: aria.monitor.metrics()).decode(), nl=False)


@app.command()
def targets(token: str | None = TokenOpt) -> None:
    """Each service's last metrics read."""
    got = sdk_call(token, lambda aria: aria.monitor.targets())
    table = Table("service", "up", "ms", "error")
    for t in got["targets"]:
        table.add_row(t["service"], "yes" if t["up"] else "NO", f"{t['seconds'] * 1000:.1f}", t["error"] or "")
    _print(table)
    typer.echo(f"{got['series']} series, collected in {got['took_s'] * 1000:.1f} ms")


def _labels(metric: dict[str, str]) -> str:
    return json.dumps(metric, sort_keys=True) if metric else ""


def _rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    if data["resultType"] in ("scalar", "string"):
        return [("", str(data["result"][1]))]
    if data["resultType"] == "matrix":
        return [(_labels(r["metric"]), " ".join(v for _, v in r["values"])) for r in data["result"]]
    return [(_labels(r["metric"]), r["value"][1]) for r in data["result"]]


@app.command()
def query(expr: str = typer.Argument(..., help="A PromQL expression."),
          at: float | None = typer.Option(None, "--time", help="Unix time (default: now)."),
          as_json: bool = typer.Option(False, "--json", help="Print Prometheus's JSON answer."),
          token: str | None = TokenOpt) -> None:
    """Evaluate a PromQL expression at one time."""
    got = sdk_call(token, lambda aria: aria.monitor.query(expr, at))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    for labels, value in _rows(got["data"]):
        typer.echo(f"{labels} {value}".strip())


@app.command("range")
def range_(expr: str = typer.Argument(..., help="A PromQL expression."),
           minutes: float = typer.Option(15.0, min=0.1, max=1440, help="How far back."),
           step: float = typer.Option(15.0, min=0.1, help="Seconds between points."),
           token: str | None = TokenOpt) -> None:
    """Evaluate a PromQL expression over the last minutes (one line per series)."""
    end = time.time()
    got = sdk_call(token, lambda aria: aria.monitor.query_range(expr, end - minutes * 60, end, step))
    for labels, values in _rows(got["data"]):
        typer.echo(f"{labels} {values}".strip())


@app.command()
def alerts(token: str | None = TokenOpt) -> None:
    """Pending, firing and recently resolved alerts."""
    table = Table("alert", "state", "labels", "since", "summary")
    for a in sdk_call(token, lambda aria: aria.monitor.alerts()):
        labels = {k: v for k, v in a["labels"].items() if k != "alertname"}
        since = time.strftime("%H:%M:%S", time.localtime(a["fired_at"] or a["active_at"]))
        table.add_row(a["labels"].get("alertname", ""), a["state"], json.dumps(labels), since,
                      a["annotations"].get("summary", ""))
    _print(table)


@app.command()
def rules(token: str | None = TokenOpt) -> None:
    """Rule groups and each rule's last evaluation."""
    table = Table("group", "rule", "type", "health", "series", "active alerts", "error")
    for g in sdk_call(token, lambda aria: aria.monitor.rules()):
        for r in g["rules"]:
            table.add_row(g["name"], r["name"], r["type"], r["health"], str(r["samples"]), str(r["alerts"]),
                          r["error"] or "")
    _print(table)


@app.command("prometheus-config")
def prometheus_config(token: str | None = TokenOpt) -> None:
    """Print a prometheus.yml that scrapes this Aria (write the token file with `aria token > aria.token`)."""
    typer.echo(sdk_call(token, lambda aria: aria.monitor.prometheus_config()).decode(), nl=False)


from aria_actors.monitor import (  # noqa: E402  (each part registers its commands on app)
    cli_capacity,  # noqa: F401
    cli_dashboards,  # noqa: F401
    cli_health,  # noqa: F401
    cli_performance,  # noqa: F401
    cli_usage,  # noqa: F401
)
