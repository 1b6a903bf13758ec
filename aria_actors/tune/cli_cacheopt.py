"""``aria tune caches ...``: the caches of every service, their hit-ratio curves and proposed sizes
(``/v1/tune/caches``).

    aria tune caches ls [--json]
    aria tune caches show NAME [--json]
    aria tune caches resize NAME SIZE        administrators; audited; until the process restarts
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

app = typer.Typer(help="Cache hit ratios, LRU curves and proposed sizes (via the gateway).", no_args_is_help=True)
out = Console()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
       token: str | None = TokenOpt) -> None:
    """Every service's caches: lookups, measured hit ratio, current and proposed size."""
    got = sdk_call(token, lambda aria: aria.tune.list_caches())
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    table = Table("cache", "service", "unit", "size", "capacity", "hits", "misses", "measured", "curve now",
                  "proposed", "curve then")
    for c in got["caches"]:
        p = c.get("proposal") or {}
        table.add_row(c["name"], c["service"], c["unit"], _num(c["size"]), _num(c["capacity"]), str(c["hits"]),
                      str(c["misses"]), _pct(c["measured_hit_ratio"]), _pct(p.get("current_hit_ratio")),
                      _num(p.get("size")), _pct(p.get("hit_ratio")))
    out.print(table)
    for name, why in sorted(got.get("unreachable", {}).items()):
        out.print(f"[yellow]{name}: unreachable ({why})[/yellow]")


@app.command("show")
def show(name: str, as_json: bool = typer.Option(False, "--json", help="Print the JSON answer."),
         token: str | None = TokenOpt) -> None:
    """One cache's curve (hit ratio by size over 1/8x..8x) and proposal."""
    got = sdk_call(token, lambda aria: aria.tune.get_cache(name))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    out.print(f"{got['name']} ({got['service']}): {got['description']}")
    out.print(f"  {got['hits']} hits, {got['misses']} misses, {got['evictions']} evictions, measured "
              f"{_pct(got['measured_hit_ratio'])}; {got['sampled']} sampled accesses at rate {got['rate']:g}")
    for point in got["curve"]:
        bar = "#" * round(point["hit_ratio"] * 40)
        out.print(f"  {point['size']:>10} {got['unit']:<12} {_pct(point['hit_ratio']):>7} {bar}")
    p = got.get("proposal")
    if p:
        out.print(f"  proposed {p['size']} ({p['reason']}): {_pct(p['hit_ratio'])} against "
                  f"{_pct(p['current_hit_ratio'])} now; {p['apply']}")
    elif got.get("note"):
        out.print(f"  {got['note']}")


@app.command("resize")
def resize(name: str, size: int = typer.Argument(..., min=1), token: str | None = TokenOpt) -> None:
    """Set a cache's capacity in its process (administrators; audited; until it restarts)."""
    got = sdk_call(token, lambda aria: aria.tune.resize_cache(name, size))
    out.print(f"{got['name']} ({got['service']}): {got['before']} -> {got['after']}")
