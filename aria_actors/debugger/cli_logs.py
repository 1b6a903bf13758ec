"""``aria debugger logs``: search every service's log records through the gateway (``/v1/debugger/logs``).

    aria debugger logs [WORDS] [--service S] [--level L] [--trace-id T] [--since 15m] [--until T] [--limit 100]

Newest first; ``--json`` prints the gateway's answer as is. cli.py adds it to its ``app`` with
:func:`register` (this module does not import cli.py: no import cycle).
"""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

JsonOpt = typer.Option(False, "--json", help="Print the gateway's JSON answer.")


def register(app: typer.Typer) -> None:
    """Add ``aria debugger logs`` to ``app``."""
    app.command()(logs)


def logs(words: str | None = typer.Argument(None, help="Words to find (\"a phrase\", -word, or)."),
         service: str | None = typer.Option(None, "--service", "-s", help="One service's records, e.g. aria_engine."),
         level: str | None = typer.Option(None, "--level", "-l", help="This level and above (WARNING...)."),
         trace_id: str | None = typer.Option(None, "--trace-id", help="One trace's records (32 hex digits)."),
         since: str | None = typer.Option(None, "--since", help="ISO 8601, epoch seconds, or back from now: 15m."),
         until: str | None = typer.Option(None, "--until", help="The same forms as --since."),
         limit: int = typer.Option(100, "--limit", "-n", min=1, max=1000, help="At most this many records."),
         as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Search the log records of every service, newest first."""
    got = sdk_call(token, lambda aria: aria.debugger.logs(words, service=service, level=level, trace_id=trace_id,
                                                          since=since, until=until, limit=limit))
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    table = Table("time (UTC)", "level", "service", "message")
    for r in got["records"]:
        at = dt.datetime.fromtimestamp(r["at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        table.add_row(at, r["level"], r["service"], r["message"] + (f" [{r['exc_type']}]" if r["exc_type"] else ""))
    Console().print(table)
    typer.echo(f"{got['count']} records (newest first, limit {got['limit']})")
