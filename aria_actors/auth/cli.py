"""``aria auth ...``: users and logins through the running gateway (``/v1/auth``).

    aria auth login USERNAME [--tenant T]            prompts for the password (and an MFA code)
    aria auth users ls [--tenant T]
    aria auth users add USERNAME [--role R ...] [--tenant T] [--email E]   prompts for a password
    aria auth users show USER
    aria auth users roles USER ROLE [ROLE ...]        replace the user's roles
    aria auth users disable USER | enable USER | unlock USER | rm USER
    aria auth clients add NAME [--role R ...] [--tenant T]   prints the client secret once
    aria auth clients ls | rotate ID | disable ID | enable ID | rm ID

USER is a user id or a username (of ``--tenant``). Managing users needs an administrator's token
(``aria token`` prints one; the CLI sends it when ``ARIA_TOKEN`` is unset). Errors print one red
line and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.auth import cli_grants, cli_passkeys, cli_peers, cli_provider, cli_relying, cli_revocation
from aria_actors.cli.support import TokenOpt, fail, gateway_call

app = typer.Typer(help="Users and logins of aria_auth (via the gateway).", no_args_is_help=True)
users_app = typer.Typer(help="Manage users (administrators).", no_args_is_help=True)
app.add_typer(users_app, name="users")
clients_app = typer.Typer(help="Manage machine clients (OAuth 2.0 client credentials).", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
for _name, _part in (("oidc", cli_provider), ("sso", cli_relying), ("passkeys", cli_passkeys),
                     ("grants", cli_grants), ("peers", cli_peers), ("protection", cli_revocation)):
    if _part.app.registered_commands or _part.app.registered_groups:
        app.add_typer(_part.app, name=_name)
TenantOpt = typer.Option("", "--tenant", help="Tenant of the user (empty: the default tenant).")


def _user_id(ref: str, tenant: str, token: str | None) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    after = ""
    while True:
        page = gateway_call(token, "GET", "/v1/auth/users", params={"tenant": tenant, "after": after, "limit": 1000})
        for user in page:
            if user["username"].lower() == ref.lower():
                return user["id"]
        if len(page) < 1000:
            fail(f"no user {ref!r} in tenant {tenant!r}; `aria auth users ls` lists them")
        after = f"{page[-1]['tenant']}/{page[-1]['username']}"


def _show(user: dict[str, Any]) -> None:
    mfa = "on" if user["mfa"]["enabled"] else "off"
    state = "disabled" if user["disabled"] else ("locked" if user["locked_until"] else "active")
    typer.echo(f"{user['id']}  {user['username']}  tenant={user['tenant'] or '-'}  roles={','.join(user['roles'])}  "
               f"mfa={mfa}  {state}")


@app.command()
def login(username: str, tenant: str = TenantOpt,
          password: str = typer.Option(..., prompt=True, hide_input=True, envvar="ARIA_PASSWORD")) -> None:
    """Log in; prints the tokens as JSON (export the access token as ARIA_TOKEN)."""
    out = gateway_call(None, "POST", "/v1/auth/login",
                       json={"username": username, "password": password, "tenant": tenant})
    if out.get("mfa_required"):
        code = typer.prompt("one-time code (or a recovery code)")
        out = gateway_call(None, "POST", "/v1/auth/login/mfa", json={"challenge": out["challenge"], "code": code})
    typer.echo(json.dumps(out, indent=2))


@users_app.command("ls")
def ls(tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
       token: str | None = TokenOpt) -> None:
    """List users."""
    table = Table("id", "tenant", "username", "roles", "mfa", "state", "last login")
    params = {"tenant": tenant} if tenant is not None else {}
    for u in gateway_call(token, "GET", "/v1/auth/users", params={**params, "limit": 1000}):
        state = "disabled" if u["disabled"] else ("locked" if u["locked_until"] else "active")
        table.add_row(u["id"], u["tenant"] or "-", u["username"], ",".join(u["roles"]),
                      "on" if u["mfa"]["enabled"] else "off", state, u["last_login_at"] or "-")
    Console().print(table)


@users_app.command("add")
def add(username: str, role: list[str] = typer.Option(["user"], "--role", help="Repeat for several."),
        tenant: str = TenantOpt, email: str | None = typer.Option(None),
        password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                     envvar="ARIA_NEW_PASSWORD"),
        token: str | None = TokenOpt) -> None:
    """Create a user."""
    _show(gateway_call(token, "POST", "/v1/auth/users", json={
        "username": username, "password": password, "tenant": tenant, "email": email, "roles": role}))


@users_app.command("show")
def show(user: str, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """One user, as JSON."""
    typer.echo(json.dumps(gateway_call(token, "GET", f"/v1/auth/users/{_user_id(user, tenant, token)}"), indent=2))


@users_app.command("roles")
def roles(user: str, role: list[str] = typer.Argument(..., help="The new roles (replace the old)."),
          tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Replace a user's roles (sessions take them up at their next refresh)."""
    _patch(user, tenant, token, {"roles": role})


def _patch(user: str, tenant: str, token: str | None, body: dict[str, Any]) -> None:
    _show(gateway_call(token, "PATCH", f"/v1/auth/users/{_user_id(user, tenant, token)}", json=body))


@users_app.command("disable")
def disable(user: str, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Refuse the user's logins and end their sessions."""
    _patch(user, tenant, token, {"disabled": True})


@users_app.command("enable")
def enable(user: str, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Allow a disabled user to log in again."""
    _patch(user, tenant, token, {"disabled": False})


@users_app.command("unlock")
def unlock(user: str, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Lift a lockout after wrong passwords."""
    _patch(user, tenant, token, {"unlock": True})


@users_app.command("rm")
def rm(user: str, tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Delete a user and their sessions."""
    gateway_call(token, "DELETE", f"/v1/auth/users/{_user_id(user, tenant, token)}")
    typer.echo(f"{user}: deleted")


@clients_app.command("add")
def client_add(name: str, role: list[str] = typer.Option(["service"], "--role", help="Repeat for several."),
               tenant: str = TenantOpt, token: str | None = TokenOpt) -> None:
    """Create a machine client; prints its id and secret (shown only now) as JSON."""
    typer.echo(json.dumps(gateway_call(token, "POST", "/v1/auth/clients",
                                       json={"name": name, "roles": role, "tenant": tenant}), indent=2))


@clients_app.command("ls")
def client_ls(tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
              token: str | None = TokenOpt) -> None:
    """List machine clients."""
    table = Table("id", "tenant", "name", "roles", "state", "last used")
    for c in gateway_call(token, "GET", "/v1/auth/clients", params={"tenant": tenant} if tenant is not None else {}):
        table.add_row(c["id"], c["tenant"] or "-", c["name"], ",".join(c["roles"]),
                      "disabled" if c["disabled"] else "active", c["last_used_at"] or "-")
    Console().print(table)


@clients_app.command("rotate")
def client_rotate(client_id: str, token: str | None = TokenOpt) -> None:
    """Replace a client's secret (the old one stops working at once); prints the new one."""
    typer.echo(json.dumps(gateway_call(token, "POST", f"/v1/auth/clients/{client_id}/secret"), indent=2))


@clients_app.command("disable")
def client_disable(client_id: str, token: str | None = TokenOpt) -> None:
    """Refuse the client's token requests."""
    gateway_call(token, "PATCH", f"/v1/auth/clients/{client_id}", json={"disabled": True})
    typer.echo(f"{client_id}: disabled")


@clients_app.command("enable")
def client_enable(client_id: str, token: str | None = TokenOpt) -> None:
    """Accept the client's token requests again."""
    gateway_call(token, "PATCH", f"/v1/auth/clients/{client_id}", json={"disabled": False})
    typer.echo(f"{client_id}: enabled")


@clients_app.command("rm")
def client_rm(client_id: str, token: str | None = TokenOpt) -> None:
    """Delete a machine client."""
    gateway_call(token, "DELETE", f"/v1/auth/clients/{client_id}")
    typer.echo(f"{client_id}: deleted")
