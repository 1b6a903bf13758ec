"""``aria auth grants ...`` commands of aria_auth's grants part (added to :mod:`aria_actors.auth.cli`).

    aria auth grants register KIND ID [--owner USER_ID] [--tenant T]
    aria auth grants show KIND ID | unregister KIND ID
    aria auth grants ls KIND ID [--after GRANT_ID] [--limit N]
    aria auth grants add KIND ID SUBJECT RELATION [--deny]     SUBJECT: user:<id>, group:<id>, tenant:<name>
    aria auth grants rm KIND ID GRANT_ID
    aria auth grants may ACTION KIND ID [--subject USER_ID] [--explain]   exits 0 allowed, 3 denied
    aria auth grants groups add NAME [--tenant T] | ls | rm GROUP_ID
    aria auth grants groups members GROUP_ID | join GROUP_ID USER_ID | leave GROUP_ID USER_ID

Guarantees and caveats
----------------------
- Every command goes through the gateway with the caller's token (``ARIA_TOKEN`` or ``aria
  token``); who may do what is the service's decision. Errors print one red line and exit 1.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, gateway_call

app = typer.Typer(help="Per-resource grants and access decisions.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups of users (grant to a group: group:<id>).", no_args_is_help=True)
app.add_typer(groups_app, name="groups")
DENIED_EXIT = 3


def _echo(out: Any) -> None:
    typer.echo(json.dumps(out, indent=2))


@app.command("register")
def register(kind: str, resource_id: str, owner: str | None = typer.Option(None, help="Owner's user id."),
             tenant: str | None = typer.Option(None, help="Default: the owner's tenant."),
             token: str | None = TokenOpt) -> None:
    """Register a resource for its owner (administrators: auth:grant:write@any) so that it can be shared."""
    _echo(gateway_call(token, "POST", "/v1/auth/resources",
                       json={"kind": kind, "id": resource_id, "owner": owner, "tenant": tenant}))


@app.command("show")
def show(kind: str, resource_id: str, token: str | None = TokenOpt) -> None:
    """One registered resource, as JSON."""
    _echo(gateway_call(token, "GET", f"/v1/auth/resources/{kind}/{resource_id}"))


@app.command("unregister")
def unregister(kind: str, resource_id: str, token: str | None = TokenOpt) -> None:
    """Forget a resource and all its grants."""
    gateway_call(token, "DELETE", f"/v1/auth/resources/{kind}/{resource_id}")
    typer.echo(f"{kind}:{resource_id}: unregistered")


@app.command("ls")
def ls(kind: str, resource_id: str, after: str = typer.Option("", help="Last grant id of the previous page."),
       limit: int = typer.Option(100, min=1, max=1000), token: str | None = TokenOpt) -> None:
    """A page of a resource's grants."""
    table = Table("id", "subject", "relation", "effect", "by", "at")
    for g in gateway_call(token, "GET", f"/v1/auth/resources/{kind}/{resource_id}/grants",
                          params={"after": after, "limit": limit}):
        table.add_row(g["id"], g["subject"], g["relation"], g["effect"], g["created_by"], g["created_at"])
    Console().print(table)


@app.command("add")
def add(kind: str, resource_id: str, subject: str, relation: str,
        deny: bool = typer.Option(False, "--deny", help="Deny the relation's verbs instead."),
        token: str | None = TokenOpt) -> None:
    """Share a resource: SUBJECT (user:<id>, group:<id>, tenant:<name>) gets RELATION (viewer, editor, owner)."""
    _echo(gateway_call(token, "POST", f"/v1/auth/resources/{kind}/{resource_id}/grants",
                       json={"subject": subject, "relation": relation, "effect": "deny" if deny else "allow"}))


@app.command("rm")
def rm(kind: str, resource_id: str, grant_id: str, token: str | None = TokenOpt) -> None:
    """Revoke a grant."""
    gateway_call(token, "DELETE", f"/v1/auth/resources/{kind}/{resource_id}/grants/{grant_id}")
    typer.echo(f"{grant_id}: revoked")


@app.command("may")
def may(action: str, kind: str, resource_id: str,
        subject: str | None = typer.Option(None, help="A user id (default: you; others need auth:grant:read)."),
        explain: bool = typer.Option(False, "--explain", help="Every matching rule, roles and subjects looked at."),
        token: str | None = TokenOpt) -> None:
    """May SUBJECT do ACTION on KIND ID? Prints the decision and why; exits 0 if allowed, 3 if denied."""
    body = {"action": action, "kind": kind, "resource_id": resource_id, "subject": subject}
    if explain:
        out = gateway_call(token, "POST", "/v1/auth/decisions/explain", json=body)
    else:
        out = gateway_call(token, "POST", "/v1/auth/decisions", json=body)
    _echo(out)
    if not out["allowed"]:
        raise typer.Exit(DENIED_EXIT)


@groups_app.command("add")
def group_add(name: str, tenant: str | None = typer.Option(None, help="Default: yours."),
              token: str | None = TokenOpt) -> None:
    """Create a group."""
    _echo(gateway_call(token, "POST", "/v1/auth/groups", json={"name": name, "tenant": tenant}))


@groups_app.command("ls")
def group_ls(tenant: str | None = typer.Option(None, help="Only this tenant."),
             after: str = typer.Option("", help="Last group id of the previous page."),
             limit: int = typer.Option(100, min=1, max=1000), token: str | None = TokenOpt) -> None:
    """A page of groups."""
    params: dict[str, Any] = {"after": after, "limit": limit}
    if tenant is not None:
        params["tenant"] = tenant
    table = Table("id", "tenant", "name", "members")
    for g in gateway_call(token, "GET", "/v1/auth/groups", params=params):
        table.add_row(g["id"], g["tenant"] or "-", g["name"], str(g.get("members", "")))
    Console().print(table)


@groups_app.command("rm")
def group_rm(group_id: str, token: str | None = TokenOpt) -> None:
    """Delete a group and its grants."""
    gateway_call(token, "DELETE", f"/v1/auth/groups/{group_id}")
    typer.echo(f"{group_id}: deleted")


@groups_app.command("members")
def group_members(group_id: str, after: str = typer.Option("", help="Last user id of the previous page."),
                  limit: int = typer.Option(100, min=1, max=1000), token: str | None = TokenOpt) -> None:
    """A page of a group's members."""
    table = Table("id", "username", "tenant", "added")
    for m in gateway_call(token, "GET", f"/v1/auth/groups/{group_id}/members", params={"after": after, "limit": limit}):
        table.add_row(m["id"], m["username"], m["tenant"] or "-", m["added_at"])
    Console().print(table)


@groups_app.command("join")
def group_join(group_id: str, user_id: str, token: str | None = TokenOpt) -> None:
    """Add a user to a group."""
    gateway_call(token, "PUT", f"/v1/auth/groups/{group_id}/members/{user_id}")
    typer.echo(f"{user_id}: in {group_id}")


@groups_app.command("leave")
def group_leave(group_id: str, user_id: str, token: str | None = TokenOpt) -> None:
    """Take a user out of a group."""
    gateway_call(token, "DELETE", f"/v1/auth/groups/{group_id}/members/{user_id}")
    typer.echo(f"{user_id}: out of {group_id}")
