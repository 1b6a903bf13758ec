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

import typer

from aria_actors.cli.support import TokenOpt, fail, gateway_call

app = typer.Typer(help="Secrets, keys and tokens of aria_security (via the gateway).", no_args_is_help=True)


def _parse_pairs(pairs: list[str]) -> dict[str, str]:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="PAIRS")
        data[key] = value
    return data


@app.command()
def put(
    path: str,
    pairs: list[str] = typer.Argument(..., help="KEY=VALUE pairs"),
    cas: int | None = typer.Option(None, help="Write only if the current version is this."),
    token: str | None = TokenOpt,
) -> None:
    """Write a new version of the secret at PATH."""
    result = gateway_call(token, "PUT", f"/v1/security/secrets/{path}", json={"data": _parse_pairs(pairs), "cas": cas})
    typer.echo(f"{path}: version {result['version']}")


@app.command()
def get(
    path: str,
    field: str | None = typer.Option(None, help="Print only this field."),
    version: int | None = typer.Option(None, min=1),
    token: str | None = TokenOpt,
) -> None:
    """Print the secret at PATH (JSON), or one field of it."""
    params = {"version": version} if version else {}
    data = gateway_call(token, "GET", f"/v1/security/secrets/{path}", params=params)["data"]
    if field is not None:
        if field not in data:
            fail(f"{path} has no field {field!r} (fields: {', '.join(sorted(data))})")
        typer.echo(data[field])
    else:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))


@app.command("ls")
def ls(prefix: str = typer.Argument(""), token: str | None = TokenOpt) -> None:
    """List secret names under PREFIX."""
    for key in gateway_call(token, "GET", "/v1/security/list", params={"prefix": prefix})["keys"]:
        typer.echo(key)


@app.command("rm")
def rm(path: str, token: str | None = TokenOpt) -> None:
    """Delete the latest version of PATH (undelete restores it)."""
    gateway_call(token, "DELETE", f"/v1/security/secrets/{path}")
    typer.echo(f"{path}: deleted")


@app.command()
def rotate(key: str = typer.Argument(..., help="'jwt' or a transit key name"), token: str | None = TokenOpt) -> None:
    """Rotate the JWT signing key or a transit key (old versions keep working)."""
    result = gateway_call(token, "POST", f"/v1/security/keys/{key}/rotate")
    typer.echo(f"{key}: now version {result['version']}")
