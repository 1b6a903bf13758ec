"""``aria interface ...``: the real-time channel and the API documentation, through the running gateway.

Commands reach Aria over HTTP (the SDK's ``aria.interface`` section) and its WebSocket channel with
the bearer token in ``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad
usage exits 2.

    aria interface topics                          what the channel serves (shapes) and its protocol
    aria interface ui                              the web UI's views and the routes and topics each uses
    aria interface limits                          your rate limits and what is left of each window
    aria interface docs [SERVICE] [--permissions]  the docs index, one service's OpenAPI, or the role table
    aria interface watch TOPIC [--count N] [--timeout S]
                                                   the channel's frames for TOPIC, one JSON object a line

Guarantees and caveats
----------------------
- ``watch`` prints every frame it receives (the ``subscribed`` frame with its snapshot, events,
  ``lagged`` notices) as one JSON line each, flushed, so it can feed ``jq``; it exits 0 after
  ``--count`` events or ``--timeout`` seconds, and 1 when the subscription is refused or ends
  (an error frame) or the connection is closed by the gateway.
- ``watch presence:character:<id>`` makes the command present on the character (others see its
  user's name) until it exits, saying ``here`` again every 20 s; each ``presence`` frame counts
  as an event for ``--count``.
- The token travels in the ``Authorization`` header of the handshake, never in the URL.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, sdk_call
from aria_actors.interface.presence import HEARTBEAT_S, PREFIX
from aria_actors.runtime.settings import load_settings

app = typer.Typer(help="aria_interface: the real-time WebSocket channel and the API docs (via the gateway).",
                  no_args_is_help=True)
out = Console()
WATCH_ID = "aria-cli-watch"


def _print(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


def ws_base(http_url: str) -> str:
    """The gateway's WebSocket base URL for its HTTP one (``http`` -> ``ws``, ``https`` -> ``wss``)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://").rstrip("/")
    return "ws://" + http_url.removeprefix("http://").rstrip("/")


@app.command()
def topics(token: str | None = TokenOpt) -> None:
    """The topics the WebSocket channel serves, with their event and snapshot shapes, and its protocol."""
    _print(sdk_call(token, lambda aria: aria.interface.topics()))


@app.command()
def ui(token: str | None = TokenOpt) -> None:
    """The web UI's manifest: its page, its views, and the REST routes and live topics each view uses."""
    manifest = sdk_call(token, lambda aria: aria.interface.ui())
    out.print(f"page {manifest['page']}  features: {', '.join(manifest['features'])}", highlight=False)
    for view in [{"hash": "(every view)", "title": "the shell", **manifest["shell"]}, *manifest["views"]]:
        out.print(f"{view['hash']}  {view['title']}", highlight=False)
        for route in view["rest"]:
            out.print(f"    {route}", highlight=False)
        for topic in view["topics"]:
            out.print(f"    WS {topic}", highlight=False)


@app.command()
def limits(as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON."),
           token: str | None = TokenOpt) -> None:
    """Your rate limits in force at the gateway, and per route you used what is left of its window."""
    budget = sdk_call(token, lambda aria: aria.interface.limits())
    if as_json:
        _print(budget)
        return
    if not budget.get("enabled", True):
        out.print("rate limits are off on this gateway", highlight=False)
        return
    if not budget.get("limited"):
        out.print(f"{budget['subject']}: not rate limited (an exempt role)", highlight=False)
        return
    default = budget["default"]
    out.print(f"{budget['subject']}: {default['limit']} requests per {default['window_s']:g} s per route "
              f"(x{budget['multiplier']:g})", highlight=False)
    for row in budget["routes"]:
        out.print(f"  {row['route']}  {row['remaining']}/{row['limit']} left, window resets in {row['reset_s']} s",
                  highlight=False)


@app.command()
def docs(service: str | None = typer.Argument(None, help="A service (aria_workflow or workflow): its OpenAPI."),
         permissions: bool = typer.Option(False, "--permissions", help="Print the role/permission table only."),
         token: str | None = TokenOpt) -> None:
    """The API documentation: every service's OpenAPI (an index), one service's, or the role table."""
    if service is not None:
        _print(sdk_call(token, lambda aria: aria.interface.openapi(service)))
        return
    index = sdk_call(token, lambda aria: aria.interface.docs())
    if permissions:
        roles = index["permissions"]["roles"]
        for row in index["permissions"]["doors"]:
            allowed = ",".join(r for r in roles if row["roles"].get(r)) or "-"
            out.print(f"{row['door']}  {row['permission']}  {allowed}", highlight=False, soft_wrap=True)
        return
    for s in index["services"]:
        out.print(f"{s['service']}  {s['operations']} operations  {s['openapi']}", highlight=False)
    out.print(f"websocket  {index['websocket']['url']}  (aria interface topics)", highlight=False)


@app.command()
def watch(topic: str = typer.Argument(..., help="services, workflow:<run_id>, job:<id>, character:<id>, or "
                                               "presence:character:<id> (be present, and see who else is)."),
          count: int | None = typer.Option(None, "--count", "-n", min=1, help="Exit after this many events."),
          timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="Exit after this many seconds."),
          token: str | None = TokenOpt) -> None:
    """Subscribe to TOPIC on the real-time channel and print each frame as a JSON line (a presence topic:
    be present on it until the command ends, and print who is there whenever that changes)."""
    # light CLI start: the websockets client loads only for this command
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    presence = topic.startswith(PREFIX)
    token = token or os.environ.get("ARIA_TOKEN")
    if not token:
        fail("no token: set ARIA_TOKEN (`aria token` prints one) or pass --token", 2)
    base = ws_base(load_settings().gateway_url)
    deadline = None if timeout is None else time.monotonic() + timeout
    events = 0
    try:
        with connect(f"{base}/v1/interface/ws", additional_headers={"Authorization": f"Bearer {token}"},
                     open_timeout=10, max_size=2**24) as ws:
            # a presence topic is joined ("here", repeated as a heartbeat), any other subscribed
            op = "here" if presence else "subscribe"
            ws.send(json.dumps({"op": op, "topic": topic, "id": WATCH_ID}))
            beat = time.monotonic() + HEARTBEAT_S
            while count is None or events < count:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                wait = left
                if presence:
                    to_beat = max(0.0, beat - time.monotonic())
                    wait = to_beat if left is None else min(left, to_beat)
                try:
                    raw = ws.recv(timeout=wait)
                except TimeoutError:
                    if not presence or (deadline is not None and time.monotonic() >= deadline):
                        return
                    ws.send(json.dumps({"op": "here", "topic": topic}))  # the heartbeat
                    beat = time.monotonic() + HEARTBEAT_S
                    continue
                frame = json.loads(raw)
                sys.stdout.write(json.dumps(frame, default=str) + "\n")
                sys.stdout.flush()
                if frame.get("type") == "error" and (frame.get("id") == WATCH_ID or frame.get("ended")):
                    fail(f"{frame.get('title', 'error')}: {frame.get('detail', '')}")
                events += frame.get("type") in ("event", "presence")
    except InvalidStatus as exc:
        fail(f"the gateway refused the connection (HTTP {exc.response.status_code}): check the token "
             "(`aria token`)")
    except ConnectionClosed as exc:
        received = exc.rcvd
        why = f"{received.code} {received.reason}" if received is not None else "no close frame"
        fail(f"the connection was closed: {why}")
    except (OSError, InvalidHandshake) as exc:
        fail(f"cannot reach Aria's channel at {base}: {exc}")
