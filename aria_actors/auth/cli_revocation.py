"""``aria auth protection ...`` commands of aria_auth's revocation part (added to :mod:`aria_actors.auth.cli`).

    aria auth protection feed [--cursor C] [--json]    sessions ended, clients disabled, lockouts
    aria auth protection denials [--limit N] [--json]  the gateway's 401/403/429s in the audit log

Both need an administrator's token (``aria token``). Errors print one red line and exit 1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, gateway_call

app = typer.Typer(help="Endpoint protection: revoked sessions, throttles, denials.", no_args_is_help=True)
DENIAL_OP = "gateway_denial"  # the op of the gateway's denial records in aria_security's audit log


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("feed")
def feed(cursor: str = typer.Option(None, "--cursor", help="Only what came after this cursor."),
         as_json: bool = typer.Option(False, "--json", help="Print the raw answer."),
         token: str | None = TokenOpt) -> None:
    """What the gateway refuses: sessions ended, machine clients disabled, accounts locked."""
    params = {"cursor": cursor} if cursor else {}
    answer = gateway_call(token, "GET", "/v1/auth/revocations", params=params)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    table = Table("kind", "id / account", "at", "detail")
    for s in answer["sessions"]:
        table.add_row("session", s["sid"], _when(s["at"]), s.get("why") or "")
    for c in answer["clients"]:
        table.add_row("client", c["client_id"], _when(c["at"]), "disabled")
    for lk in answer["locks"]:
        account = f"{lk['tenant']}/{lk['username']}" if lk["tenant"] else lk["username"]
        detail = f"locked until {_when(lk['until'])}" if lk["until"] else "unlocked"
        table.add_row("lock", account, _when(lk["at"]), detail)
    Console().print(table)
    typer.echo(f"cursor: {answer['cursor']}" + (" (more: run again with it)" if answer["more"] else ""))


@app.command("denials")
def denials(limit: int = typer.Option(50, "--limit", min=1, max=1000),
            as_json: bool = typer.Option(False, "--json", help="Print the raw records."),
            token: str | None = TokenOpt) -> None:
    """The newest requests the gateway refused (401, 403, 429), from aria_security's audit log."""
    records = gateway_call(token, "GET", "/v1/security/audit", params={"op": DENIAL_OP, "limit": limit})
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    table = Table("when", "outcome", "request", "subject")
    for r in records:
        table.add_row(_when(r.get("ts")), r.get("outcome", ""), r.get("target", ""), r.get("subject", ""))
    Console().print(table)
