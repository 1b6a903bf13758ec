"""How a service's section of the SDK is written once and served sync and async.

A section method describes one gateway route and returns a :class:`Req`::

    class EngineAPI(Section):
        @route("GET", "/v1/engine/domains")
        def list_domains(self) -> list[dict[str, Any]]:
            return Req()

``AriaClient(...).engine.list_domains()`` sends it and returns the decoded body;
``AsyncAriaClient(...).engine.list_domains()`` returns an awaitable of the same. Path parameters
are filled from ``Req(path={...})`` and quoted; problems come back as the same AriaError classes
the services raise. ``routes_of(section)`` lists the ``(method, path)`` pairs a section covers
(tests/unit/sdk compares them with the gateway's routes).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Req:
    """What to send: path parameters, query, JSON or raw body, headers; ``raw`` returns the body's bytes."""

    path: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | Iterable[bytes] | None = None
    data: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    auth: tuple[str, str] | None = None
    raw: bool = False
    accept: tuple[int, ...] = ()  # error statuses whose body is the answer (a health route's 503)


def route(method: str, path: str) -> Callable[[F], F]:
    """Mark a section method as the SDK's way to ``method path``."""

    def mark(fn: F) -> F:
        @functools.wraps(fn)
        def send(self: Section, *args: Any, **kwargs: Any) -> Any:
            req = fn(self, *args, **kwargs)
            return self._send(method, _fill(path, req.path), req)

        send.__aria_route__ = (method, path)  # type: ignore[attr-defined]
        return send  # type: ignore[return-value]

    return mark


def _quote(value: Any, safe: str) -> str:
    # "." and ".." segments are quoted too: httpx would otherwise remove them (RFC 3986 dot
    # segments) and send the request to another resource than the one named.
    quoted = quote(str(value), safe=safe)
    return "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in quoted.split("/"))


def _fill(template: str, values: dict[str, Any]) -> str:
    out = template
    for key, value in values.items():
        safe = "/" if f"{{{key}:path}}" in out else ""
        out = out.replace(f"{{{key}:path}}", _quote(value, safe)).replace(f"{{{key}}}", _quote(value, safe))
    if "{" in out:
        raise TypeError(f"path parameters missing for {template}: {out}")
    return out


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None} or None


class Section:
    """One service's routes; bound to a client's ``_send`` (sync or async)."""

    def __init__(self, send: Callable[[str, str, Req], Any]) -> None:
        self._sender = send

    def _send(self, method: str, path: str, req: Req) -> Any:
        return self._sender(method, path, req)


def routes_of(section: type[Section]) -> set[tuple[str, str]]:
    return {fn.__aria_route__ for _, fn in inspect.getmembers(section, inspect.isfunction)
            if hasattr(fn, "__aria_route__")}


def request_kwargs(req: Req) -> dict[str, Any]:
    kw: dict[str, Any] = {"params": _clean(req.params)}
    for name in ("json", "content", "data", "headers", "auth"):
        value = getattr(req, name)
        if value is not None:
            kw[name] = value
    return kw
