"""``aria auth oidc ...`` commands of aria_auth's OpenID provider part (added to :mod:`aria_actors.auth.cli`).

::

    aria auth oidc discovery                       the provider's metadata (issuer, endpoints)
    aria auth oidc jwks                            the keys that verify its ID tokens
    aria auth oidc clients add NAME --redirect-uri URI [--post-logout-uri URI] [--scope S]
                                    [--public] [--trusted] [--tenant T]
    aria auth oidc clients ls [--tenant T]
    aria auth oidc clients rm CLIENT_ID

Guarantees and caveats
----------------------
- Everything goes through the gateway with the caller's token (``--token`` or ``$ARIA_TOKEN``);
  registering, listing and removing clients need ``auth:oidc-client:*`` (administrators).
- ``clients add`` prints the client secret of a confidential client once; it is not shown again.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, gateway_call

app = typer.Typer(help="Aria as an OpenID Connect provider.", no_args_is_help=True)
clients_app = typer.Typer(help="Relying parties (OpenID clients) registered with Aria.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@app.command("discovery")
def discovery() -> None:
    """The provider's OpenID metadata (issuer, endpoints, what it supports) as JSON."""
    typer.echo(json.dumps(gateway_call(None, "GET", "/v1/auth/oidc/.well-known/openid-configuration"), indent=2))


@app.command("jwks")
def jwks() -> None:
    """The public keys (JWKS) that verify the provider's ID tokens."""
    typer.echo(json.dumps(gateway_call(None, "GET", "/v1/auth/oidc/jwks"), indent=2))


@clients_app.command("add")
def add(name: str,
        redirect_uri: list[str] = typer.Option(..., "--redirect-uri", help="Exact redirect URI; repeat for several."),
        post_logout_uri: list[str] = typer.Option([], "--post-logout-uri", help="Exact post-logout redirect URI."),
        scope: list[str] = typer.Option(["openid", "profile", "email"], "--scope", help="Allowed scopes."),
        public: bool = typer.Option(False, "--public", help="No secret (a SPA or native app; PKCE only)."),
        trusted: bool = typer.Option(False, "--trusted", help="First-party: no consent page."),
        tenant: str = typer.Option("", "--tenant", help="The tenant whose users log in through it."),
        token: str | None = TokenOpt) -> None:
    """Register an OpenID client; prints its client_id (and client_secret, shown only now) as JSON."""
    typer.echo(json.dumps(gateway_call(token, "POST", "/v1/auth/oidc/clients", json={
        "name": name, "redirect_uris": redirect_uri, "post_logout_redirect_uris": post_logout_uri,
        "scopes": scope, "public": public, "trusted": trusted, "tenant": tenant}), indent=2))


@clients_app.command("ls")
def ls(tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
       token: str | None = TokenOpt) -> None:
    """List the registered OpenID clients."""
    table = Table("client_id", "tenant", "name", "type", "trusted", "redirect URIs")
    for c in gateway_call(token, "GET", "/v1/auth/oidc/clients",
                          params={"tenant": tenant} if tenant is not None else {}):
        table.add_row(c["client_id"], c["tenant"] or "-", c["name"], c["type"], "yes" if c["trusted"] else "no",
                      " ".join(c["redirect_uris"]))
    Console().print(table)


@clients_app.command("rm")
def rm(client_id: str, token: str | None = TokenOpt) -> None:
    """Remove an OpenID client (its pending codes go with it)."""
    gateway_call(token, "DELETE", f"/v1/auth/oidc/clients/{client_id}")
    typer.echo(f"{client_id}: removed")
