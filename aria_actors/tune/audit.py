"""aria_tune's changes in aria_security's audit log: recorded as aria_tune itself, the caller as the
event's subject. An ``ok`` event that cannot be recorded stops the change (503: not audited, not
done); a later ``error`` event is best effort."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aria_actors.runtime.errors import ServiceUnavailable, brief
from aria_actors.runtime.principal import Principal
from aria_actors.security.client import SecurityClient

ME = Principal.internal("aria_tune")
Hook = Callable[[dict[str, Any]], Awaitable[Any]]


def printable(text: str, size: int) -> str:
    """``text`` with control characters as ``?``, at most ``size`` characters (it is logged)."""
    return "".join(c if c.isprintable() else "?" for c in text)[:size]


async def record_event(deps: Any, hook: Hook | None, caller: Principal, op: str, target: str, *,
                       outcome: str = "ok", refused: str = "nothing was changed") -> None:
    """Record ``op`` on ``target`` (through ``hook`` where a test set one); ``refused`` opens the
    503's message when an ``ok`` event cannot be recorded."""
    event = {"op": op, "target": printable(target, 300), "outcome": outcome, "subject": printable(caller.subject, 120)}
    try:
        if hook is not None:
            await hook(event)
        else:
            await deps.of(SecurityClient).record_events(ME, [event])
    except Exception as exc:
        if outcome != "ok":
            return  # a later error event is best effort
        raise ServiceUnavailable(f"{refused}: aria_security did not audit it ({brief(exc)})",
                                 service="aria_security") from None
