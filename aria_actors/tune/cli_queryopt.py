"""``aria tune queries ...``: slow statements and index suggestions checked on copies of their tables
(``/v1/tune/queries``).

    aria tune queries ls [--limit 20] [--min-calls 1] [--json]
    aria tune queries analyze [QUERYID] [--limit 10] [--min-calls 2] [--json]
    aria tune queries check QUERYID SCHEMA.TABLE COLUMN... [--json]
    aria tune queries suggestions [--queryid Q] [--verdict better|no-gain] [--limit 100] [--json]
    aria tune queries probe [--rows 20000] [--runs 50]
    aria tune queries strategy DOMAIN [--strategy dfs --strategy greedy] [--problems 5] [--repeats 1] [--json]
    aria tune queries strategies [--domain D] [--json]
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

app = typer.Typer(help="Slow PostgreSQL statements and index suggestions (via the gateway).", no_args_is_help=True)
out = Console()
JsonOpt = typer.Option(False, "--json", help="Print the JSON answer.")


def _short(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _suggestions(rows: list[dict[str, Any]]) -> None:
    table = Table("queryid", "table", "columns", "cost before", "cost after", "index used", "verdict", "statement")
    for s in rows:
        table.add_row(s["queryid"], s.get("relation") or s.get("table", ""), ", ".join(s["columns"]),
                      f"{s['cost_before']:.2f}", f"{s['cost_after']:.2f}", "yes" if s["index_used"] else "no",
                      s["verdict"], _short(s["query"], 60))
    out.print(table)


@app.command("ls")
def ls(limit: int = typer.Option(20, "--limit", min=1, max=1000),
       min_calls: int = typer.Option(1, "--min-calls", min=1),
       as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Statements from pg_stat_statements, most total time first."""
    got = sdk_call(token, lambda aria: aria.tune.list_statements(limit, min_calls))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    if not got["available"]:
        out.print(f"[yellow]no statement statistics:[/yellow] {got['reason']}")
        return
    table = Table("queryid", "calls", "total ms", "mean ms", "rows", "statement")
    for s in got["statements"]:
        table.add_row(s["queryid"], str(s["calls"]), f"{s['total_ms']:.1f}", f"{s['mean_ms']:.3f}", str(s["rows"]),
                      _short(s["query"]))
    out.print(table)


@app.command("analyze")
def analyze(queryid: str | None = typer.Argument(None, help="One statement (default: the slowest ones)."),
            limit: int = typer.Option(10, "--limit", min=1, max=50),
            min_calls: int = typer.Option(2, "--min-calls", min=1),
            as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Derive index candidates from the statements' plans and check each on a copy of its table."""
    got = sdk_call(token, lambda aria: aria.tune.analyze_statements(queryid, limit=limit, min_calls=min_calls))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    out.print(f"{got['analyzed']} statements analysed, {len(got['suggestions'])} candidates checked")
    _suggestions(got["suggestions"])
    for s in got["skipped"]:
        out.print(f"skipped {s['queryid']}: {s['reason']}")


@app.command("check")
def check(queryid: str, table: str = typer.Argument(..., help="schema.table"),
          columns: list[str] = typer.Argument(..., help="The index's columns, in order."),
          as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Check one index for a statement on a copy of its table (recorded; never created)."""
    got = sdk_call(token, lambda aria: aria.tune.check_index(queryid, table, columns))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    _suggestions([got])


@app.command("suggestions")
def suggestions(queryid: str | None = typer.Option(None, "--queryid"),
                verdict: str | None = typer.Option(None, "--verdict", help="better or no-gain."),
                limit: int = typer.Option(100, "--limit", min=1, max=1000), as_json: bool = JsonOpt,
                token: str | None = TokenOpt) -> None:
    """Recorded index suggestions, latest check first."""
    got = sdk_call(token, lambda aria: aria.tune.list_suggestions(queryid, verdict, limit))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    _suggestions(got)


@app.command("probe")
def probe(rows: int = typer.Option(20_000, "--rows", min=100, max=1_000_000),
          runs: int = typer.Option(50, "--runs", min=1, max=10_000), token: str | None = TokenOpt) -> None:
    """Fill aria_tune's probe table and run its lookup on an unindexed column (then `analyze`)."""
    got = sdk_call(token, lambda aria: aria.tune.run_probe(rows, runs))
    out.print(f"probe table: {got['rows']} rows; lookup run {got['runs']} times: {_short(got['query'])}")


def _choice(c: dict[str, Any]) -> None:
    out.print(f"{c['domain']}: {c['recommended'] or 'no recommendation'} ({c['reason']})")
    for r in c["results"]:
        out.print(f"  {r['strategy']:<8} solved {r['solved']}/{r['problems']}  planner {r['planner_s']:.4f} s")


@app.command("strategy")
def strategy(domain: str, strategies: list[str] | None = typer.Option(None, "--strategy", help="dfs or greedy "
                                                                        "(repeat; default: both)."),
             problems: int = typer.Option(5, "--problems", min=1, max=50),
             repeats: int = typer.Option(1, "--repeats", min=1, max=10),
             max_seconds: float = typer.Option(5.0, "--max-seconds", min=0.001, max=60.0),
             as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Time aria_engine's planning strategies on a domain's problems; record the fastest that solves all."""
    got = sdk_call(token, lambda aria: aria.tune.choose_strategy(domain, strategies or None, problems=problems,
                                                                 repeats=repeats, max_seconds=max_seconds))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    _choice(got)


@app.command("strategies")
def strategies_cmd(domain: str | None = typer.Option(None, "--domain"), as_json: bool = JsonOpt,
                   token: str | None = TokenOpt) -> None:
    """The planning strategy recorded for each domain."""
    got = sdk_call(token, lambda aria: aria.tune.strategy_choices(domain))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    for c in got:
        _choice(c)
