"""``aria auth passkeys ...``: WebAuthn passkeys through the running gateway (``/v1/auth``).

    aria auth passkeys ls [--user USER] [--tenant T]     one's own (ARIA_TOKEN a session), or a user's
    aria auth passkeys rename ID LABEL                   one's own
    aria auth passkeys second-factor ID on|off           one's own: asked for after the password?
    aria auth passkeys rm ID [--user USER] [--tenant T]  one's own, or a user's (administrators)

Guarantees and caveats
----------------------
- Registering a passkey and logging in with one need an authenticator and a browser
  (``navigator.credentials``): the CLI lists and removes, the web client registers.
- USER is a user id or a username (of ``--tenant``). Errors print one red line and exit 1.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, fail, gateway_call

app = typer.Typer(help="WebAuthn passkeys.", no_args_is_help=True)
UserOpt = typer.Option(None, "--user", help="Another user's (id or username; administrators).")
TenantOpt = typer.Option("", "--tenant", help="Tenant of --user (empty: the default tenant).")


def _user_id(user: str, tenant: str, token: str | None) -> str:
    # imported here: aria_actors.auth.cli imports this module to add its commands
    from aria_actors.auth.cli import _user_id as resolve

    return resolve(user, tenant, token)


def _table(keys: list[dict[str, Any]]) -> None:
    table = Table("id", "label", "2nd factor", "verified", "synced", "uses", "created", "last used", "state")
    for k in keys:
        state = f"disabled: {k['disabled_why']}" if k["disabled"] else "active"
        table.add_row(k["id"], k["label"], "yes" if k["second_factor"] else "no", "yes" if k["user_verified"] else "no",
                      "yes" if k["backed_up"] else "no", str(k["sign_count"]), k["created_at"],
                      k["last_used_at"] or "-", state)
    Console().print(table)


@app.command("ls")
def ls(user: str | None = UserOpt, tenant: str = TenantOpt, as_json: bool = typer.Option(False, "--json"),
       token: str | None = TokenOpt) -> None:
    """List one's own passkeys, or a user's."""
    if user is None:
        keys = gateway_call(token, "GET", "/v1/auth/passkeys")
    else:
        keys = gateway_call(token, "GET", f"/v1/auth/users/{_user_id(user, tenant, token)}/passkeys")
    if as_json:
        typer.echo(json.dumps(keys, indent=2))
    else:
        _table(keys)


@app.command("rename")
def rename(passkey_id: str, label: str, token: str | None = TokenOpt) -> None:
    """Rename one of one's own passkeys."""
    _table([gateway_call(token, "PATCH", f"/v1/auth/passkeys/{passkey_id}", json={"label": label})])


@app.command("second-factor")
def second_factor(passkey_id: str, state: str = typer.Argument(..., help="on or off"),
                  token: str | None = TokenOpt) -> None:
    """Whether a password login asks for this passkey (one's own)."""
    if state not in ("on", "off"):
        fail("state must be on or off", code=2)
    _table([gateway_call(token, "PATCH", f"/v1/auth/passkeys/{passkey_id}", json={"second_factor": state == "on"})])


@app.command("rm")
def rm(passkey_id: str, user: str | None = UserOpt, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Remove one of one's own passkeys, or a user's."""
    if user is None:
        gateway_call(token, "DELETE", f"/v1/auth/passkeys/{passkey_id}")
    else:
        gateway_call(token, "DELETE", f"/v1/auth/users/{_user_id(user, tenant, token)}/passkeys/{passkey_id}")
    typer.echo(f"removed passkey {passkey_id}")
