"""``aria security ...``: secrets, keys and tokens through the running gateway.

Commands reach Aria over HTTP (``AriaSettings().gateway_url`` + ``/v1/security``) with the bearer
token in ``ARIA_TOKEN`` (or ``--token``); secrets routes need the ``admin`` role. Errors print one
red line and exit 1; bad usage exits 2.

    aria security put services/aria_storage/s3 access_key=AKIA secret_key=...
    aria security get services/aria_storage/s3 [--field secret_key] [--version 2]
    aria security ls services/aria_storage
    aria security rm services/aria_storage/s3
    aria security rotate jwt | <transit key>
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer

app = typer.Typer(help="Secrets, keys and tokens of aria_security (via the gateway).",
                  no_args_is_help=True)
TokenOpt = typer.Option(None, "--token", help="Bearer token (default: $ARIA_TOKEN).")


def _client(token: str | None) -> Any:
    import httpx

    from aria_actors.runtime.settings import load_settings

    bearer = token or os.environ.get("ARIA_TOKEN", "")
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.Client(base_url=load_settings().gateway_url, headers=headers, timeout=30)


def _fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _call(token: str | None, method: str, url: str, **kwargs: Any) -> Any:
    import httpx

    try:
        with _client(token) as client:
            r = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the gateway: {type(exc).__name__}: {exc}")
    if r.status_code >= 400:
        try:
            doc = r.json()
            _fail(f"{doc.get('title', r.status_code)}: {doc.get('detail', '')}")
        except ValueError:
            _fail(f"HTTP {r.status_code}")
    return r.json() if r.content else None


def _parse_pairs(pairs: list[str]) -> dict[str, str]:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="PAIRS")
        data[key] = value
    return data


@app.command()
def put(path: str, pairs: list[str] = typer.Argument(..., help="KEY=VALUE pairs"),
        cas: int | None = typer.Option(None, help="Write only if the current version is this."),
        token: str | None = TokenOpt) -> None:
    """Write a new version of the secret at PATH."""
    result = _call(token, "PUT", f"/v1/security/secrets/{path}",
                   json={"data": _parse_pairs(pairs), "cas": cas})
    typer.echo(f"{path}: version {result['version']}")


@app.command()
def get(path: str, field: str | None = typer.Option(None, help="Print only this field."),
        version: int | None = typer.Option(None, min=1), token: str | None = TokenOpt) -> None:
    """Print the secret at PATH (JSON), or one field of it."""
    params = {"version": version} if version else {}
    data = _call(token, "GET", f"/v1/security/secrets/{path}", params=params)["data"]
    if field is not None:
        if field not in data:
            _fail(f"{path} has no field {field!r} (fields: {', '.join(sorted(data))})")
        typer.echo(data[field])
    else:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))


@app.command("ls")
def ls(prefix: str = typer.Argument(""), token: str | None = TokenOpt) -> None:
    """List secret names under PREFIX."""
    for key in _call(token, "GET", "/v1/security/list", params={"prefix": prefix})["keys"]:
        typer.echo(key)


@app.command("rm")
def rm(path: str, token: str | None = TokenOpt) -> None:
    """Delete the latest version of PATH (undelete restores it)."""
    _call(token, "DELETE", f"/v1/security/secrets/{path}")
    typer.echo(f"{path}: deleted")


@app.command()
def rotate(key: str = typer.Argument(..., help="'jwt' or a transit key name"),
           token: str | None = TokenOpt) -> None:
    """Rotate the JWT signing key or a transit key (old versions keep working)."""
    result = _call(token, "POST", f"/v1/security/keys/{key}/rotate")
    typer.echo(f"{key}: now version {result['version']}")
