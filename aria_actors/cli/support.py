"""What every ``aria <service> ...`` command group shares: the token option, errors, gateway calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.settings import load_settings

if TYPE_CHECKING:
    from aria_actors.sdk import AriaClient

T = TypeVar("T")
TokenOpt = typer.Option(None, "--token", help="Bearer token (default: $ARIA_TOKEN).")


def key_values(pairs: list[str], what: str) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict, each value read as JSON where it is (``3``, ``true``,
    ``[1, 2]``), else kept as text; a pair without ``=`` is the option ``what``'s bad parameter."""
    got: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=what)
        try:
            got[key] = json.loads(value)
        except ValueError:
            got[key] = value
    return got


def print_error(message: str) -> None:
    """One red line on stderr. Escaped: messages name settings as ``[storage] key`` and carry
    request text, which rich would read as markup."""
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One red line on stderr, then exit ``code`` (1 for errors, 2 for bad usage)."""
    print_error(message)
    raise typer.Exit(code)


def make_client(token: str | None, timeout: float) -> AriaClient:
    """The SDK client commands use (tests replace this to talk to an in-process app)."""
    # light: every `aria` command imports this module; the SDK (httpx) loads for a gateway call
    from aria_actors.sdk import AriaClient

    return AriaClient(load_settings().gateway_url, timeout=timeout, token=token)


def sdk_call(token: str | None, use: Callable[[AriaClient], T], *, timeout: float = 30.0) -> T:
    """``use(client)`` with an SDK client of the gateway (``lambda aria: aria.queue.health()``, for
    a route whose answer is bytes or text); an Aria error (problem+json, unreachable) ends the command."""
    try:
        with make_client(token, timeout) as client:
            return use(client)
    except AriaError as exc:
        title = getattr(exc, "remote_title", None)
        fail(f"{title}: {exc.message}" if title else exc.message, 2 if exc.type == "config" else 1)


def gateway_call(token: str | None, method: str, path: str, *, timeout: float = 30.0, **kwargs: Any) -> Any:
    """Call a gateway route with the SDK; an Aria error (problem+json, unreachable) ends the command."""
    return sdk_call(token, lambda client: client.request(method, path, **kwargs), timeout=timeout)
