"""``aria security ...``: secrets, keys, tokens, RBAC, PKI, audit and OpenBao through the gateway.

Commands reach Aria over HTTP (``AriaSettings().gateway_url`` + ``/v1/security``) with the bearer
token in ``ARIA_TOKEN`` (or ``--token``); secrets, certificates and service tokens need the
``admin`` role, the audit trail, metrics and seal/unseal an ``operator`` or ``admin``. Errors print
one red line and exit 1; bad usage exits 2.

    aria security put services/aria_storage/s3 access_key=AKIA secret_key=...
    aria security get services/aria_storage/s3 [--field secret_key] [--version 2]
    aria security ls services/aria_storage
    aria security rm services/aria_storage/s3
    aria security rotate jwt | <transit key>
    aria security verify TOKEN | jwks
    aria security roles | authorize ACTION --subject S --role R [--tenant T] [--owner O]
    aria security cert COMMON_NAME [--alt-name N ...] [--ip A ...] [--ttl 72h] | revoke SERIAL | ca | crl
    aria security audit [--limit 50] [--op lockout] [--actor A] [--outcome denied]
    aria security metrics | seal | unseal
    aria security service-token aria_storage
"""

from __future__ import annotations

import json

import typer

from aria_actors.cli.support import TokenOpt, fail, gateway_call, sdk_call

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


@app.command()
def verify(jwt: str = typer.Argument(..., help="The token to check."), token: str | None = TokenOpt) -> None:
    """Verify an Aria token (signature, issuer, expiry) and print its claims."""
    claims = gateway_call(token, "POST", "/v1/security/tokens/verify", json={"token": jwt})["claims"]
    typer.echo(json.dumps(claims, indent=2, sort_keys=True))


@app.command()
def jwks() -> None:
    """Print the public keys that verify Aria tokens (what the gateway's bearer check uses)."""
    typer.echo(json.dumps(gateway_call(None, "GET", "/v1/security/jwks"), indent=2, sort_keys=True))


@app.command()
def roles(token: str | None = TokenOpt) -> None:
    """The role table RBAC decides with: each role and its permissions."""
    for role, perms in sorted(gateway_call(token, "GET", "/v1/security/roles").items()):
        typer.echo(f"{role}: {' '.join(perms) or '-'}")


@app.command()
def authorize(
    action: str = typer.Argument(..., help="service:resource:verb, e.g. storage:asset:write"),
    subject: str = typer.Option(..., "--subject", help="Whom to ask about."),
    role: list[str] = typer.Option([], "--role", help="Their roles (repeat)."),
    tenant: str | None = typer.Option(None, "--tenant", help="Their tenant."),
    owner: str | None = typer.Option(None, "--owner", help="The resource's owner (subject)."),
    resource_tenant: str | None = typer.Option(None, "--resource-tenant", help="The resource's tenant."),
    token: str | None = TokenOpt,
) -> None:
    """Would RBAC allow SUBJECT with ROLEs to do ACTION (on a resource of OWNER/RESOURCE_TENANT)?
    Exit 0 when allowed, 1 when not. Denials count toward the subject's lockout only when the
    subject is you (intrusion detection)."""
    principal = {"sub": subject, "roles": role, **({"tenant": tenant} if tenant is not None else {})}
    resource = {k: v for k, v in (("owner", owner), ("tenant", resource_tenant)) if v is not None}
    allowed = gateway_call(token, "POST", "/v1/security/authorize",
                           json={"principal": principal, "action": action, "resource": resource})["allowed"]
    typer.echo("allowed" if allowed else "denied")
    if not allowed:
        raise typer.Exit(1)


@app.command()
def cert(
    common_name: str,
    alt_name: list[str] = typer.Option([], "--alt-name", help="More DNS names (repeat)."),
    ip: list[str] = typer.Option([], "--ip", help="IP addresses (repeat)."),
    ttl: str = typer.Option("72h", "--ttl"),
    token: str | None = TokenOpt,
) -> None:
    """Issue a certificate from Aria's CA; prints JSON with the certificate, key, chain and serial."""
    body = {"common_name": common_name, "alt_names": alt_name, "ip_sans": ip, "ttl": ttl}
    typer.echo(json.dumps(gateway_call(token, "POST", "/v1/security/certificates", json=body), indent=2))


@app.command()
def revoke(serial: str, token: str | None = TokenOpt) -> None:
    """Revoke a certificate by its serial number (it joins the CRL)."""
    out = gateway_call(token, "DELETE", f"/v1/security/certificates/{serial}")
    typer.echo(f"{serial}: revoked" + (f" at {out['revocation_time']}" if out.get("revocation_time") else ""))


@app.command()
def ca(token: str | None = TokenOpt) -> None:
    """Print the CA's certificate (PEM)."""
    typer.echo(sdk_call(token, lambda aria: aria.security.ca_certificate()).decode(), nl=False)


@app.command()
def crl(token: str | None = TokenOpt) -> None:
    """Print the certificate revocation list (PEM)."""
    typer.echo(sdk_call(token, lambda aria: aria.security.crl()).decode(), nl=False)


@app.command()
def audit(
    limit: int = typer.Option(50, min=1, max=1000),
    op: str | None = typer.Option(None, "--op", help="Only this operation (lockout: intrusion alerts)."),
    actor: str | None = typer.Option(None, "--actor"),
    outcome: str | None = typer.Option(None, "--outcome", help="ok, denied, not_found, error:..."),
    token: str | None = TokenOpt,
) -> None:
    """The newest records of aria_security's audit trail first (JSON lines)."""
    for entry in sdk_call(token, lambda aria: aria.security.audit(limit, op=op, actor=actor, outcome=outcome)):
        typer.echo(json.dumps(entry, sort_keys=True))


@app.command()
def metrics(token: str | None = TokenOpt) -> None:
    """aria_security's Prometheus metrics (text)."""
    typer.echo(sdk_call(token, lambda aria: aria.security.metrics()).decode(), nl=False)


@app.command()
def seal(token: str | None = TokenOpt) -> None:
    """Emergency: seal OpenBao now. Every secret call fails until `aria security unseal`."""
    gateway_call(token, "POST", "/v1/security/seal")
    typer.echo("OpenBao sealed")


@app.command()
def unseal(token: str | None = TokenOpt) -> None:
    """Unseal the embedded OpenBao with the key SoftHSM holds."""
    gateway_call(token, "POST", "/v1/security/unseal")
    typer.echo("OpenBao unsealed")


@app.command("service-token")
def service_token(service: str = typer.Argument(..., help="e.g. aria_storage"), token: str | None = TokenOpt) -> None:
    """A short-lived OpenBao token limited to SERVICE's policy (its own paths and keys only), as JSON."""
    typer.echo(json.dumps(gateway_call(token, "POST", f"/v1/security/services/{service}/token"), indent=2))
