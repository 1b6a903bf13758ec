"""``aria auth peers ...``: WebRTC rooms, peer grants and TURN credentials of aria_auth (via the gateway).

    aria auth peers rooms                       the rooms you are a member of
    aria auth peers create NAME                 a room (you are its first member)
    aria auth peers show ROOM                   a room and its members
    aria auth peers delete ROOM
    aria auth peers add ROOM USER_ID [--rights publish,subscribe,data]
    aria auth peers remove ROOM USER_ID
    aria auth peers grant ROOM [--rights ...]   a short-lived grant to join ROOM on the channel
    aria auth peers verify ROOM GRANT           check a grant (as its peer)
    aria auth peers turn [--ttl S]              TURN REST credentials (JSON)
    aria auth peers turn-secrets                coturn's static-auth-secret lines (administrators)
    aria auth peers rotate                      rotate the TURN secret and the grant key (administrators)

Guarantees and caveats
----------------------
- Everything is printed as JSON; the token comes from ``ARIA_TOKEN`` or ``--token`` (a user's
  session token for rooms, grants and TURN credentials: ``aria auth login``).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from aria_actors.cli.support import TokenOpt, gateway_call

app = typer.Typer(help="WebRTC rooms, peer grants and TURN REST credentials.", no_args_is_help=True)
RightsOpt = typer.Option(None, "--rights", help="Comma-separated: publish, subscribe, data.")


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _rights(text: str | None) -> list[str] | None:
    return None if text is None else [r.strip() for r in text.split(",") if r.strip()]


@app.command("rooms")
def rooms(token: str | None = TokenOpt) -> None:
    """The WebRTC rooms you are a member of."""
    _print(gateway_call(token, "GET", "/v1/auth/peers/rooms"))


@app.command("create")
def create(name: str, token: str | None = TokenOpt) -> None:
    """Create a room; you are its first member, with every right."""
    _print(gateway_call(token, "POST", "/v1/auth/peers/rooms", json={"name": name}))


@app.command("show")
def show(room: str, token: str | None = TokenOpt) -> None:
    """A room and its members."""
    _print(gateway_call(token, "GET", f"/v1/auth/peers/rooms/{room}"))


@app.command("delete")
def delete(room: str, token: str | None = TokenOpt) -> None:
    """Delete a room (its creator or a moderator)."""
    gateway_call(token, "DELETE", f"/v1/auth/peers/rooms/{room}")
    typer.echo(f"deleted room {room}")


@app.command("add")
def add(room: str, user_id: str, rights: str | None = RightsOpt, token: str | None = TokenOpt) -> None:
    """Let a user of the room's tenant join (or change its rights)."""
    body = {} if rights is None else {"rights": _rights(rights)}
    _print(gateway_call(token, "PUT", f"/v1/auth/peers/rooms/{room}/members/{user_id}", json=body))


@app.command("remove")
def remove(room: str, user_id: str, token: str | None = TokenOpt) -> None:
    """Remove a member of a room."""
    gateway_call(token, "DELETE", f"/v1/auth/peers/rooms/{room}/members/{user_id}")
    typer.echo(f"removed {user_id} from room {room}")


@app.command("grant")
def grant(room: str, rights: str | None = RightsOpt, token: str | None = TokenOpt) -> None:
    """A short-lived grant to join ROOM on the WebSocket channel ({"op": "join", "room", "grant"})."""
    _print(gateway_call(token, "POST", "/v1/auth/peers/grants", json={"room": room, "rights": _rights(rights)}))


@app.command("verify")
def verify(room: str, grant: str, token: str | None = TokenOpt) -> None:
    """Check a grant for ROOM (only the peer it names may)."""
    _print(gateway_call(token, "POST", "/v1/auth/peers/grants/verify", json={"room": room, "grant": grant}))


@app.command("turn")
def turn(ttl: int | None = typer.Option(None, "--ttl", min=60, max=86400, help="Lifetime in seconds."),
         token: str | None = TokenOpt) -> None:
    """TURN REST credentials: username, password, ttl, uris."""
    _print(gateway_call(token, "GET", "/v1/auth/peers/turn", params={} if ttl is None else {"ttl": ttl}))


@app.command("turn-secrets")
def turn_secrets(token: str | None = TokenOpt) -> None:
    """The TURN shared secrets (current, previous): coturn's two static-auth-secret lines."""
    out = gateway_call(token, "GET", "/v1/auth/peers/turn/secrets")
    _print(out)
    for secret in (out["current"], out.get("previous")):
        if secret:
            typer.echo(f"static-auth-secret={secret}", err=True)


@app.command("rotate")
def rotate(token: str | None = TokenOpt) -> None:
    """Rotate the TURN secret and the grant key now (the previous ones stay valid until the next rotation)."""
    _print(gateway_call(token, "POST", "/v1/auth/peers/rotate"))
