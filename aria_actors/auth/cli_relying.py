"""``aria auth sso ...``: logins through outside OpenID providers, via the running gateway.

    aria auth sso providers                 the providers one may log in through
    aria auth sso login PROVIDER            prints the URL to open in a browser
    aria auth sso links                     your links to outside identities (ARIA_TOKEN: your session)
    aria auth sso unlink LINK_ID            remove one of them
    aria auth sso user-links USER_ID        a user's links (administrators)

Errors print one red line and exit 1.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, fail, gateway_call
from aria_actors.runtime.settings import load_settings

app = typer.Typer(help="Log in through outside OpenID providers (single sign-on).", no_args_is_help=True)


@app.command("providers")
def providers() -> None:
    """The outside OpenID providers one may log in through."""
    for name in gateway_call(None, "GET", "/v1/auth/sso/providers"):
        typer.echo(name)


@app.command("login")
def login(provider: str) -> None:
    """Print the URL that logs in through PROVIDER (open it in a browser; the answer holds the tokens)."""
    names = gateway_call(None, "GET", "/v1/auth/sso/providers")
    if provider not in names:
        fail(f"no provider {provider!r}; configured: {', '.join(names) or 'none'}")
    typer.echo(f"{load_settings().gateway_url.rstrip('/')}/v1/auth/sso/{provider}/login")


def _table(links: list[dict[str, Any]]) -> None:
    table = Table("id", "provider", "subject", "email", "last login")
    for link in links:
        table.add_row(link["id"], link["provider"], link["subject"], link["email"] or "-",
                      link["last_login_at"] or "-")
    Console().print(table)


@app.command("links")
def links(token: str | None = TokenOpt) -> None:
    """Your links to outside identities (needs your session's token)."""
    _table(gateway_call(token, "GET", "/v1/auth/sso/links"))


@app.command("unlink")
def unlink(link_id: str, token: str | None = TokenOpt) -> None:
    """Remove a link (yours, or any user's as an administrator)."""
    gateway_call(token, "DELETE", f"/v1/auth/sso/links/{link_id}")
    typer.echo(f"{link_id}: unlinked")


@app.command("user-links")
def user_links(user_id: str, token: str | None = TokenOpt) -> None:
    """A user's links to outside identities (administrators)."""
    _table(gateway_call(token, "GET", f"/v1/auth/users/{user_id}/sso/links"))
